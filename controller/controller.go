// Package controller is spk-controller's reconciler: it reads the SPK
// custom resources, the Services, EndpointSlices and Nodes they depend on
// and the TMM pods; compiles one config per TMM replica with the same
// compiler `spk-tmm --config` uses (spk.FromCluster + spk.Compile); pushes
// each config over the TMM gRPC API; and writes the Accepted and
// Programmed conditions of every CR.
//
// It is built on controller-runtime rather than bare client-go informers:
// the shared cache, the rate-limited work queue, leader election, health
// probes and the envtest harness are what a controller needs, and
// controller-runtime is the maintained way to get them. Every input change
// maps to one work item, because a config is a function of all the
// objects together (an egress needs its snatpool, an ingress its VLANs and
// endpoints): compiling everything is milliseconds, and one item means no
// two reconciles race for the same replicas.
package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/spk"
)

// Options configure the controller.
type Options struct {
	// TMMNamespace and TMMSelector find the TMM pods; only those the
	// StatefulSet TMMStatefulSet owns are TMMs, and its spec.replicas is
	// the replica count.
	TMMNamespace   string
	TMMSelector    labels.Selector
	TMMStatefulSet string
	// TMMAPIPort is the port of the TMM gRPC API on each pod's IP.
	TMMAPIPort int
	// TMMAPITLS, when set, reaches the TMMs over mutual TLS
	// (apicerts.ClientConfig: the controller's client certificate and
	// the name the TMMs' certificate carries); nil = in the clear, for
	// tests on loopback.
	TMMAPITLS *tls.Config
	// NodeAddressAnnotation names the node annotation with its egress-net
	// address; empty = spk.DefaultNodeAddressAnnotation.
	NodeAddressAnnotation string
	// Routing is the TMM's dynamic routing (the Helm values' BGP block).
	Routing *spk.DynamicRouting
	// PushTimeout bounds one replica's answer (default 3 s).
	PushTimeout time.Duration
	// Resync is how often what the replicas run is re-read, to catch a
	// replica that lost its config between watch events (default 10 s).
	Resync time.Duration
	// RetryAfter is the wait before retrying replicas that did not
	// confirm (default 1 s).
	RetryAfter time.Duration
	Log        *slog.Logger
}

func (o *Options) defaults() error {
	if o.TMMNamespace == "" {
		return errors.New("controller: TMMNamespace is empty")
	}
	if o.TMMSelector == nil || o.TMMSelector.Empty() {
		return errors.New("controller: TMMSelector is empty (it would take every pod of the namespace for a TMM)")
	}
	if o.TMMStatefulSet == "" {
		return errors.New("controller: TMMStatefulSet is empty (the StatefulSet whose pods are the TMMs)")
	}
	if o.TMMAPIPort <= 0 || o.TMMAPIPort > 65535 {
		return fmt.Errorf("controller: TMMAPIPort %d is not a port", o.TMMAPIPort)
	}
	if o.PushTimeout == 0 {
		o.PushTimeout = 3 * time.Second
	}
	if o.Resync == 0 {
		o.Resync = 10 * time.Second
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// CacheOptions restricts the manager's pod cache to the TMM pods: the
// controller never needs other pods, and RBAC lets it read pods only in
// the TMM namespace.
func CacheOptions(o Options) cache.Options {
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Pod{}:         {Namespaces: map[string]cache.Config{o.TMMNamespace: {}}, Label: o.TMMSelector},
		&appsv1.StatefulSet{}: {Namespaces: map[string]cache.Config{o.TMMNamespace: {}}},
	}}
}

// workItem is the one key every change maps to.
var workItem = reconcile.Request{NamespacedName: types.NamespacedName{Name: "spk-config"}}

// Reconciler compiles and pushes the TMM configs and writes CR status.
type Reconciler struct {
	client   client.Client
	opts     Options
	replicas *replicaSet

	mu   sync.Mutex
	last Result
}

// Result is what the last reconcile did (for tests and logs).
type Result struct {
	Replicas  int
	Confirmed map[int]bool // replica → runs the config it should
	Pushed    int          // ApplyConfig calls sent
}

// Setup registers the reconciler with the manager. Close it when the
// manager stops.
func Setup(mgr ctrl.Manager, opts Options) (*Reconciler, error) {
	return setup(mgr, opts, false)
}

func setup(mgr ctrl.Manager, opts Options, skipNameValidation bool) (*Reconciler, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	r := &Reconciler{client: mgr.GetClient(), opts: opts, replicas: newReplicaSet(opts.Resync, opts.TMMAPITLS)}
	toItem := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{workItem}
	})
	// Status writes do not change generation, so the controller's own
	// status updates do not wake it; annotations can (the VXLAN key).
	crChanged := builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{}))
	b := ctrl.NewControllerManagedBy(mgr).
		Named("spk").
		WithOptions(ctrlcontroller.Options{MaxConcurrentReconciles: 1, SkipNameValidation: &skipNameValidation}).
		Watches(&spk.F5SPKVlan{}, toItem, crChanged).
		Watches(&spk.F5SPKIngressTCP{}, toItem, crChanged).
		Watches(&spk.F5SPKSnatpool{}, toItem, crChanged).
		Watches(&spk.F5SPKEgress{}, toItem, crChanged).
		Watches(&spk.F5SPKStaticRoute{}, toItem, crChanged).
		Watches(&corev1.Service{}, toItem).
		Watches(&discoveryv1.EndpointSlice{}, toItem).
		// Node status heartbeats would wake the controller every few
		// seconds per node; only the address annotation matters.
		Watches(&corev1.Node{}, toItem, builder.WithPredicates(nodeAddressChanged{annotation: opts.nodeAnnotation()})).
		Watches(&corev1.Pod{}, toItem, builder.WithPredicates(tmmPodFilter{ns: opts.TMMNamespace, sel: opts.TMMSelector})).
		Watches(&appsv1.StatefulSet{}, toItem, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == opts.TMMNamespace && o.GetName() == opts.TMMStatefulSet
		})))
	if err := b.Complete(r); err != nil {
		return nil, fmt.Errorf("setting up the spk controller: %w", err)
	}
	return r, nil
}

func (o *Options) nodeAnnotation() string {
	if o.NodeAddressAnnotation == "" {
		return spk.DefaultNodeAddressAnnotation
	}
	return o.NodeAddressAnnotation
}

// Close drops the connections to the replicas.
func (r *Reconciler) Close() { r.replicas.close() }

// Last is what the last reconcile did.
func (r *Reconciler) Last() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Reconcile compiles every replica's config from the current objects,
// makes every replica run it and writes the CRs' conditions.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	in, err := r.read(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	res := spk.FromCluster(&in.cluster)
	byIndex, replicas, skipped := tmmPods(in.pods, in.statefulSet, r.opts.TMMAPIPort)
	for _, s := range skipped {
		r.opts.Log.Warn("TMM pod ignored", "why", s)
	}
	compiled := spk.Compile(res.Objects, replicas)
	rejected := compiled.Rejected
	for k, v := range res.Rejected {
		rejected[k] = v
	}

	results := r.push(ctx, compiled.Configs, byIndex)
	r.replicas.forget(byIndex)

	out := Result{Replicas: replicas, Confirmed: map[int]bool{}}
	allConfirmed := replicas > 0
	for _, pr := range results {
		out.Confirmed[pr.index] = pr.err == nil
		allConfirmed = allConfirmed && pr.err == nil
		if pr.pushed {
			out.Pushed++
		}
	}
	prog := programmedState(replicas, results, allConfirmed)
	if err := r.writeStatus(ctx, in, rejected, res.Notes, prog); err != nil {
		return reconcile.Result{}, err
	}
	r.mu.Lock()
	r.last = out
	r.mu.Unlock()
	r.opts.Log.Info("reconciled", "replicas", replicas, "confirmed", allConfirmed, "pushed", out.Pushed,
		"rejected", len(rejected), "took", time.Since(start).Round(time.Microsecond))
	if !allConfirmed && replicas > 0 {
		return reconcile.Result{RequeueAfter: r.opts.RetryAfter}, nil
	}
	return reconcile.Result{RequeueAfter: r.opts.Resync}, nil
}

// push syncs every replica in parallel; replicas without a pod get an
// error result.
func (r *Reconciler) push(ctx context.Context, cfgs []*config.Config, byIndex map[int]tmmPod) []pushResult {
	results := make([]pushResult, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		p, ok := byIndex[i]
		if !ok {
			results[i] = pushResult{index: i, err: errors.New("no running TMM pod with this index")}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, r.opts.PushTimeout)
			defer cancel()
			results[i] = r.replicas.sync(pctx, p, cfg)
		}()
	}
	wg.Wait()
	return results
}

// inputs is everything a reconcile reads.
type inputs struct {
	cluster spk.Cluster
	pods    []corev1.Pod
	// statefulSet is the TMM StatefulSet; nil when it does not exist.
	statefulSet *appsv1.StatefulSet
}

func (r *Reconciler) read(ctx context.Context) (*inputs, error) {
	var (
		vlans     spk.F5SPKVlanList
		ingresses spk.F5SPKIngressTCPList
		snatpools spk.F5SPKSnatpoolList
		egresses  spk.F5SPKEgressList
		routes    spk.F5SPKStaticRouteList
		services  corev1.ServiceList
		slices    discoveryv1.EndpointSliceList
		nodes     corev1.NodeList
		pods      corev1.PodList
	)
	for _, l := range []struct {
		what string
		list client.ObjectList
		opts []client.ListOption
	}{
		{"F5SPKVlans", &vlans, nil},
		{"F5SPKIngressTCPs", &ingresses, nil},
		{"F5SPKSnatpools", &snatpools, nil},
		{"F5SPKEgresses", &egresses, nil},
		{"F5SPKStaticRoutes", &routes, nil},
		{"Services", &services, nil},
		{"EndpointSlices", &slices, nil},
		{"Nodes", &nodes, nil},
		{"TMM pods", &pods, []client.ListOption{client.InNamespace(r.opts.TMMNamespace), client.MatchingLabelsSelector{Selector: r.opts.TMMSelector}}},
	} {
		if err := r.client.List(ctx, l.list, l.opts...); err != nil {
			return nil, fmt.Errorf("listing %s: %w", l.what, err)
		}
	}
	var sts *appsv1.StatefulSet
	var got appsv1.StatefulSet
	switch err := r.client.Get(ctx, client.ObjectKey{Namespace: r.opts.TMMNamespace, Name: r.opts.TMMStatefulSet}, &got); {
	case err == nil:
		sts = &got
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading StatefulSet %s/%s: %w", r.opts.TMMNamespace, r.opts.TMMStatefulSet, err)
	}
	return &inputs{
		statefulSet: sts,
		cluster: spk.Cluster{
			VLANs: vlans.Items, Ingresses: ingresses.Items, Snatpools: snatpools.Items,
			Egresses: egresses.Items, Routes: routes.Items,
			Services: services.Items, EndpointSlices: slices.Items, Nodes: nodes.Items,
			NodeAddressAnnotation: r.opts.NodeAddressAnnotation,
			Routing:               r.opts.Routing,
		},
		pods: pods.Items,
	}, nil
}

// programmed is the Programmed condition every accepted CR gets.
type programmed struct {
	ok              bool
	reason, message string
}

// Condition reasons.
const (
	ReasonAccepted     = "Accepted"
	ReasonInvalid      = "Invalid"
	ReasonProgrammed   = "Programmed"
	ReasonNotAccepted  = "NotAccepted"
	ReasonNoReplicas   = "NoTMMReplicas"
	ReasonNotConfirmed = "ReplicasNotConfirmed"
)

func programmedState(replicas int, results []pushResult, allConfirmed bool) programmed {
	switch {
	case replicas == 0:
		return programmed{reason: ReasonNoReplicas, message: "no TMM pod found: nothing runs this config yet"}
	case allConfirmed:
		return programmed{ok: true, reason: ReasonProgrammed, message: fmt.Sprintf("all %d TMM replicas run the config: %s", replicas, describe(results, true))}
	}
	failed := 0
	for _, pr := range results {
		if pr.err != nil {
			failed++
		}
	}
	return programmed{reason: ReasonNotConfirmed,
		message: fmt.Sprintf("%d of %d TMM replicas did not confirm: %s", failed, replicas, describe(results, false))}
}

// nodeAddressChanged passes node creation, deletion and changes of the
// address annotation.
type nodeAddressChanged struct {
	predicate.Funcs
	annotation string
}

func (p nodeAddressChanged) Create(event.CreateEvent) bool   { return true }
func (p nodeAddressChanged) Delete(event.DeleteEvent) bool   { return true }
func (p nodeAddressChanged) Generic(event.GenericEvent) bool { return false }
func (p nodeAddressChanged) Update(e event.UpdateEvent) bool {
	return e.ObjectOld.GetAnnotations()[p.annotation] != e.ObjectNew.GetAnnotations()[p.annotation]
}

// tmmPodFilter passes events of TMM pods only (the cache holds only those
// in the manager spk-controller builds, but a shared cache may hold more).
type tmmPodFilter struct {
	predicate.Funcs
	ns  string
	sel labels.Selector
}

func (p tmmPodFilter) match(o client.Object) bool {
	return o.GetNamespace() == p.ns && p.sel.Matches(labels.Set(o.GetLabels()))
}
func (p tmmPodFilter) Create(e event.CreateEvent) bool   { return p.match(e.Object) }
func (p tmmPodFilter) Delete(e event.DeleteEvent) bool   { return p.match(e.Object) }
func (p tmmPodFilter) Generic(e event.GenericEvent) bool { return p.match(e.Object) }
func (p tmmPodFilter) Update(e event.UpdateEvent) bool {
	return p.match(e.ObjectNew) || p.match(e.ObjectOld)
}
