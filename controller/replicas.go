package controller

import (
	"context"
	"crypto/tls"
	"fmt"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/tmmapi"
)

// PodIndexLabel is the label the StatefulSet controller puts on each pod
// with its ordinal (Kubernetes ≥ 1.28).
const PodIndexLabel = "apps.kubernetes.io/pod-index"

// tmmPod is a TMM pod the controller can push to.
type tmmPod struct {
	index    int
	name     string // namespace/name
	uid      types.UID
	restarts int32
	addr     string // podIP:port
}

// tmmPods picks, for each replica index, the TMM pod that serves it: pods
// the TMM StatefulSet owns (its controller reference, by name and UID),
// with an IP, not being deleted, not finished. The index is the
// StatefulSet ordinal (label, else the name's "-N" suffix); the replica
// count is the StatefulSet's spec, so a missing pod shows as a replica that
// does not confirm, and a pod that merely carries the TMM labels — anyone
// in the namespace can make one — is never pushed to nor counted.
func tmmPods(pods []corev1.Pod, sts *appsv1.StatefulSet, port int) (byIndex map[int]tmmPod, replicas int, skipped []string) {
	byIndex = map[int]tmmPod{}
	if sts == nil {
		for i := range pods {
			skipped = append(skipped, fmt.Sprintf("pod %s/%s: the TMM StatefulSet does not exist, so no pod is a TMM", pods[i].Namespace, pods[i].Name))
		}
		return byIndex, 0, skipped
	}
	replicas = 1
	if sts.Spec.Replicas != nil {
		replicas = int(*sts.Spec.Replicas)
	}
	for i := range pods {
		p := &pods[i]
		name := p.Namespace + "/" + p.Name
		if !ownedBy(p, sts) {
			skipped = append(skipped, fmt.Sprintf("pod %s is not owned by StatefulSet %s/%s: not a TMM, ignored", name, sts.Namespace, sts.Name))
			continue
		}
		idx, ok := podIndex(p)
		if !ok {
			skipped = append(skipped, fmt.Sprintf("pod %s has no %s label and no -N name suffix", name, PodIndexLabel))
			continue
		}
		if idx >= replicas {
			skipped = append(skipped, fmt.Sprintf("pod %s is ordinal %d but StatefulSet %s has %d replicas", name, idx, sts.Name, replicas))
			continue
		}
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.Status.PodIP == "" {
			continue
		}
		var restarts int32
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
		byIndex[idx] = tmmPod{
			index: idx, name: name, uid: p.UID, restarts: restarts,
			addr: net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)),
		}
	}
	return byIndex, replicas, skipped
}

// ownedBy reports whether the StatefulSet is the pod's controller (by
// name and UID: a StatefulSet deleted and made again is another owner).
func ownedBy(p *corev1.Pod, sts *appsv1.StatefulSet) bool {
	owner := metav1.GetControllerOf(p)
	return owner != nil && owner.Kind == "StatefulSet" && owner.Name == sts.Name && owner.UID == sts.UID
}

func podIndex(p *corev1.Pod) (int, bool) {
	s, ok := p.Labels[PodIndexLabel]
	if !ok {
		i := strings.LastIndexByte(p.Name, '-')
		if i < 0 {
			return 0, false
		}
		s = p.Name[i+1:]
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// replicaState is what the controller knows of one replica across
// reconciles: where it talks to it and the version it saw it run.
type replicaState struct {
	pod       tmmPod
	client    *tmmapi.Client
	confirmed string // the version the replica was seen running; "" = unknown
	verified  time.Time
}

// pushResult is one replica's answer to a reconcile.
type pushResult struct {
	index   int
	pod     string
	version string // running after the push
	err     error
	pushed  bool // an ApplyConfig was sent
}

// replicaSet holds the controller's connections to the replicas.
type replicaSet struct {
	// reverify is how old a replica's confirmed version may get before
	// it is read again.
	reverify time.Duration

	// transport is how the replicas' APIs are reached (mutual TLS in a
	// cluster).
	transport []tmmapi.Option

	mu     sync.Mutex
	states map[int]*replicaState
}

func newReplicaSet(reverify time.Duration, apiTLS *tls.Config) *replicaSet {
	s := &replicaSet{reverify: reverify, states: map[int]*replicaState{}}
	if apiTLS != nil {
		s.transport = []tmmapi.Option{tmmapi.WithTLS(apiTLS)}
	}
	return s
}

// state returns the state for a pod, starting over (new connection,
// version unknown) when the pod, its address or its restart count changed:
// a restarted TMM runs an empty config whatever it ran before.
func (s *replicaSet) state(p tmmPod) *replicaState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.states[p.index]
	if st != nil && st.pod == p {
		return st
	}
	if st != nil {
		st.client.Close()
	}
	st = &replicaState{pod: p, client: tmmapi.NewClient(p.addr, s.transport...)}
	s.states[p.index] = st
	return st
}

// forget drops replicas that have no pod any more.
func (s *replicaSet) forget(keep map[int]tmmPod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.states {
		if _, ok := keep[i]; !ok {
			st.client.Close()
			delete(s.states, i)
		}
	}
}

func (s *replicaSet) close() {
	s.forget(nil)
}

// sync makes replica p run cfg: it asks what the replica runs when it does
// not know (or last knew long ago), and pushes only when that differs — so
// a restarted controller sends nothing to replicas that already run the
// right config, and a replica that lost its config gets it back.
func (s *replicaSet) sync(ctx context.Context, p tmmPod, cfg *config.Config) pushResult {
	st := s.state(p)
	res := pushResult{index: p.index, pod: p.name}
	if st.confirmed == "" || time.Since(st.verified) >= s.reverify {
		run, err := st.client.Running(ctx)
		if err != nil {
			st.confirmed = ""
			res.err = err
			return res
		}
		st.confirmed, st.verified = run.Version, time.Now()
	}
	if st.confirmed == cfg.Version {
		res.version = cfg.Version
		return res
	}
	res.pushed = true
	v, err := st.client.Apply(ctx, cfg)
	if err != nil {
		st.confirmed = "" // unknown: the push may or may not have landed
		res.err = err
		return res
	}
	st.confirmed, st.verified = v, time.Now()
	res.version = v
	if v != cfg.Version {
		res.err = fmt.Errorf("runs version %s after the push of %s", v, cfg.Version)
	}
	return res
}

// describe lists results in index order for messages.
func describe(results []pushResult, ok bool) string {
	sort.Slice(results, func(i, j int) bool { return results[i].index < results[j].index })
	var parts []string
	for _, r := range results {
		if (r.err == nil) != ok {
			continue
		}
		if ok {
			parts = append(parts, fmt.Sprintf("%d (%s) runs %s", r.index, r.pod, r.version))
		} else if r.pod == "" {
			parts = append(parts, fmt.Sprintf("replica %d: %v", r.index, r.err))
		} else {
			parts = append(parts, fmt.Sprintf("replica %d (pod %s) did not confirm: %v", r.index, r.pod, r.err))
		}
	}
	return strings.Join(parts, "; ")
}
