package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/spklab/spklab/images/cni"
	"github.com/spklab/spklab/lab/steps"
	cnimanifests "github.com/spklab/spklab/manifests/cni"
)

// readyWait bounds the wait for every node to become Ready after the CNI.
const readyWait = 6 * time.Minute

// FieldManager is the server-side apply field manager of everything spklab applies.
const FieldManager = "spklab"

// CNIImages are the images the CNI manifests run, built offline by images/cni.
func CNIImages() []string {
	return []string{cni.RefCalicoNode, cni.RefCalicoCNI, cni.RefCalicoControllers, cni.RefMultus, cni.RefPlugins}
}

// cniDaemonSets are the DaemonSets (kube-system) the CNI manifests make.
var cniDaemonSets = []string{"calico-node", "kube-multus-ds", "cni-plugins"}

// CNIStep is Calico, Multus and the CNI plugins: images loaded into every
// node, manifests server-side applied, every node Ready.
type CNIStep struct{ l *Lab }

// Name is the step's name.
func (CNIStep) Name() string { return "cni" }

// Check looks for the CNI DaemonSets and every node Ready.
func (s CNIStep) Check(ctx context.Context) steps.Status {
	out, err := s.l.Kubectl(ctx, nil, "-n", "kube-system", "get", "daemonsets", "-o", "name", "--request-timeout=10s")
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: "cannot list DaemonSets: " + err.Error()}
	}
	for _, ds := range cniDaemonSets {
		if !strings.Contains(out, "daemonset.apps/"+ds+"\n") {
			return steps.Status{State: steps.NotDone, Reason: "no DaemonSet kube-system/" + ds}
		}
	}
	ns, err := s.l.kubeNodes(ctx)
	if err != nil {
		return steps.Status{State: steps.NotDone, Reason: err.Error()}
	}
	var notReady []string
	for _, n := range ns {
		if !n.Ready {
			notReady = append(notReady, n.Name)
		}
	}
	if len(notReady) > 0 {
		return steps.Status{State: steps.NotDone, Reason: "nodes not Ready: " + strings.Join(notReady, ", ")}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("Calico, Multus and CNI plugins deployed, %d nodes Ready", len(ns))}
}

// Apply loads what each node lacks, applies the manifests and waits for Ready.
func (s CNIStep) Apply(ctx context.Context) error {
	l := s.l
	ns, err := l.Nodes()
	if err != nil {
		return err
	}
	stale, err := l.staleImages(ctx, ns, CNIImages())
	if err != nil {
		return err
	}
	if err := l.loadStale(ctx, ns, stale); err != nil {
		return err
	}
	for _, m := range cnimanifests.Manifests() {
		if _, err := l.Kubectl(ctx, m.YAML, "apply", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", "-"); err != nil {
			return fmt.Errorf("applying %s: %w", m.Name, err)
		}
	}
	if _, err := l.Kubectl(ctx, nil, "wait", "--for=condition=Ready", "nodes", "--all", fmt.Sprintf("--timeout=%ds", int(readyWait.Seconds()))); err != nil {
		return fmt.Errorf("waiting for every node Ready: %w", err)
	}
	return nil
}

// Destroy deletes the CNI objects when the cluster still runs (deleting
// the cluster removes them anyway).
func (s CNIStep) Destroy(ctx context.Context) error {
	if _, err := s.l.controlPlane(); err != nil {
		return nil // no cluster: nothing of the CNI left
	}
	ms := cnimanifests.Manifests()
	for i := len(ms) - 1; i >= 0; i-- {
		if _, err := s.l.Kubectl(ctx, ms[i].YAML, "delete", "--ignore-not-found", "--wait=false", "-f", "-"); err != nil {
			return fmt.Errorf("deleting %s: %w", ms[i].Name, err)
		}
	}
	return nil
}

// normalizeRef spells a short docker reference as containerd lists it.
func normalizeRef(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if !found {
		return "docker.io/library/" + ref
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return ref
	}
	return "docker.io/" + ref
}

// saveAndLoad saves the images from docker once and imports them into the
// nodes in parallel.
func (l *Lab) saveAndLoad(ctx context.Context, targets []nodes.Node, refs []string) error {
	f, err := os.CreateTemp("", "spklab-images-*.tar")
	if err != nil {
		return fmt.Errorf("image archive: %w", err)
	}
	defer os.Remove(f.Name())
	rc, err := l.docker.ImageSave(ctx, refs)
	if err != nil {
		f.Close()
		return fmt.Errorf("saving images %v: %w", refs, err)
	}
	_, err = f.ReadFrom(rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("saving images %v: %w", refs, err)
	}
	start := time.Now()
	if err := LoadImageArchive(targets, f.Name()); err != nil {
		return err
	}
	l.Log.Info("loaded images", "images", refs, "nodes", len(targets), "took", time.Since(start).Round(time.Second))
	return nil
}

// LoadImageArchive loads a docker save archive into every node's
// containerd (k8s.io namespace), in parallel, with ctr through kind's
// nodeutils: kind's own image loading needs crictl, which is not available
// offline.
func LoadImageArchive(ns []nodes.Node, file string) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ns))
	for _, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := os.Open(file)
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			if err := nodeutils.LoadImageArchive(n, r); err != nil {
				errs <- fmt.Errorf("loading images into %s: %w", n, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
