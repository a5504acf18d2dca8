package controller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	spkscheme "github.com/spklab/spklab/spk/scheme"
	appsv1 "k8s.io/api/apps/v1"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spklab/spklab/controller"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/tmmapi/tmmapitest"
	"github.com/spklab/spklab/images/kubebin"
	"github.com/spklab/spklab/images/kubebin/kubetest"
	"github.com/spklab/spklab/manifests"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// rig is the real API server, two in-process TMM replicas (real engines
// behind the real gRPC API, on 127.0.0.2 and 127.0.0.3 with one port, as
// pod IPs with the chart's API port), their Pod objects, and the
// controller under test.
type rig struct {
	t      *testing.T
	env    *kubetest.Env
	c      client.Client
	tmms   []*tmmapitest.TMM
	tmmNS  string
	port   int
	opts   controller.Options
	stop   context.CancelFunc
	done   chan error
	rec    *controller.Reconciler
	crDir  string
	values string
}

func newRig(t *testing.T) *rig {
	scheme, err := spkscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := kubetest.Start(t, kubetest.Options{CRDs: crds, Scheme: scheme})
	r := &rig{t: t, env: env, c: env.Client}
	r.tmms = append(r.tmms, tmmapitest.StartAt(t, "127.0.0.2:0"))
	_, port, _ := net.SplitHostPort(r.tmms[0].Addr)
	r.port, _ = strconv.Atoi(port)
	r.tmms = append(r.tmms, tmmapitest.StartAt(t, "127.0.0.3:"+port))
	r.tmmNS = env.Namespace(t)
	return r
}

func (r *rig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	r.t.Cleanup(cancel)
	return ctx
}

func (r *rig) create(obj client.Object) {
	r.t.Helper()
	if err := r.c.Create(r.ctx(), obj); err != nil {
		r.t.Fatalf("creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

// update re-reads obj, applies mutate and writes it, retrying when the
// controller's status writes got in between (a conflict).
func (r *rig) update(obj client.Object, mutate func()) {
	r.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.c.Get(r.ctx(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return r.c.Update(r.ctx(), obj)
	})
	if err != nil {
		r.t.Fatalf("updating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
}

// tmmPod creates TMM pod i as the StatefulSet would, then gives it the
// pod IP the kubelet would report.
// statefulSet is the TMM StatefulSet (two replicas), made on first use:
// the API server here runs no StatefulSet controller, so the test makes
// its pods, owned by it as the real one would.
func (r *rig) statefulSet() *appsv1.StatefulSet {
	r.t.Helper()
	var sts appsv1.StatefulSet
	if err := r.c.Get(r.ctx(), client.ObjectKey{Namespace: r.tmmNS, Name: "f5-tmm"}, &sts); err == nil {
		return &sts
	}
	labels := map[string]string{"app": "f5-tmm"}
	sts = appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.tmmNS, Name: "f5-tmm"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "spk-tmm", Image: "spklab/spk-tmm"}}},
			},
		},
	}
	r.create(&sts)
	return &sts
}

func (r *rig) tmmPod(i int) {
	r.t.Helper()
	r.pod(fmt.Sprintf("f5-tmm-%d", i), i, fmt.Sprintf("127.0.0.%d", i+2), true)
}

// pod makes a pod with the TMM labels and ordinal i at ip, owned by the
// TMM StatefulSet or not.
func (r *rig) pod(name string, i int, ip string, owned bool) {
	r.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.tmmNS, Name: name,
			Labels: map[string]string{"app": "f5-tmm", controller.PodIndexLabel: strconv.Itoa(i)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "spk-tmm", Image: "spklab/spk-tmm"}}},
	}
	if owned {
		sts := r.statefulSet()
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID, Controller: ptr.To(true)}}
	}
	r.create(p)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}
	if err := r.c.Status().Update(r.ctx(), p); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) startController() {
	r.t.Helper()
	if r.opts.TMMNamespace == "" {
		routing, err := spk.LoadValues(r.values)
		if err != nil {
			r.t.Fatal(err)
		}
		r.opts = controller.Options{
			TMMNamespace:   r.tmmNS,
			TMMSelector:    labels.SelectorFromSet(labels.Set{"app": "f5-tmm"}),
			TMMStatefulSet: "f5-tmm",
			TMMAPIPort:     r.port,
			Routing:        routing,
			PushTimeout:    time.Second,
			RetryAfter:     200 * time.Millisecond,
		}
	}
	mgr, rec, err := controller.NewManager(r.env.Config, r.opts, controller.ManagerOptions{SkipNameValidation: true})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done, r.rec = cancel, make(chan error, 1), rec
	go func() { r.done <- mgr.Start(ctx) }()
	r.t.Cleanup(r.stopController)
}

func (r *rig) stopController() {
	if r.stop == nil {
		return
	}
	r.stop()
	if err := <-r.done; err != nil {
		r.t.Errorf("controller manager: %v", err)
	}
	r.rec.Close()
	r.stop = nil
}

// kubectl runs the real kubectl v1.32.0 (built by kubebin) against the
// test API server.
func (r *rig) kubectl(args ...string) (string, error) {
	r.t.Helper()
	dir, err := kubebin.Ensure(r.ctx(), kubebin.Options{}, "kubectl")
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "kubectl"), append([]string{"--kubeconfig", r.env.Kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}

// eventually polls check every 20 ms until it passes or the limit ends.
func eventually(t *testing.T, limit time.Duration, what string, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s: %v", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeLabFiles writes the default topology's CRs, the endpoints the test
// gives the tenant Services, and the Helm values as files: the one YAML
// both the standalone TMM and (through the API server) the controller read.
func (r *rig) writeLabFiles(eps map[string][]spk.StaticEndpoint) *spk.Objects {
	r.t.Helper()
	topo := topology.Default()
	o := spk.FromTopology(topo)
	for _, ns := range []string{"red", "blue"} {
		o.Endpoints = append(o.Endpoints, spk.StaticEndpoints{
			TypeMeta:   metav1.TypeMeta{APIVersion: spk.APIVersionStaticEndpoints, Kind: spk.KindStaticEndpoints},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nginx-app-svc"},
			Endpoints:  eps[ns],
		})
	}
	// The standalone TMM's stand-in for the Node objects applyCluster makes.
	nodes := spk.StaticNodes{TypeMeta: metav1.TypeMeta{APIVersion: spk.APIVersionStaticNodes, Kind: spk.KindStaticNodes}, ObjectMeta: metav1.ObjectMeta{Name: "nodes"}}
	for _, name := range slices.Sorted(maps.Keys(nodeAddrs)) {
		nodes.Nodes = append(nodes.Nodes, spk.StaticNode{Name: name, IPv4: nodeAddrs[name]})
	}
	o.Nodes = append(o.Nodes, nodes)
	doc, err := o.YAML()
	if err != nil {
		r.t.Fatal(err)
	}
	r.crDir = r.t.TempDir()
	if err := os.WriteFile(filepath.Join(r.crDir, "spk.yaml"), doc, 0o644); err != nil {
		r.t.Fatal(err)
	}
	vals, err := spk.ValuesYAML(o.Routing)
	if err != nil {
		r.t.Fatal(err)
	}
	r.values = filepath.Join(r.t.TempDir(), "values.yaml")
	if err := os.WriteFile(r.values, vals, 0o644); err != nil {
		r.t.Fatal(err)
	}
	loaded, err := spk.LoadDir(r.crDir)
	if err != nil {
		r.t.Fatal(err)
	}
	return loaded
}

var nodeAddrs = map[string]string{"bnk-worker": "198.18.100.3", "bnk-worker2": "198.18.100.4", "bnk-worker3": "198.18.100.5"}

func endpointSlice(ns string, eps []spk.StaticEndpoint) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: "nginx-app-svc-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: "nginx-app-svc"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(80)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ep := range eps {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{ep.IP}, NodeName: ptr.To(ep.Node), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return es
}

// applyCluster creates, from the loaded files, what a cluster would hold:
// namespaces, the CRs, Nodes with their egress-net address, the tenant
// Services and their EndpointSlices.
func (r *rig) applyCluster(o *spk.Objects) {
	r.t.Helper()
	for _, ns := range []string{"red", "blue", topology.Default().SPK.Namespace} {
		r.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	for name, addr := range nodeAddrs {
		r.create(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{spk.DefaultNodeAddressAnnotation: `{"ipv4":"` + addr + `/24"}`}}})
	}
	for i := range o.VLANs {
		r.create(clean(&o.VLANs[i]))
	}
	for i := range o.Snatpools {
		r.create(clean(&o.Snatpools[i]))
	}
	for i := range o.Egresses {
		r.create(clean(&o.Egresses[i]))
	}
	for i := range o.Ingresses {
		r.create(clean(&o.Ingresses[i]))
	}
	for _, se := range o.Endpoints {
		r.create(&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: se.Namespace, Name: se.Name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
				Selector: map[string]string{"app": "nginx"}},
		})
		r.create(endpointSlice(se.Namespace, se.Endpoints))
	}
}

// clean drops what the file loader adds, so the object can be created.
func clean[T client.Object](o T) T {
	o.SetResourceVersion("")
	return o
}

// crs lists every SPK CR in the cluster with its status.
func (r *rig) crs() ([]client.Object, error) {
	var out []client.Object
	var vl spk.F5SPKVlanList
	var il spk.F5SPKIngressTCPList
	var sl spk.F5SPKSnatpoolList
	var el spk.F5SPKEgressList
	for _, l := range []client.ObjectList{&vl, &il, &sl, &el} {
		if err := r.c.List(context.Background(), l); err != nil {
			return nil, err
		}
	}
	for i := range vl.Items {
		out = append(out, &vl.Items[i])
	}
	for i := range il.Items {
		out = append(out, &il.Items[i])
	}
	for i := range sl.Items {
		out = append(out, &sl.Items[i])
	}
	for i := range el.Items {
		out = append(out, &el.Items[i])
	}
	return out, nil
}

func statusOf(o client.Object) *spk.Status {
	switch v := o.(type) {
	case *spk.F5SPKVlan:
		return &v.Status
	case *spk.F5SPKIngressTCP:
		return &v.Status
	case *spk.F5SPKSnatpool:
		return &v.Status
	case *spk.F5SPKEgress:
		return &v.Status
	}
	panic(fmt.Sprintf("no status for %T", o))
}

// condition is what `kubectl wait --for=condition=X` looks at: the
// condition's status, for the object's current generation.
func condition(o client.Object, typ string) (*metav1.Condition, error) {
	c := meta.FindStatusCondition(statusOf(o).Conditions, typ)
	if c == nil {
		return nil, fmt.Errorf("%T %s/%s has no %s condition", o, o.GetNamespace(), o.GetName(), typ)
	}
	if c.ObservedGeneration != o.GetGeneration() {
		return nil, fmt.Errorf("%T %s/%s: %s is for generation %d, the object is at %d", o, o.GetNamespace(), o.GetName(), typ, c.ObservedGeneration, o.GetGeneration())
	}
	return c, nil
}

func (r *rig) allProgrammed() error {
	objs, err := r.crs()
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return errors.New("no CRs")
	}
	for _, o := range objs {
		for _, typ := range []string{spk.ConditionAccepted, spk.ConditionProgrammed} {
			c, err := condition(o, typ)
			if err != nil {
				return err
			}
			if c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%T %s/%s: %s=%s (%s: %s)", o, o.GetNamespace(), o.GetName(), typ, c.Status, c.Reason, c.Message)
			}
		}
	}
	return nil
}

// running checks that every replica runs the version the standalone
// compiler makes of the rig's files.
func (r *rig) runsStandaloneConfig() error {
	for i, tmm := range r.tmms {
		want, err := spk.LoadTMMConfig(r.crDir, r.values, i)
		if err != nil {
			return err
		}
		if got := tmm.Config(); got.Version != want.Version {
			g, _ := json.MarshalIndent(got, "", " ")
			w, _ := json.MarshalIndent(want, "", " ")
			return fmt.Errorf("replica %d runs %s, the standalone TMM compiles %s:\n%s", i, got.Version, want.Version, lineDiff(string(w), string(g)))
		}
	}
	return nil
}

// lineDiff lists the lines only one side has (- standalone, + controller).
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range wl {
		if !slices.Contains(gl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range gl {
		if !slices.Contains(wl, l) {
			out = append(out, "+ "+l)
		}
	}
	// Same lines in another order: show where the order first differs
	// after the version line (which always differs).
	for i := 1; i < min(len(wl), len(gl)); i++ {
		if wl[i] != gl[i] && !strings.Contains(wl[i], `"version"`) {
			lo, hi := max(0, i-3), min(len(wl), len(gl), i+6)
			out = append(out, fmt.Sprintf("order differs at line %d:\nstandalone:\n%s\ncontroller:\n%s", i,
				strings.Join(wl[lo:hi], "\n"), strings.Join(gl[lo:hi], "\n")))
			break
		}
	}
	return strings.Join(out, "\n")
}

func members(cfg *config.Config, vip string) []string {
	var out []string
	for _, vs := range cfg.VirtualServers {
		if vs.Address == netip.MustParseAddr(vip) {
			for _, m := range vs.Members {
				out = append(out, m.Address.String()+"@"+m.NodeAddress.String())
			}
			return out
		}
	}
	return nil
}

func (r *rig) ingress(ns, name string) *spk.F5SPKIngressTCP {
	r.t.Helper()
	var in spk.F5SPKIngressTCP
	if err := r.c.Get(r.ctx(), client.ObjectKey{Namespace: ns, Name: name}, &in); err != nil {
		r.t.Fatal(err)
	}
	return &in
}

func TestControllerProgramsTheReplicas(t *testing.T) {
	r := newRig(t)
	eps := map[string][]spk.StaticEndpoint{
		"red": {{IP: "10.244.1.10", Port: 80, Node: "bnk-worker", NodeAddress: "198.18.100.3"},
			{IP: "10.244.2.10", Port: 80, Node: "bnk-worker2", NodeAddress: "198.18.100.4"}},
		"blue": {{IP: "10.244.1.20", Port: 80, Node: "bnk-worker", NodeAddress: "198.18.100.3"},
			{IP: "10.244.3.20", Port: 80, Node: "bnk-worker3", NodeAddress: "198.18.100.5"}},
	}
	objs := r.writeLabFiles(eps)
	r.applyCluster(objs)
	r.tmmPod(0)
	r.tmmPod(1)
	r.startController()

	took := eventually(t, 10*time.Second, "every CR Accepted and Programmed", r.allProgrammed)
	t.Logf("all CRs Programmed %s after the controller started", took)
	if err := r.runsStandaloneConfig(); err != nil {
		t.Fatalf("controller and standalone TMM disagree: %v", err)
	}
	red := r.ingress("red", "red-ingress")
	if c, _ := condition(red, spk.ConditionProgrammed); !strings.Contains(c.Message, "all 2 TMM replicas") ||
		!strings.Contains(c.Message, r.tmmNS+"/f5-tmm-1") {
		t.Fatalf("Programmed message %q should name both replicas", c.Message)
	}

	t.Run("kubectl wait --for=condition=Programmed returns", func(t *testing.T) {
		out, err := r.kubectl("wait", "--for=condition=Programmed", "--timeout=10s", "-n", "red", "f5-spk-ingresstcps.ingresstcp.k8s.f5net.com/red-ingress")
		if err != nil || !strings.Contains(out, "condition met") {
			t.Fatalf("kubectl wait: %v\n%s", err, out)
		}
		out, err = r.kubectl("wait", "--for=condition=Programmed", "--timeout=10s", "-A", "--all", "f5-spk-vlans.k8s.f5net.com")
		if err != nil || strings.Count(out, "condition met") != 2 {
			t.Fatalf("kubectl wait on both VLANs: %v\n%s", err, out)
		}
	})

	t.Run("endpoint churn reaches both replicas within 1 s", func(t *testing.T) {
		var worst time.Duration
		for i := range 5 {
			ip := fmt.Sprintf("10.244.3.%d", 100+i)
			es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "red", Name: "nginx-app-svc-abcde"}}
			start := time.Now()
			r.update(es, func() {
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, NodeName: ptr.To("bnk-worker3")})
			})
			want := ip + ":80@198.18.100.5"
			eventually(t, 5*time.Second, "new endpoint in both replicas", func() error {
				for i, tmm := range r.tmms {
					if !slices.Contains(members(tmm.Config(), "198.19.19.100"), want) {
						return fmt.Errorf("replica %d pool %v lacks %s", i, members(tmm.Config(), "198.19.19.100"), want)
					}
				}
				return nil
			})
			worst = max(worst, time.Since(start))
		}
		t.Logf("EndpointSlice update → both replicas run it: worst of 5 %s", worst)
		if worst > time.Second {
			t.Fatalf("endpoint change took %s to reach the replicas, limit 1 s", worst)
		}
		// A not-ready endpoint leaves the pool.
		es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "red", Name: "nginx-app-svc-abcde"}}
		r.update(es, func() { es.Endpoints[len(es.Endpoints)-1].Conditions.Ready = ptr.To(false) })
		eventually(t, 2*time.Second, "not-ready endpoint removed", func() error {
			if slices.Contains(members(r.tmms[1].Config(), "198.19.19.100"), "10.244.3.104:80@198.18.100.5") {
				return errors.New("still in the pool")
			}
			return nil
		})
	})

	t.Run("pods that only carry the TMM labels are no TMMs", func(t *testing.T) {
		// Anyone who may create pods in the namespace can label one
		// f5-tmm: as ordinal 0 it would take the real replica's place, as
		// ordinal 5 it would make a replica that never confirms.
		r.pod("f5-tmm-rogue", 0, "127.0.0.9", false)
		r.pod("f5-tmm-5", 5, "127.0.0.10", false)
		in := r.ingress("red", "red-ingress")
		r.update(in, func() { in.Spec.IdleTimeout = 301 })
		eventually(t, 5*time.Second, "the change Programmed on the 2 real replicas only", func() error {
			c, err := condition(r.ingress("red", "red-ingress"), spk.ConditionProgrammed)
			if err != nil {
				return err
			}
			if c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "all 2 TMM replicas") {
				return fmt.Errorf("Programmed=%s: %s", c.Status, c.Message)
			}
			for i, tmm := range r.tmms {
				for _, vs := range tmm.Config().VirtualServers {
					if vs.Name == "red/red-ingress" && vs.IdleTimeout != 301 {
						return fmt.Errorf("replica %d: idle timeout %d", i, vs.IdleTimeout)
					}
				}
			}
			if last := r.rec.Last(); last.Replicas != 2 {
				return fmt.Errorf("the controller counts %d replicas", last.Replicas)
			}
			return nil
		})
	})

	t.Run("a CR update is pushed and its conditions follow the generation", func(t *testing.T) {
		in := r.ingress("red", "red-ingress")
		r.update(in, func() { in.Spec.IdleTimeout = 600 })
		eventually(t, 3*time.Second, "idle timeout 600 in both replicas and Programmed for the new generation", func() error {
			for i, tmm := range r.tmms {
				for _, vs := range tmm.Config().VirtualServers {
					if vs.Name == "red/red-ingress" && vs.IdleTimeout != 600 {
						return fmt.Errorf("replica %d: idle timeout %d", i, vs.IdleTimeout)
					}
				}
			}
			c, err := condition(r.ingress("red", "red-ingress"), spk.ConditionProgrammed)
			if err != nil {
				return err
			}
			if c.Status != metav1.ConditionTrue {
				return fmt.Errorf("Programmed=%s", c.Status)
			}
			return nil
		})
	})

	t.Run("deleting an ingress removes its VIPs; re-creating restores them", func(t *testing.T) {
		blue := r.ingress("blue", "blue-ingress")
		if err := r.c.Delete(r.ctx(), blue); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "blue VIP gone", func() error {
			for i, tmm := range r.tmms {
				if members(tmm.Config(), "198.20.20.100") != nil || slices.ContainsFunc(tmm.Config().VirtualServers, func(vs config.VirtualServer) bool { return vs.Name == "blue/blue-ingress" }) {
					return fmt.Errorf("replica %d still has blue/blue-ingress", i)
				}
			}
			return nil
		})
		blue.ResourceVersion, blue.UID, blue.Status = "", "", spk.Status{}
		r.create(blue)
		eventually(t, 3*time.Second, "blue VIP back and Programmed", func() error {
			for i, tmm := range r.tmms {
				if len(members(tmm.Config(), "198.20.20.100")) != 2 {
					return fmt.Errorf("replica %d: blue pool %v", i, members(tmm.Config(), "198.20.20.100"))
				}
			}
			return r.allProgrammed()
		})
	})

	t.Run("every kind: create, update and delete reach the replicas", func(t *testing.T) {
		spkNS := topology.Default().SPK.Namespace
		inBoth := func(what string, ok func(cfg *config.Config) bool) {
			t.Helper()
			eventually(t, 3*time.Second, what, func() error {
				for i, tmm := range r.tmms {
					if !ok(tmm.Config()) {
						return fmt.Errorf("replica %d does not show it yet", i)
					}
				}
				return r.allProgrammed()
			})
		}
		// F5SPKStaticRoute: create, update, delete.
		route := &spk.F5SPKStaticRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: spkNS, Name: "to-lab-net"},
			Spec:       spk.F5SPKStaticRouteSpec{Destination: "198.51.100.0", PrefixLen: 24, Gateway: "192.0.2.250"},
		}
		r.create(route)
		hasRoute := func(prefix string) func(*config.Config) bool {
			return func(cfg *config.Config) bool {
				return slices.ContainsFunc(cfg.Routes, func(rt config.Route) bool { return rt.Prefix.String() == prefix })
			}
		}
		inBoth("static route created", hasRoute("198.51.100.0/24"))
		r.update(route, func() { route.Spec.Destination, route.Spec.PrefixLen = "198.51.100.128", 25 })
		inBoth("static route updated", func(cfg *config.Config) bool {
			return hasRoute("198.51.100.128/25")(cfg) && !hasRoute("198.51.100.0/24")(cfg)
		})
		if err := r.c.Delete(r.ctx(), route); err != nil {
			t.Fatal(err)
		}
		inBoth("static route deleted", func(cfg *config.Config) bool { return len(cfg.Routes) == 0 })

		// F5SPKVlan: update (MTU).
		vlan := &spk.F5SPKVlan{ObjectMeta: metav1.ObjectMeta{Namespace: spkNS, Name: objs.VLANs[0].Name}}
		r.update(vlan, func() { vlan.Spec.MTU = 9000 })
		inBoth("VLAN MTU 9000", func(cfg *config.Config) bool {
			return slices.ContainsFunc(cfg.VLANs, func(v config.VLAN) bool { return v.Name == vlan.Spec.Name && v.MTU == 9000 })
		})

		// F5SPKSnatpool: update (replica 1's row), seen only by replica 1.
		pool := &spk.F5SPKSnatpool{ObjectMeta: metav1.ObjectMeta{Namespace: spkNS, Name: "red-snat"}}
		r.update(pool, func() { pool.Spec.AddressList[1] = []string{"192.0.2.105", "2001::192:0:2:105"} })
		redSNAT := func(cfg *config.Config) string {
			for _, tn := range cfg.Tenants {
				if tn.Namespace == "red" && len(tn.SNAT) > 0 {
					return tn.SNAT[0].String()
				}
			}
			return ""
		}
		inBoth("snatpool row 1 changed", func(cfg *config.Config) bool {
			return redSNAT(cfg) == []string{"192.0.2.100", "192.0.2.105"}[cfg.Replica]
		})

		// F5SPKEgress: delete, re-create.
		var egress spk.F5SPKEgress
		if err := r.c.Get(r.ctx(), client.ObjectKey{Namespace: "red", Name: "red-egress"}, &egress); err != nil {
			t.Fatal(err)
		}
		if err := r.c.Delete(r.ctx(), &egress); err != nil {
			t.Fatal(err)
		}
		inBoth("red egress tenant gone", func(cfg *config.Config) bool { return redSNAT(cfg) == "" })
		egress.ResourceVersion, egress.UID, egress.Status = "", "", spk.Status{}
		r.create(&egress)
		inBoth("red egress tenant back", func(cfg *config.Config) bool { return redSNAT(cfg) != "" })
	})

	t.Run("cross-object errors are Accepted=False with the reason; the rest stays Programmed", func(t *testing.T) {
		r.create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "green"}})
		bad := &spk.F5SPKEgress{
			ObjectMeta: metav1.ObjectMeta{Namespace: "green", Name: "green-egress", Annotations: map[string]string{spk.AnnotationVXLANKey: "300"}},
			Spec:       spk.F5SPKEgressSpec{EgressSnatpool: "missing-snat", SNATType: spk.SNATPool},
		}
		r.create(bad)
		orphan := &spk.F5SPKIngressTCP{
			ObjectMeta: metav1.ObjectMeta{Namespace: "green", Name: "green-ingress"},
			Service:    spk.ServiceRef{Name: "no-such-svc", Port: 80},
			Spec:       spk.F5SPKIngressTCPSpec{DestinationAddress: "198.19.19.200", DestinationPort: 80},
		}
		r.create(orphan)
		for _, tc := range []struct {
			obj  client.Object
			want string
		}{
			{bad, `no F5SPKSnatpool has spec.name "missing-snat"`},
			{orphan, `no Service "no-such-svc"`},
		} {
			eventually(t, 3*time.Second, "Accepted=False with the reason", func() error {
				if err := r.c.Get(r.ctx(), client.ObjectKeyFromObject(tc.obj), tc.obj); err != nil {
					return err
				}
				acc, err := condition(tc.obj, spk.ConditionAccepted)
				if err != nil {
					return err
				}
				prog, err := condition(tc.obj, spk.ConditionProgrammed)
				if err != nil {
					return err
				}
				if acc.Status != metav1.ConditionFalse || !strings.Contains(acc.Message, tc.want) {
					return fmt.Errorf("Accepted=%s %q, want False with %q", acc.Status, acc.Message, tc.want)
				}
				if prog.Status != metav1.ConditionFalse || prog.Reason != controller.ReasonNotAccepted {
					return fmt.Errorf("Programmed=%s reason %s, want False NotAccepted", prog.Status, prog.Reason)
				}
				return nil
			})
		}
		red := r.ingress("red", "red-ingress")
		if c, _ := condition(red, spk.ConditionProgrammed); c == nil || c.Status != metav1.ConditionTrue {
			t.Fatalf("one bad CR took red-ingress down: %+v", c)
		}
		for _, o := range []client.Object{bad, orphan} {
			if err := r.c.Delete(r.ctx(), o); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("a replica that does not answer keeps Programmed False, naming it", func(t *testing.T) {
		r.tmms[1].Stop()
		in := r.ingress("red", "red-ingress")
		r.update(in, func() { in.Spec.IdleTimeout = 900 })
		eventually(t, 5*time.Second, "Programmed=False naming replica 1", func() error {
			c, err := condition(r.ingress("red", "red-ingress"), spk.ConditionProgrammed)
			if err != nil {
				return err
			}
			want := "replica 1 (pod " + r.tmmNS + "/f5-tmm-1) did not confirm"
			if c.Status != metav1.ConditionFalse || c.Reason != controller.ReasonNotConfirmed || !strings.Contains(c.Message, want) {
				return fmt.Errorf("Programmed=%s %s %q; want False naming %q", c.Status, c.Reason, c.Message, want)
			}
			if strings.Contains(c.Message, "replica 0") {
				return fmt.Errorf("message %q blames replica 0, which answered", c.Message)
			}
			return nil
		})
		// What a student's script sees while a replica is down.
		out, err := r.kubectl("wait", "--for=condition=Programmed", "--timeout=1s", "-n", "red", "f5-spk-ingresstcps.ingresstcp.k8s.f5net.com/red-ingress")
		if err == nil || !strings.Contains(out, "timed out") {
			t.Fatalf("kubectl wait succeeded while replica 1 is down: %v\n%s", err, out)
		}
		if err := r.tmms[1].Resume(); err != nil {
			t.Fatal(err)
		}
		took := eventually(t, 5*time.Second, "Programmed again after the replica answers", func() error {
			if err := r.allProgrammed(); err != nil {
				return err
			}
			for _, vs := range r.tmms[1].Config().VirtualServers {
				if vs.Name == "red/red-ingress" && vs.IdleTimeout != 900 {
					return fmt.Errorf("replica 1 idle timeout %d", vs.IdleTimeout)
				}
			}
			return nil
		})
		t.Logf("replica back → Programmed in %s", took)
	})

	t.Run("a restarted controller sends nothing and writes nothing when nothing changed", func(t *testing.T) {
		eventually(t, 3*time.Second, "settled", r.allProgrammed)
		before := []int64{r.tmms[0].Applies(), r.tmms[1].Applies()}
		versions := map[string]string{}
		objs, err := r.crs()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			versions[o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
		}
		r.stopController()
		r.startController()
		eventually(t, 5*time.Second, "the new controller reconciled with both replicas confirmed", func() error {
			last := r.rec.Last()
			if last.Replicas != 2 || !last.Confirmed[0] || !last.Confirmed[1] {
				return fmt.Errorf("last reconcile %+v", last)
			}
			return nil
		})
		time.Sleep(time.Second) // room for any stray push or status write
		after := []int64{r.tmms[0].Applies(), r.tmms[1].Applies()}
		if !slices.Equal(before, after) {
			t.Fatalf("ApplyConfig calls per replica went from %v to %v across a controller restart", before, after)
		}
		objs, err = r.crs()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if v := versions[o.GetNamespace()+"/"+o.GetName()]; v != o.GetResourceVersion() {
				t.Errorf("%s/%s was written across the restart (resourceVersion %s → %s)", o.GetNamespace(), o.GetName(), v, o.GetResourceVersion())
			}
		}
	})

	t.Run("without TMM pods nothing is Programmed", func(t *testing.T) {
		for i := range 2 {
			err := r.c.Delete(r.ctx(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: r.tmmNS, Name: fmt.Sprintf("f5-tmm-%d", i)}})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Fatal(err)
			}
		}
		// The StatefulSet still wants 2: each replica is one that does not
		// confirm, and says why.
		eventually(t, 3*time.Second, "Programmed=False ReplicasNotConfirmed", func() error {
			c, err := condition(r.ingress("red", "red-ingress"), spk.ConditionProgrammed)
			if err != nil {
				return err
			}
			if c.Status != metav1.ConditionFalse || c.Reason != controller.ReasonNotConfirmed || !strings.Contains(c.Message, "no running TMM pod") {
				return fmt.Errorf("Programmed=%s %s %q", c.Status, c.Reason, c.Message)
			}
			return nil
		})
		// Without the StatefulSet there is no replica at all.
		if err := r.c.Delete(r.ctx(), &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: r.tmmNS, Name: "f5-tmm"}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "Programmed=False NoTMMReplicas", func() error {
			c, err := condition(r.ingress("red", "red-ingress"), spk.ConditionProgrammed)
			if err != nil {
				return err
			}
			if c.Status != metav1.ConditionFalse || c.Reason != controller.ReasonNoReplicas {
				return fmt.Errorf("Programmed=%s %s %q", c.Status, c.Reason, c.Message)
			}
			return nil
		})
	})
}
