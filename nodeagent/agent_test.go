package nodeagent

import (
	"context"
	"fmt"
	spkscheme "github.com/spklab/spklab/spk/scheme"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spklab/spklab/images/kubebin/kubetest"
	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/manifests"
	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/spk"
)

// wait bounds every wait of the integration test.
const wait = 10 * time.Second

// eventually polls cond until it holds or wait passes; cond says what it
// saw, for the failure message.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still not %s; last saw: %s", wait, what, saw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// netState is what tenantnet made in the node namespace, comparable.
type netState struct {
	devices []string // "vx4242 id=4242 local=198.18.100.3 dev=eth2 up"
	fdb     []string // "vx4242 198.18.100.201"
	podRule []string // "10.244.1.2 -> vx4242's table"
	exempt  []string // destination prefixes of the exempt rules
}

func (s netState) String() string {
	return fmt.Sprintf("devices %v fdb %v pod rules %v exempt %v", s.devices, s.fdb, s.podRule, s.exempt)
}

func readNetState(t *testing.T, ns *testenv.Netns) netState {
	t.Helper()
	var s netState
	err := ns.Do(func() error {
		links, err := tenantnet.Consistent(netlink.LinkList)
		if err != nil {
			return err
		}
		names := map[int]string{}
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
		tableDev := map[int]string{}
		for _, l := range links {
			v, ok := l.(*netlink.Vxlan)
			if !ok {
				continue
			}
			a := v.Attrs()
			state := "down"
			if a.Flags&net.FlagUp != 0 {
				state = "up"
			}
			s.devices = append(s.devices, fmt.Sprintf("%s id=%d local=%s dev=%s %s", a.Name, v.VxlanId, v.SrcAddr, names[v.VtepDevIndex], state))
			tableDev[tenantnet.Table(uint32(v.VxlanId))] = a.Name
			neighs, err := tenantnet.Consistent(func() ([]netlink.Neigh, error) { return netlink.NeighList(a.Index, unix.AF_BRIDGE) })
			if err != nil {
				return err
			}
			for _, nb := range neighs {
				if nb.HardwareAddr.String() == "00:00:00:00:00:00" {
					s.fdb = append(s.fdb, a.Name+" "+nb.IP.String())
				}
			}
		}
		rules, err := tenantnet.Consistent(func() ([]netlink.Rule, error) { return netlink.RuleList(netlink.FAMILY_ALL) })
		if err != nil {
			return err
		}
		for _, r := range rules {
			switch {
			case r.Priority == tenantnet.PriorityPod && r.Src != nil:
				dev := tableDev[r.Table]
				if dev == "" {
					dev = fmt.Sprintf("table %d without device", r.Table)
				}
				s.podRule = append(s.podRule, netconv.Prefix(r.Src).Addr().String()+" -> "+dev)
			case r.Priority == tenantnet.PriorityExempt && r.Dst != nil:
				s.exempt = append(s.exempt, netconv.Prefix(r.Dst).String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the node namespace: %v", err)
	}
	for _, l := range [][]string{s.devices, s.fdb, s.podRule, s.exempt} {
		slices.Sort(l)
	}
	return s
}

// nodeNamespace stands in for a node: a namespace with "eth2" holding
// 198.18.100.3/24 (its veth peer stays in the namespace, unaddressed).
func nodeNamespace(t *testing.T) *testenv.Netns {
	t.Helper()
	ns := testenv.NewNetns(t, "agent")
	err := ns.Do(func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth2", MTU: 1500}, PeerName: "eth2p"}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("veth: %w", err)
		}
		for _, name := range []string{"eth2", "eth2p", "lo"} {
			l, err := netlink.LinkByName(name)
			if err != nil {
				return err
			}
			if name == "eth2" {
				if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: netconv.IPNet(netip.MustParsePrefix("198.18.100.3/24"))}); err != nil {
					return fmt.Errorf("address on eth2: %w", err)
				}
			}
			if err := netlink.LinkSetUp(l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func startAPIServer(t *testing.T) *kubetest.Env {
	t.Helper()
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	scheme, err := spkscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return kubetest.Start(t, kubetest.Options{CRDs: crds, Scheme: scheme})
}

// startAgent runs the agent until the test ends and waits for its first
// reconcile.
func startAgent(t *testing.T, env *kubetest.Env, opts Options) ctrl.Manager {
	t.Helper()
	// controller-runtime's own messages (reconcile errors) at warning level.
	ctrl.SetLogger(logr.FromSlogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	mgr, agent, err := NewManager(env.Config, opts, ManagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("agent: %v", err)
			}
		case <-time.After(wait):
			t.Errorf("agent did not stop within %s", wait)
		}
	})
	eventually(t, "reconciled once", func() (bool, string) {
		err := agent.Ready(nil)
		return err == nil, fmt.Sprint(err)
	})
	return mgr
}

func createPod(t *testing.T, c client.Client, ns, name, nodeName, ip string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{
			NodeName:   nodeName,
			Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}},
		},
	}
	if err := c.Create(ctx, p); err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
	// No kubelet runs: play its part and report the pod running.
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}}
	if err := c.Status().Update(ctx, p); err != nil {
		t.Fatalf("setting the status of pod %s/%s: %v", ns, name, err)
	}
	return p
}

func TestAgentConfiguresNode(t *testing.T) {
	testenv.RequireRoot(t)
	env := startAPIServer(t)
	nodeNS := nodeNamespace(t)
	c := env.Client
	ctx := context.Background()
	const (
		me    = "bnk-worker"
		other = "bnk-worker2"
		vni   = 4242
	)
	dev := tenantnet.Device(vni)

	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: me, Annotations: map[string]string{
		spk.DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3/24"}`,
	}}}
	if err := c.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	spkNS, red, blue := env.Namespace(t), env.Namespace(t), env.Namespace(t)

	// What an earlier run made for a tenant that is gone by now.
	stale := tenantnet.Node{Underlay: "eth2", Local: netip.MustParseAddr("198.18.100.3"), Exempt: prefixes("10.244.0.0/16"),
		Tenants: []tenantnet.Tenant{{Name: "gone", VNI: 999, TMMs: addrs("198.18.100.201"), Pods: addrs("10.244.1.99")}}}
	if err := nodeNS.Do(func() error { return tenantnet.Apply(stale) }); err != nil {
		t.Fatal(err)
	}
	if s := readNetState(t, nodeNS); len(s.devices) != 1 || len(s.podRule) != 1 {
		t.Fatalf("stale state not made: %s", s)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	mgr := startAgent(t, env, Options{
		NodeName:     me,
		ClusterCIDRs: clusterCIDRs,
		InNetns:      nodeNS.Do,
		Log:          logger,
	})

	// No SPK object yet: the first reconcile, with no event to trigger it,
	// removed the stale tenant.
	if s := readNetState(t, nodeNS); len(s.devices)+len(s.fdb)+len(s.podRule)+len(s.exempt) > 0 {
		t.Fatalf("left from before or made with no egress: %s", s)
	}

	vl := &spk.F5SPKVlan{
		ObjectMeta: metav1.ObjectMeta{Namespace: spkNS, Name: "egress"},
		Spec: spk.F5SPKVlanSpec{Name: "egress", Interfaces: []string{"1.2"}, Internal: true,
			SelfIPv4s: []string{"198.18.100.201", "198.18.100.202"}, PrefixLenV4: 24},
	}
	if err := c.Create(ctx, vl); err != nil {
		t.Fatal(err)
	}

	eg := &spk.F5SPKEgress{ObjectMeta: metav1.ObjectMeta{Namespace: red, Name: "red-egress",
		Annotations: map[string]string{spk.AnnotationVXLANKey: fmt.Sprint(vni)}}}
	if err := c.Create(ctx, eg); err != nil {
		t.Fatal(err)
	}
	createPod(t, c, red, "elsewhere", other, "10.244.2.2")
	pod1 := createPod(t, c, red, "app-1", me, "10.244.1.2")

	wantDevice := []string{dev + " id=4242 local=198.18.100.3 dev=eth2 up"}
	wantFDB := []string{dev + " 198.18.100.201", dev + " 198.18.100.202"}
	wantExempt := []string{"10.244.0.0/16", "10.96.0.0/16", "198.18.100.0/24"} // sorted as strings
	check := func(what string, pods ...string) {
		t.Helper()
		var want []string
		for _, p := range pods {
			want = append(want, p+" -> "+dev)
		}
		eventually(t, what, func() (bool, string) {
			s := readNetState(t, nodeNS)
			if slices.ContainsFunc(s.podRule, func(r string) bool { return strings.HasPrefix(r, "10.244.2.") }) {
				t.Fatalf("a pod of another node got a rule: %s", s)
			}
			ok := slices.Equal(s.devices, wantDevice) && slices.Equal(s.fdb, wantFDB) &&
				slices.Equal(s.podRule, want) && slices.Equal(s.exempt, wantExempt)
			return ok, s.String()
		})
	}
	check("configured for the first pod", "10.244.1.2")

	// The agent's cache holds this node's pods only.
	var cached corev1.PodList
	if err := mgr.GetClient().List(ctx, &cached); err != nil {
		t.Fatal(err)
	}
	for _, p := range cached.Items {
		if p.Spec.NodeName != me {
			t.Errorf("the agent's cache holds pod %s/%s of node %s", p.Namespace, p.Name, p.Spec.NodeName)
		}
	}
	if len(cached.Items) != 1 {
		t.Errorf("the agent's cache holds %d pods, want 1", len(cached.Items))
	}

	pod2 := createPod(t, c, red, "app-2", me, "10.244.1.3")
	check("a rule for the second pod", "10.244.1.2", "10.244.1.3")

	// A graceful delete leaves the pod terminating (no kubelet finishes it):
	// its rule goes at once.
	if err := c.Delete(ctx, pod2); err != nil {
		t.Fatal(err)
	}
	check("the terminating pod's rule gone", "10.244.1.2")

	// A pod of a tenant whose egress has a bad key: reported on the Node,
	// the good tenant is untouched.
	bad := &spk.F5SPKEgress{ObjectMeta: metav1.ObjectMeta{Namespace: blue, Name: "blue-egress",
		Annotations: map[string]string{spk.AnnotationVXLANKey: "not-a-key"}}}
	if err := c.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	createPod(t, c, blue, "app", me, "10.244.1.4")
	eventually(t, "a warning Event on the Node", func() (bool, string) {
		var evs corev1.EventList
		if err := c.List(ctx, &evs, client.MatchingFields{"involvedObject.name": me, "reason": ReasonTenantSkipped}); err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Type == corev1.EventTypeWarning && e.InvolvedObject.Kind == "Node" &&
				strings.Contains(e.Message, `F5SPKEgress `+blue+`/blue-egress: annotation spklab.io/vxlan-key "not-a-key" is not a VXLAN key`) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events: %+v", len(evs.Items), evs.Items)
	})
	check("the good tenant unchanged", "10.244.1.2")

	// Deleting the last pod of the tenant for real (grace 0) leaves the
	// node with no tenant: device and rules go, though the egress stays.
	if err := c.Delete(ctx, pod1, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted pod's rule gone", func() (bool, string) {
		s := readNetState(t, nodeNS)
		return len(s.devices)+len(s.fdb)+len(s.podRule)+len(s.exempt) == 0, s.String()
	})

	createPod(t, c, red, "app-3", me, "10.244.1.5")
	check("configured again for a new pod", "10.244.1.5")

	if err := c.Delete(ctx, eg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "device and rules gone with the egress", func() (bool, string) {
		s := readNetState(t, nodeNS)
		return len(s.devices)+len(s.fdb)+len(s.podRule)+len(s.exempt) == 0, s.String()
	})
}

// A node without its address annotation gets an Event saying so and is
// configured once the annotation appears (the periodic resync reads it).
func TestAgentReportsMissingAnnotation(t *testing.T) {
	testenv.RequireRoot(t)
	env := startAPIServer(t)
	nodeNS := nodeNamespace(t)
	c := env.Client
	ctx := context.Background()
	const me = "bnk-worker3"
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: me}}
	if err := c.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	spkNS, red := env.Namespace(t), env.Namespace(t)
	for _, o := range []client.Object{
		&spk.F5SPKVlan{ObjectMeta: metav1.ObjectMeta{Namespace: spkNS, Name: "egress"},
			Spec: spk.F5SPKVlanSpec{Name: "egress", Interfaces: []string{"1.2"}, Internal: true, SelfIPv4s: []string{"198.18.100.201"}, PrefixLenV4: 24}},
		&spk.F5SPKEgress{ObjectMeta: metav1.ObjectMeta{Namespace: red, Name: "e", Annotations: map[string]string{spk.AnnotationVXLANKey: "77"}}},
	} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	createPod(t, c, red, "app", me, "10.244.3.2")
	startAgent(t, env, Options{NodeName: me, ClusterCIDRs: clusterCIDRs, InNetns: nodeNS.Do, Resync: time.Second,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})

	eventually(t, "an Event naming the missing annotation", func() (bool, string) {
		var evs corev1.EventList
		if err := c.List(ctx, &evs, client.MatchingFields{"involvedObject.name": me, "reason": ReasonInvalid}); err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if strings.Contains(e.Message, "node "+me+" has no "+spk.DefaultNodeAddressAnnotation+" annotation") {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", evs.Items)
	})
	if s := readNetState(t, nodeNS); len(s.devices) > 0 {
		t.Fatalf("configured without an address: %s", s)
	}

	n.Annotations = map[string]string{spk.DefaultNodeAddressAnnotation: `{"ipv4":"198.18.100.3/24"}`}
	if err := c.Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, "configured after the annotation appeared", func() (bool, string) {
		s := readNetState(t, nodeNS)
		return slices.Equal(s.podRule, []string{"10.244.3.2 -> vx77"}) && slices.Equal(s.fdb, []string{"vx77 198.18.100.201"}), s.String()
	})
	eventually(t, "an Event saying it recovered", func() (bool, string) {
		var evs corev1.EventList
		err := c.List(ctx, &evs, client.MatchingFields{"involvedObject.name": me, "reason": ReasonConfigured})
		if err != nil {
			return false, err.Error()
		}
		return len(evs.Items) > 0, fmt.Sprintf("%d events", len(evs.Items))
	})
}

// UnderlayOf finds the device by its address, and says what to do when
// none has it.
func TestUnderlayOf(t *testing.T) {
	testenv.RequireRoot(t)
	ns := nodeNamespace(t)
	var got string
	var missing error
	err := ns.Do(func() error {
		var err error
		got, err = UnderlayOf(netip.MustParseAddr("198.18.100.3"))
		_, missing = UnderlayOf(netip.MustParseAddr("198.18.100.4"))
		return err
	})
	if err != nil || got != "eth2" {
		t.Fatalf("UnderlayOf = %q, %v; want eth2", got, err)
	}
	if missing == nil || !strings.Contains(missing.Error(), "no device holds 198.18.100.4") {
		t.Errorf("missing address: %v", missing)
	}
}
