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
func Older(a, b metav1.Object) int {
	at, bt := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	return cmp.Or(at.Compare(bt.Time), strings.Compare(a.GetNamespace(), b.GetNamespace()), strings.Compare(a.GetName(), b.GetName()))
}

// meta is a pointer to any of the kinds, which all embed ObjectMeta.
type meta[T any] interface {
	*T
	metav1.ObjectMetaAccessor
}

// sortOldestFirst puts objects in claim order (see Older).
func sortOldestFirst[T any, P meta[T]](objs []T) {
	slices.SortStableFunc(objs, func(a, b T) int { return Older(P(&a).GetObjectMeta(), P(&b).GetObjectMeta()) })
}

// eachOf calls fn with the metadata of every object of a list.
func eachOf[T any, P meta[T]](objs []T, fn func(metav1.Object)) {
	for i := range objs {
		fn(P(&objs[i]).GetObjectMeta())
	}
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
	sortOldestFirst(cp.VLANs)
	sortOldestFirst(cp.Ingresses)
	sortOldestFirst(cp.Snatpools)
	sortOldestFirst(cp.Egresses)
	sortOldestFirst(cp.Routes)
	sortOldestFirst(cp.Endpoints)
	sortOldestFirst(cp.Nodes)
	return cp
}

// StampCreation gives every object without a creation time the time at,
// as the API server does on create.
func (o *Objects) StampCreation(at time.Time) {
	stamp := func(m metav1.Object) {
		if t := m.GetCreationTimestamp(); t.IsZero() {
			m.SetCreationTimestamp(metav1.NewTime(at))
		}
	}
	eachOf(o.VLANs, stamp)
	eachOf(o.Ingresses, stamp)
	eachOf(o.Snatpools, stamp)
	eachOf(o.Egresses, stamp)
	eachOf(o.Routes, stamp)
	eachOf(o.Endpoints, stamp)
	eachOf(o.Nodes, stamp)
}
