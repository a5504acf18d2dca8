package spk

// The deepcopy functions of the API types (zz_generated.deepcopy.go).
//go:generate go tool controller-gen object paths=.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The GroupVersions the kinds are served under, as F5 names them. Each kind
// has its own so that code never has to know which kinds share one.
var (
	VLANGroupVersion        = schema.GroupVersion{Group: "k8s.f5net.com", Version: "v1"}
	SnatpoolGroupVersion    = schema.GroupVersion{Group: "k8s.f5net.com", Version: "v1"}
	StaticRouteGroupVersion = schema.GroupVersion{Group: "k8s.f5net.com", Version: "v1"}
	IngressTCPGroupVersion  = schema.GroupVersion{Group: "ingresstcp.k8s.f5net.com", Version: "v1"}
	EgressGroupVersion      = schema.GroupVersion{Group: "k8s.f5net.com", Version: "v2"}
)

// APIKind is one kind served by the API server (it has a CRD): its
// GroupVersionKind, CRD resource name (plural) and Go object and list.
type APIKind struct {
	GroupVersionKind schema.GroupVersionKind
	// Resource is the CRD's plural, e.g. "f5-spk-vlans".
	Resource string
	Object   runtime.Object
	List     runtime.Object
}

// GroupVersionResource is the kind's resource, as dynamic clients and RBAC
// rules name it.
func (k APIKind) GroupVersionResource() schema.GroupVersionResource {
	return k.GroupVersionKind.GroupVersion().WithResource(k.Resource)
}

// CRDName is the name of the kind's CustomResourceDefinition,
// "<plural>.<group>".
func (k APIKind) CRDName() string {
	return k.Resource + "." + k.GroupVersionKind.Group
}

// APIKinds lists the kinds that have a CRD, in the order the lab applies
// them (VLANs first: everything else refers to them). StaticEndpoints is
// standalone-only and has none.
func APIKinds() []APIKind {
	return []APIKind{
		{VLANGroupVersion.WithKind(KindVLAN), "f5-spk-vlans", &F5SPKVlan{}, &F5SPKVlanList{}},
		{SnatpoolGroupVersion.WithKind(KindSnatpool), "f5-spk-snatpools", &F5SPKSnatpool{}, &F5SPKSnatpoolList{}},
		{EgressGroupVersion.WithKind(KindEgress), "f5-spk-egresses", &F5SPKEgress{}, &F5SPKEgressList{}},
		{IngressTCPGroupVersion.WithKind(KindIngressTCP), "f5-spk-ingresstcps", &F5SPKIngressTCP{}, &F5SPKIngressTCPList{}},
		{StaticRouteGroupVersion.WithKind(KindStaticRoute), "f5-spk-staticroutes", &F5SPKStaticRoute{}, &F5SPKStaticRouteList{}},
	}
}

// AddToScheme registers every kind of APIKinds, and its list, under its own
// GroupVersion, with the meta types (ListOptions, WatchEvent, …) clients need
// for each GroupVersion.
func AddToScheme(s *runtime.Scheme) error {
	seen := map[schema.GroupVersion]bool{}
	for _, k := range APIKinds() {
		gv := k.GroupVersionKind.GroupVersion()
		s.AddKnownTypeWithName(k.GroupVersionKind, k.Object)
		s.AddKnownTypeWithName(gv.WithKind(k.GroupVersionKind.Kind+"List"), k.List)
		if !seen[gv] {
			metav1.AddToGroupVersion(s, gv)
			seen[gv] = true
		}
	}
	return nil
}
