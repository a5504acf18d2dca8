package kind

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spklab/spklab/e2e/framework"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/internal/apicerts"
	"github.com/spklab/spklab/manifests/spkchart"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

// Bounds of the kind target's waits.
const (
	kindConfigWait = 30 * time.Second
	// kindRestartWait covers the kubelet's crash back-off (10 s doubling
	// to 300 s, reset after 10 min of running) for a replica the suite
	// killed several times in a row.
	kindRestartWait = 330 * time.Second
	kindPoll        = 20 * time.Millisecond
)

// KindTarget is a running kind lab as a Target: the client and router are
// the compose containers, pods and TMMs are reached with kubectl on the
// control-plane node (the host needs no kubectl), CR changes go through
// the API server and the controller.
type KindTarget struct {
	lab      *Lab
	dyn      dynamic.Interface
	core     kubernetes.Interface
	vty      *frr.VTY
	pods     map[string][]framework.TenantPod
	tmms     []framework.TMM
	clients  []*tmmapi.Client
	forwards []*forward
	// restCfg and apiPort reopen a replica's port-forward; apiTLS is the
	// controller's client identity, which the TMMs' API demands.
	restCfg *rest.Config
	apiPort int
	apiTLS  *tls.Config
}

// NewKindTarget reads the tenants' pods of a lab that is up.
func NewKindTarget(ctx context.Context, l *Lab) (*KindTarget, error) {
	cfg, err := l.RESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kind target: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kind target: %w", err)
	}
	t := &KindTarget{lab: l, dyn: dyn, core: core, vty: l.RouterVTY(), pods: map[string][]framework.TenantPod{}}
	for _, tn := range l.Topo.Tenants {
		pods, err := t.readPods(ctx, tn)
		if err != nil {
			return nil, err
		}
		if len(pods) == 0 {
			return nil, fmt.Errorf("kind target: tenant %s has no running pods", tn.Namespace)
		}
		t.pods[tn.Namespace] = pods
	}
	// The TMMs' gRPC API through port-forwards: reading a replica's state
	// takes milliseconds, where a kubectl exec takes hundreds.
	port, err := l.TMMAPIPort(ctx)
	if err != nil {
		return nil, fmt.Errorf("kind target: %w", err)
	}
	t.restCfg, t.apiPort = cfg, port
	// The API demands the controller's client certificate; the lab's owner
	// (cluster admin) reads it from its Secret.
	if t.apiTLS, err = tmmAPIClientTLS(ctx, core, l.Topo.SPK.Namespace); err != nil {
		return nil, fmt.Errorf("kind target: %w", err)
	}
	for i := range l.Topo.TMM.Replicas {
		t.forwards, t.clients, t.tmms = append(t.forwards, nil), append(t.clients, nil), append(t.tmms, nil)
		if err := t.openAPI(i); err != nil {
			t.Close()
			return nil, fmt.Errorf("kind target: %w", err)
		}
	}
	return t, nil
}

// openAPI (re)opens replica i's port-forward and API client, closing the
// old ones.
func (t *KindTarget) openAPI(i int) error {
	pod := TMMPod(i)
	fw, err := portForward(t.restCfg, t.lab.Topo.SPK.Namespace, pod, t.apiPort)
	if err != nil {
		return err
	}
	if t.clients[i] != nil {
		t.clients[i].Close()
	}
	if t.forwards[i] != nil {
		t.forwards[i].Close()
	}
	c := tmmapi.NewClient(fw.Local, tmmapi.WithTLS(t.apiTLS))
	t.forwards[i], t.clients[i], t.tmms[i] = fw, c, framework.APITMM(pod, c)
	return nil
}

// tmmAPIClientTLS is the TLS config of the controller's identity on the
// TMM API (Secret spkchart.TMMAPIClientSecret), for the name the TMMs'
// certificate carries.
func tmmAPIClientTLS(ctx context.Context, core kubernetes.Interface, namespace string) (*tls.Config, error) {
	s, err := core.CoreV1().Secrets(namespace).Get(ctx, spkchart.TMMAPIClientSecret, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the TMM API's client identity: %w", err)
	}
	cfg, err := apicerts.ClientConfig(spkchart.SecretIdentity(s), spkchart.TMMAPIServerName(namespace))
	if err != nil {
		return nil, fmt.Errorf("Secret %s/%s: %w", namespace, spkchart.TMMAPIClientSecret, err)
	}
	return cfg, nil
}

// Close ends the TMM API connections and port-forwards.
func (t *KindTarget) Close() {
	for _, c := range t.clients {
		if c != nil {
			c.Close()
		}
	}
	for _, f := range t.forwards {
		if f != nil {
			f.Close()
		}
	}
}

// KindPod runs commands in a pod through kubectl on the control-plane
// node (docker exec … kubectl exec).
func KindPod(controlPlane, namespace, name string) framework.Prefixed {
	return framework.Prefix("pod "+namespace+"/"+name,
		"docker", "exec", controlPlane, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
		"exec", "--namespace", namespace, name, "--")
}

func (t *KindTarget) readPods(ctx context.Context, tn topology.Tenant) ([]framework.TenantPod, error) {
	out, err := t.lab.Kubectl(ctx, nil, "-n", tn.Namespace, "get", "pods", "-l", render.LabelApp+"="+tn.Deployment, "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("kind target: pods of tenant %s: %w", tn.Namespace, err)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				Phase  string `json:"phase"`
				PodIPs []struct {
					IP string `json:"ip"`
				} `json:"podIPs"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("kind target: parsing pods of tenant %s: %w", tn.Namespace, err)
	}
	cp := t.lab.ControlPlaneName()
	var pods []framework.TenantPod
	for _, it := range list.Items {
		if it.Status.Phase != "Running" || it.Metadata.DeletionTimestamp != nil {
			continue
		}
		p := framework.TenantPod{Name: it.Metadata.Name, Tenant: tn.Namespace, Node: it.Spec.NodeName,
			Exec: KindPod(cp, tn.Namespace, it.Metadata.Name)}
		for _, ip := range it.Status.PodIPs {
			if a, err := netip.ParseAddr(ip.IP); err == nil {
				p.IPs = append(p.IPs, a)
			}
		}
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b framework.TenantPod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

// Name names the lab.
func (t *KindTarget) Name() string { return "kind lab " + t.lab.Topo.Cluster.Name }

// Topology is the topology the lab was built from.
func (t *KindTarget) Topology() *topology.Topology { return t.lab.Topo }

// Client runs commands in the client container, as the guide does.
func (t *KindTarget) Client() framework.Executor {
	return framework.Container(t.lab.Topo.ClientContainer())
}

// Router runs commands in the router container.
func (t *KindTarget) Router() framework.Executor {
	return framework.Container(t.lab.Topo.RouterContainer())
}

// RouterVTY queries the router container's FRR.
func (t *KindTarget) RouterVTY() *frr.VTY { return t.vty }

// Pods lists the tenant's running pods.
func (t *KindTarget) Pods(tenant string) []framework.TenantPod { return t.pods[tenant] }

// TMMs are the TMM pods, replica i at index i.
func (t *KindTarget) TMMs() []framework.TMM { return t.tmms }

// eachTMM reads every replica's stats.
func (t *KindTarget) eachTMM(ctx context.Context) ([]*engine.Stats, error) {
	out := make([]*engine.Stats, len(t.clients))
	var errs []error
	for i, c := range t.clients {
		s, err := c.Stats(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", TMMPod(i), err))
		}
		out[i] = s
	}
	return out, errors.Join(errs...)
}

func hasVirtualServer(s *engine.Stats, name string) bool {
	for _, vs := range s.VirtualServers {
		if vs.Name == name {
			return true
		}
	}
	return false
}

// DeleteIngress deletes the tenant's F5SPKIngressTCP through the API server
// (client-go from this host: no kubectl exec delay in what the spec times)
// and returns once no replica runs its virtual servers any more.
func (t *KindTarget) DeleteIngress(ctx context.Context, tenant string) error {
	var name string
	for _, tn := range t.lab.Topo.Tenants {
		if tn.Namespace == tenant && tn.Ingress != nil {
			name = tn.Ingress.Name
		}
	}
	if name == "" {
		return fmt.Errorf("tenant %s has no ingress", tenant)
	}
	gvr := spk.IngressTCPGroupVersion.WithResource("f5-spk-ingresstcps")
	if err := t.dyn.Resource(gvr).Namespace(tenant).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("deleting F5SPKIngressTCP %s/%s: %w", tenant, name, err)
	}
	vs := tenant + "/" + name
	deadline := time.Now().Add(kindConfigWait)
	for {
		all, err := t.eachTMM(ctx)
		if err == nil {
			running := 0
			for _, s := range all {
				if hasVirtualServer(s, vs) {
					running++
				}
			}
			if running == 0 {
				return nil
			}
			err = fmt.Errorf("%d replica(s) still run %s", running, vs)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after deleting %s, not every framework.TMM dropped it within %s: %w", vs, kindConfigWait, err)
		}
		if err := sleep(ctx, kindPoll); err != nil {
			return err
		}
	}
}

// Reapply applies every CR of the topology and waits until each is
// Programmed (every replica confirmed it).
func (t *KindTarget) Reapply(ctx context.Context) error {
	crs, err := t.lab.CRsYAML()
	if err != nil {
		return err
	}
	if _, err := t.lab.Kubectl(ctx, crs, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-"); err != nil {
		return err
	}
	_, err = t.lab.Kubectl(ctx, crs, "wait", "--for=condition=Programmed", "-f", "-", fmt.Sprintf("--timeout=%ds", int(kindConfigWait.Seconds())))
	return err
}

// tmmContainer is a TMM pod's node, container ID and restart count.
type tmmContainer struct {
	node, id string
	restarts int32
	running  bool
	// backingOff: the kubelet holds the restart back (CrashLoopBackOff).
	backingOff bool
}

func tmmContainerOf(p *corev1.Pod) (tmmContainer, error) {
	if len(p.Status.ContainerStatuses) == 0 {
		return tmmContainer{}, fmt.Errorf("pod %s has no container status yet", p.Name)
	}
	cs := p.Status.ContainerStatuses[0]
	return tmmContainer{
		node:       p.Spec.NodeName,
		id:         strings.TrimPrefix(cs.ContainerID, "containerd://"),
		restarts:   cs.RestartCount,
		running:    cs.State.Running != nil,
		backingOff: cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff",
	}, nil
}

// RestartTMM kills replica i's spk-tmm with SIGKILL through the node's
// containerd (a crash: no goodbye to BGP peers), lets the kubelet restart
// it, and returns when the new container runs (seen through a watch on
// the pod, so the wait costs nothing while the kubelet backs off), after
// its API answers.
func (t *KindTarget) RestartTMM(ctx context.Context, i int) (time.Time, error) {
	pod := TMMPod(i)
	pods := t.core.CoreV1().Pods(t.lab.Topo.SPK.Namespace)
	p, err := pods.Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("reading pod %s: %w", pod, err)
	}
	before, err := tmmContainerOf(p)
	if err != nil {
		return time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, kindRestartWait)
	defer cancel()
	w, err := pods.Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=" + pod, ResourceVersion: p.ResourceVersion})
	if err != nil {
		return time.Time{}, fmt.Errorf("watching pod %s: %w", pod, err)
	}
	defer w.Stop()
	if _, err := framework.Container(before.node).Exec(ctx, "ctr", "-n", "k8s.io", "tasks", "kill", "--signal", "SIGKILL", before.id); err != nil {
		return time.Time{}, fmt.Errorf("killing %s: %w", pod, err)
	}
	deadline := time.Now().Add(kindRestartWait)
	var started time.Time
	said := false
	for started.IsZero() {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			return time.Time{}, fmt.Errorf("%s did not run again within %s after the kill", pod, kindRestartWait)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return time.Time{}, fmt.Errorf("watching pod %s: the watch ended", pod)
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			now, err := tmmContainerOf(p)
			if err != nil {
				continue
			}
			if now.restarts > before.restarts && now.running {
				started = time.Now()
			} else if now.backingOff && !said {
				slog.Info("TMM replica waits out the kubelet's crash back-off before it starts again (it was killed often in the last 10 min)", "pod", pod, "restarts", now.restarts)
				said = true
			}
		}
	}
	for {
		if _, err := t.clients[i].Stats(ctx); err == nil {
			return started, nil
		}
		// The kill can take the port-forward's connection to the pod
		// with it: forward again to the same pod.
		if t.forwards[i].lost() {
			if err := t.openAPI(i); err != nil {
				return started, fmt.Errorf("%s runs again; forwarding to its API again: %w", pod, err)
			}
		}
		if time.Now().After(deadline) {
			return started, fmt.Errorf("%s runs again but its API does not answer", pod)
		}
		if err := sleep(ctx, kindPoll); err != nil {
			return started, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Node runs commands in a node's container (kind names it as the node).
func (t *KindTarget) Node(name string) framework.Executor { return framework.Container(name) }

// Stranger starts a container of the client image on the network's docker
// network, labelled with the lab (so a leftover shows in spklab status and
// goes with spklab down); docker picks its address.
func (t *KindTarget) Stranger(ctx context.Context, network string) (framework.Executor, netip.Addr, func(), error) {
	n := t.lab.Topo.Network(network)
	if n == nil {
		return nil, netip.Addr{}, func() {}, fmt.Errorf("no network %q in the topology", network)
	}
	dc := docker.Wrap(t.lab.docker)
	netName := t.lab.Topo.DockerName(*n)
	name := fmt.Sprintf("%s-stranger-%d", t.lab.Topo.Cluster.Name, time.Now().UnixNano()%1e9)
	id, err := dc.ContainerCreate(ctx, docker.ContainerSpec{
		Name: name, Image: t.lab.Topo.Images.Client, Entrypoint: []string{"sleep"}, Cmd: []string{"900"},
		Network: netName, Labels: map[string]string{render.LabelLab: t.lab.Topo.Cluster.Name},
	})
	if err != nil {
		return nil, netip.Addr{}, func() {}, err
	}
	remove := func() { _ = dc.ContainerRemove(context.Background(), id) }
	if err := dc.ContainerStart(ctx, id); err != nil {
		remove()
		return nil, netip.Addr{}, func() {}, err
	}
	addr, err := dc.ContainerAddress(ctx, id, netName)
	if err != nil {
		remove()
		return nil, netip.Addr{}, func() {}, err
	}
	return framework.Container(name), addr, remove, nil
}

// verdict is "" while the controller has not judged the object's current
// generation, "ok" once it is Accepted and Programmed, else the refusal.
func (c crState) verdict() string {
	var acc, prog string
	for _, cd := range c.Status.Conditions {
		if cd.ObservedGeneration != c.Metadata.Generation {
			continue
		}
		switch cd.Type {
		case spk.ConditionAccepted:
			if cd.Status == string(metav1.ConditionFalse) {
				return fmt.Sprintf("%s is not Accepted: %s", c, cd.Message)
			}
			acc = cd.Status
		case spk.ConditionProgrammed:
			prog = cd.Status
		}
	}
	if acc == string(metav1.ConditionTrue) && prog == string(metav1.ConditionTrue) {
		return "ok"
	}
	return ""
}

// ApplyCRs applies the documents and waits for the controller's verdict on
// each: every one Accepted and Programmed, or the first refusal.
func (t *KindTarget) ApplyCRs(ctx context.Context, _ string, yaml []byte) error {
	if _, err := t.lab.Kubectl(ctx, yaml, "apply", "-f", "-"); err != nil {
		return err
	}
	deadline := time.Now().Add(kindConfigWait)
	for {
		out, err := t.lab.Kubectl(ctx, yaml, "get", "-f", "-", "-o", "json")
		pending := "no answer yet"
		if err == nil {
			var list struct {
				Kind  string    `json:"kind"`
				Items []crState `json:"items"`
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				return fmt.Errorf("reading the applied objects: %w", err)
			}
			if list.Kind != "List" {
				var one crState
				if err := json.Unmarshal([]byte(out), &one); err != nil {
					return fmt.Errorf("reading the applied object: %w", err)
				}
				list.Items = []crState{one}
			}
			pending = ""
			for _, it := range list.Items {
				switch v := it.verdict(); v {
				case "ok":
				case "":
					pending = it.String() + " not judged yet"
				default:
					return errors.New(v)
				}
			}
			if pending == "" {
				return nil
			}
		} else {
			pending = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("applied CRs not judged within %s: %s", kindConfigWait, pending)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// RemoveCRs deletes the documents' objects and waits until they are gone.
func (t *KindTarget) RemoveCRs(ctx context.Context, _ string, yaml []byte) error {
	_, err := t.lab.Kubectl(ctx, yaml, "delete", "--ignore-not-found", "--wait", "-f", "-")
	return err
}

var _ framework.Target = (*KindTarget)(nil)

// Lab is the kind lab under test.
func (t *KindTarget) Lab() *Lab { return t.lab }

// ForeignAPIAttempts tries each TMM's API as three who are not the
// controller: a pod of namespace default (the NetworkPolicy should drop
// it; spk-tmm stats in the clear from the TMM image, in a pod that runs to
// completion), and through a port-forward of its own a client in the
// clear and one speaking TLS without a client certificate (mutual TLS
// should refuse both).
func (t *KindTarget) ForeignAPIAttempts(ctx context.Context) []framework.APIAttempt {
	ns := t.lab.Topo.SPK.Namespace
	var out []framework.APIAttempt
	var script strings.Builder
	var pods []string
	for i := range t.clients {
		pod := TMMPod(i)
		p, err := t.core.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" {
			out = append(out, framework.APIAttempt{Who: "a pod of namespace default", TMM: pod, Err: fmt.Errorf("no pod IP to try: %v", err)})
			continue
		}
		pods = append(pods, pod)
		fmt.Fprintf(&script, "echo '>>> %s'; timeout 8 spk-tmm stats --api '[%s]:%d' 2>&1; echo \"<<< rc=$?\"; ", pod, p.Status.PodIP, t.apiPort)
	}
	if len(pods) > 0 {
		name := fmt.Sprintf("spklab-api-probe-%d", time.Now().UnixNano()%1e9)
		defer func() {
			_, _ = t.lab.Kubectl(context.WithoutCancel(ctx), nil, "-n", "default", "delete", "pod", name, "--ignore-not-found", "--wait=false")
		}()
		// Run to completion, then read its log: kubectl run -i attaches
		// after the container starts and can miss its first lines.
		res, err := t.lab.Kubectl(ctx, nil, "-n", "default", "run", name, "--image="+t.lab.Topo.Images.TMM, "--image-pull-policy=IfNotPresent",
			"--restart=Never", "--command", "--", "sh", "-c", script.String())
		if err == nil {
			res, err = t.lab.Kubectl(ctx, nil, "-n", "default", "wait", "pod/"+name, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s")
		}
		if err == nil {
			res, err = t.lab.Kubectl(ctx, nil, "-n", "default", "logs", name)
		}
		for _, pod := range pods {
			a := framework.APIAttempt{Who: "a pod of namespace default (spk-tmm stats in the clear)", TMM: pod, Ran: true}
			_, rest, found := strings.Cut(res, ">>> "+pod+"\n")
			body, rc, ended := strings.Cut(rest, "<<< rc=")
			a.Output = strings.TrimSpace(body)
			switch {
			case !found || !ended:
				a.Ran, a.Err = false, fmt.Errorf("the probe pod did not report (%v): %s", err, res)
			case strings.HasPrefix(rc, "0"):
				a.Err = nil // it read the stats: the attack succeeded
			default:
				a.Err = fmt.Errorf("refused (exit %s)", strings.TrimSpace(strings.SplitN(rc, "\n", 2)[0]))
			}
			out = append(out, a)
		}
	}
	for i := range t.forwards {
		// A port-forward of its own: a refused stream can take down the
		// forward it ran through, and the suites read the TMMs through
		// the target's.
		fw, err := portForward(t.restCfg, ns, TMMPod(i), t.apiPort)
		if err != nil {
			out = append(out, framework.APIAttempt{Who: "this host through a port-forward", TMM: TMMPod(i), Err: fmt.Errorf("port-forward: %w", err)})
			continue
		}
		anon := t.apiTLS.Clone()
		anon.Certificates = nil
		for who, c := range map[string]*tmmapi.Client{
			"this host through a port-forward, in the clear":                     tmmapi.NewClient(fw.Local),
			"this host through a port-forward, TLS without a client certificate": tmmapi.NewClient(fw.Local, tmmapi.WithTLS(anon)),
		} {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := c.Stats(cctx)
			cancel()
			c.Close()
			a := framework.APIAttempt{Who: who, TMM: TMMPod(i), Ran: true, Err: err}
			if err == nil {
				a.Output = fmt.Sprintf("stats of replica %d, config %s", st.Replica, st.Version)
			}
			out = append(out, a)
		}
		fw.Close()
	}
	return out
}
