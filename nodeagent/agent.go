package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/spk"
)

// Name is the controller's name, and the source of the Events it records.
const Name = "spk-node"

// DefaultResync is how often the node is reconciled with no event: it picks
// up a changed address annotation (the agent may only get its Node, not
// watch it) and repairs devices or rules someone removed.
const DefaultResync = 30 * time.Second

// Event reasons on the Node.
const (
	// ReasonInvalid: the objects do not give a usable configuration (e.g.
	// no address annotation); nothing was changed on the node.
	ReasonInvalid = "SPKEgressInvalid"
	// ReasonTenantSkipped: a tenant with pods here gets no tunnel.
	ReasonTenantSkipped = "SPKEgressTenantSkipped"
	// ReasonApplyFailed: the kernel refused the configuration.
	ReasonApplyFailed = "SPKEgressApplyFailed"
	// ReasonConfigured: the node is configured again after a warning.
	ReasonConfigured = "SPKEgressConfigured"
)

// Options configure the node agent.
type Options struct {
	// NodeName is the node the agent runs on (required).
	NodeName string
	// AddressAnnotation names the node annotation with its egress-net
	// address; "" means spk.DefaultNodeAddressAnnotation.
	AddressAnnotation string
	// Underlay is the egress-net device; "" means the one holding the
	// node's egress-net IPv4 address.
	Underlay string
	// ClusterCIDRs (pod and service subnets) stay on the main table; the
	// node's egress-net subnet is added to them.
	ClusterCIDRs []netip.Prefix
	// InNetns runs the netlink work (finding the underlay, applying,
	// removing) in the node's network namespace; nil runs it in the
	// caller's. Tests pass a function that enters a test namespace on a
	// locked thread.
	InNetns func(fn func() error) error
	// Resync is the period of reconciles without events (default
	// DefaultResync).
	Resync time.Duration
	Log    *slog.Logger
}

// Agent reconciles the node's tenant egress devices and rules.
type Agent struct {
	opts   Options
	cache  client.Reader // pods (this node's only), egresses, VLANs
	api    client.Reader // the Node, read directly: RBAC allows get only
	events record.EventRecorder
	// ready turns true after the first reconcile, applied or reported.
	ready atomic.Bool

	// What the last reconcile reported and applied, so that an unchanged
	// problem is not recorded as an Event every resync and an unchanged
	// configuration is not logged again. One worker reconciles, so no lock.
	reported string
	applied  string
}

func (o *Options) defaults() error {
	if o.NodeName == "" {
		return errors.New("nodeagent: NodeName is empty")
	}
	if o.AddressAnnotation == "" {
		o.AddressAnnotation = spk.DefaultNodeAddressAnnotation
	}
	if o.InNetns == nil {
		o.InNetns = func(fn func() error) error { return fn() }
	}
	if o.Resync <= 0 {
		o.Resync = DefaultResync
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Setup registers the agent's controller with mgr, whose cache must hold
// only this node's pods (CacheOptions). Every change of a pod there, an
// F5SPKEgress or an F5SPKVlan maps to one work item, the node, because the
// configuration is a function of all of them together.
func Setup(mgr ctrl.Manager, opts Options) (*Agent, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	a := &Agent{
		opts:   opts,
		cache:  mgr.GetClient(),
		api:    mgr.GetAPIReader(),
		events: mgr.GetEventRecorderFor(Name),
	}
	toNode := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{a.request()}
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named(Name).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: 1,
			// One agent per process in a cluster; tests start several.
			SkipNameValidation: ptr.To(true),
		}).
		Watches(&corev1.Pod{}, toNode, builder.WithPredicates(podChanged())).
		Watches(&spk.F5SPKEgress{}, toNode).
		Watches(&spk.F5SPKVlan{}, toNode).
		// One reconcile at start even with nothing to watch: it removes
		// what a previous run left for tenants that are gone.
		WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(a.request())
			return nil
		})).
		Complete(a)
	if err != nil {
		return nil, fmt.Errorf("setting up the %s controller: %w", Name, err)
	}
	return a, nil
}

func (a *Agent) request() reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: a.opts.NodeName}}
}

// Ready is a readiness check: it passes once the first reconcile is done.
func (a *Agent) Ready(*http.Request) error {
	if !a.ready.Load() {
		return errors.New("the node has not been reconciled yet")
	}
	return nil
}

// Reconcile reads the inputs, builds the node's configuration and applies
// it. Problems in the objects are logged and recorded as Events on the
// Node, and leave the node as it is until the objects change; a failed
// apply is retried with backoff.
func (a *Agent) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	in, err := a.read(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	defer a.ready.Store(true)
	node := in.Node
	if node == nil {
		// Events still need an object; kubelet names its Node the same way.
		node = &corev1.Node{}
		node.Name, node.UID = a.opts.NodeName, types.UID(a.opts.NodeName)
	}
	d, err := Build(in)
	var warnings []warning
	for _, s := range d.Skipped {
		warnings = append(warnings, warning{ReasonTenantSkipped, s})
	}
	if err != nil {
		warnings = append(warnings, warning{ReasonInvalid, "egress configuration left unchanged: " + err.Error()})
		a.report(node, warnings)
		return reconcile.Result{RequeueAfter: a.opts.Resync}, nil
	}
	applied, err := a.apply(d.Node)
	if err != nil {
		a.report(node, append(warnings, warning{ReasonApplyFailed, err.Error()}))
		return reconcile.Result{}, err
	}
	a.report(node, warnings)
	if summary := describe(applied); summary != a.applied {
		a.opts.Log.Info("node egress configured", "node", a.opts.NodeName, "config", summary)
		a.applied = summary
	}
	return reconcile.Result{RequeueAfter: a.opts.Resync}, nil
}

func (a *Agent) read(ctx context.Context) (Inputs, error) {
	in := Inputs{NodeName: a.opts.NodeName, AddressAnnotation: a.opts.AddressAnnotation, ClusterCIDRs: a.opts.ClusterCIDRs}
	node := &corev1.Node{}
	switch err := a.api.Get(ctx, types.NamespacedName{Name: a.opts.NodeName}, node); {
	case err == nil:
		in.Node = node
	case apierrors.IsNotFound(err):
		// Build says why that matters, if it does.
	default:
		return in, fmt.Errorf("reading node %s: %w", a.opts.NodeName, err)
	}
	var (
		pods     corev1.PodList
		egresses spk.F5SPKEgressList
		vlans    spk.F5SPKVlanList
	)
	for _, l := range []struct {
		what string
		list client.ObjectList
	}{{"pods", &pods}, {"F5SPKEgresses", &egresses}, {"F5SPKVlans", &vlans}} {
		if err := a.cache.List(ctx, l.list); err != nil {
			return in, fmt.Errorf("listing %s: %w", l.what, err)
		}
	}
	in.Pods, in.Egresses, in.VLANs = pods.Items, egresses.Items, vlans.Items
	return in, nil
}

// apply makes the node match n in its network namespace: with no tenants
// it keeps only the guard (which needs no underlay or address), else it
// finds the underlay and applies.
func (a *Agent) apply(n tenantnet.Node) (tenantnet.Node, error) {
	err := a.opts.InNetns(func() error {
		if len(n.Tenants) == 0 {
			if err := tenantnet.Apply(tenantnet.Node{Guard: n.Guard}); err != nil {
				return fmt.Errorf("applying the guard: %w", err)
			}
			return nil
		}
		n.Underlay = a.opts.Underlay
		if n.Underlay == "" {
			dev, err := UnderlayOf(n.Local)
			if err != nil {
				return err
			}
			n.Underlay = dev
		}
		if err := tenantnet.Apply(n); err != nil {
			return fmt.Errorf("applying the egress configuration: %w", err)
		}
		return nil
	})
	return n, err
}

// UnderlayOf names the device holding addr in the calling thread's network
// namespace.
func UnderlayOf(addr netip.Addr) (string, error) {
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	// A node's addresses change under us (pods come and go): retry
	// interrupted dumps rather than read a partial list.
	addrs, err := tenantnet.Consistent(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, family) })
	if err != nil {
		return "", fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == addr {
			l, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				return "", fmt.Errorf("device %d holding %s: %w", a.LinkIndex, addr, err)
			}
			return l.Attrs().Name, nil
		}
	}
	return "", fmt.Errorf("no device holds %s, the node's egress-net address (set --underlay to name it)", addr)
}

type warning struct{ reason, message string }

// report logs and records the warnings when they differ from the last
// reconcile's, and records the recovery when they are gone.
func (a *Agent) report(node *corev1.Node, ws []warning) {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.reason + ": " + w.message + "\n")
	}
	key := b.String()
	if key == a.reported {
		return
	}
	if len(ws) == 0 {
		a.opts.Log.Info("node egress problems resolved", "node", a.opts.NodeName)
		a.events.Event(node, corev1.EventTypeNormal, ReasonConfigured, "tenant egress is configured; the earlier problems are gone")
	}
	for _, w := range ws {
		a.opts.Log.Warn("node egress problem", "node", a.opts.NodeName, "reason", w.reason, "problem", w.message)
		a.events.Event(node, corev1.EventTypeWarning, w.reason, w.message)
	}
	a.reported = key
}

// describe summarises an applied configuration for the log.
func describe(n tenantnet.Node) string {
	if len(n.Tenants) == 0 {
		return "no tenants"
	}
	parts := []string{fmt.Sprintf("underlay %s local %s", n.Underlay, n.Local)}
	for _, t := range n.Tenants {
		parts = append(parts, fmt.Sprintf("%s vni %d tmms %v pods %v", t.Name, t.VNI, t.TMMs, t.Pods))
	}
	return strings.Join(parts, "; ")
}

// podChanged passes pod updates that change what Build reads of a pod
// (status updates for readiness and the like are frequent and irrelevant).
func podChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return podView(e.ObjectOld) != podView(e.ObjectNew)
		},
	}
}

func podView(o client.Object) string {
	p, ok := o.(*corev1.Pod)
	if !ok {
		return ""
	}
	addrs, bad := PodAddresses(p)
	ss := make([]string, 0, len(addrs)+len(bad))
	for _, a := range addrs {
		ss = append(ss, a.String())
	}
	ss = append(ss, bad...)
	slices.Sort(ss)
	return fmt.Sprintf("%s %s %t %v", p.Namespace, p.Spec.NodeName, Eligible(p, p.Spec.NodeName), ss)
}
