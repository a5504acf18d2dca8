package spk

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
)

func TestAddToScheme(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	apiVersion := map[string]string{
		KindVLAN: APIVersionVLAN, KindSnatpool: APIVersionSnatpool, KindStaticRoute: APIVersionStaticRoute,
		KindIngressTCP: APIVersionIngressTCP, KindEgress: APIVersionEgress,
	}
	for _, k := range APIKinds() {
		gvk := k.GroupVersionKind
		if got, want := gvk.GroupVersion().String(), apiVersion[gvk.Kind]; got != want {
			t.Errorf("%s is registered under %s, but its APIVersion constant is %q", gvk.Kind, got, want)
		}
		for obj, kind := range map[runtime.Object]string{k.Object: gvk.Kind, k.List: gvk.Kind + "List"} {
			gvks, _, err := s.ObjectKinds(obj)
			if err != nil {
				t.Errorf("%T: %v", obj, err)
				continue
			}
			if len(gvks) != 1 || gvks[0] != gvk.GroupVersion().WithKind(kind) {
				t.Errorf("%T is known as %v, want only %s", obj, gvks, gvk.GroupVersion().WithKind(kind))
			}
		}
		// A client decoding a list or an option for the GroupVersion needs
		// the meta types registered there too.
		if !s.Recognizes(gvk.GroupVersion().WithKind("ListOptions")) {
			t.Errorf("ListOptions not registered for %s", gvk.GroupVersion())
		}
	}
	if s.Recognizes(APIKinds()[0].GroupVersionKind.GroupVersion().WithKind(KindStaticEndpoints)) {
		t.Errorf("StaticEndpoints is registered, but it has no CRD")
	}
}

// DeepCopy must copy, not share, the nested lists the controller mutates
// (SetDefaults on a cached object would otherwise change the cache).
func TestDeepCopyDoesNotShare(t *testing.T) {
	sp := &F5SPKSnatpool{Spec: F5SPKSnatpoolSpec{Name: "p", AddressList: [][]string{{"192.0.2.1"}}}}
	cp := sp.DeepCopy()
	cp.Spec.AddressList[0][0] = "192.0.2.2"
	if sp.Spec.AddressList[0][0] != "192.0.2.1" {
		t.Errorf("DeepCopy shares the address rows")
	}
	in := &F5SPKIngressTCP{Spec: F5SPKIngressTCPSpec{VLANs: &VLANList{VLANList: []string{"a"}}}}
	ci := in.DeepCopyObject().(*F5SPKIngressTCP)
	ci.Spec.VLANs.VLANList[0] = "b"
	if in.Spec.VLANs.VLANList[0] != "a" {
		t.Errorf("DeepCopyObject shares the VLAN list")
	}
}
