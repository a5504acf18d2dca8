package spk

import (
	"cmp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Older is spklab's one rule for which of two objects keeps a thing both
// claim — a VIP and port, a VXLAN key, a VLAN name or tag, a snatpool name,
// a Service port: the one created first keeps it; objects created within
// the same second of the API server's clock, or read from files (which
// have no creation time), in namespace, then name order. It is negative
// when a keeps the thing against b. Check, Compile, FromCluster and the
// node agent all decide by it, so the winner never depends on the order a
// list arrives in, and a newer object in another namespace never takes
// what an older one holds, whatever the names sort as.
func Older(a, b *metav1.ObjectMeta) int {
	return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time),
		strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
}

// SortOldestFirst puts objects in claim order (see Older).
func SortOldestFirst[T any](objs []T, meta func(*T) *metav1.ObjectMeta) {
	slices.SortStableFunc(objs, func(a, b T) int { return Older(meta(&a), meta(&b)) })
}

// inClaimOrder returns a copy with every kind in claim order, so the
// first of two claimants met while walking a list is the one that keeps
// the thing. The input is not changed.
func (o *Objects) inClaimOrder() *Objects {
	cp := &Objects{
		VLANs:     slices.Clone(o.VLANs),
		Ingresses: slices.Clone(o.Ingresses),
		Snatpools: slices.Clone(o.Snatpools),
		Egresses:  slices.Clone(o.Egresses),
		Routes:    slices.Clone(o.Routes),
		Endpoints: slices.Clone(o.Endpoints),
		Nodes:     slices.Clone(o.Nodes),
		Routing:   o.Routing,
	}
	SortOldestFirst(cp.VLANs, func(v *F5SPKVlan) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Ingresses, func(v *F5SPKIngressTCP) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Snatpools, func(v *F5SPKSnatpool) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Egresses, func(v *F5SPKEgress) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Routes, func(v *F5SPKStaticRoute) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Endpoints, func(v *StaticEndpoints) *metav1.ObjectMeta { return &v.ObjectMeta })
	SortOldestFirst(cp.Nodes, func(v *StaticNodes) *metav1.ObjectMeta { return &v.ObjectMeta })
	return cp
}

// StampCreation gives every object without a creation time the time at,
// as the API server does on create.
func (o *Objects) StampCreation(at time.Time) {
	stamp := func(m *metav1.ObjectMeta) {
		if m.CreationTimestamp.IsZero() {
			m.CreationTimestamp = metav1.NewTime(at)
		}
	}
	for i := range o.VLANs {
		stamp(&o.VLANs[i].ObjectMeta)
	}
	for i := range o.Ingresses {
		stamp(&o.Ingresses[i].ObjectMeta)
	}
	for i := range o.Snatpools {
		stamp(&o.Snatpools[i].ObjectMeta)
	}
	for i := range o.Egresses {
		stamp(&o.Egresses[i].ObjectMeta)
	}
	for i := range o.Routes {
		stamp(&o.Routes[i].ObjectMeta)
	}
	for i := range o.Endpoints {
		stamp(&o.Endpoints[i].ObjectMeta)
	}
	for i := range o.Nodes {
		stamp(&o.Nodes[i].ObjectMeta)
	}
}
