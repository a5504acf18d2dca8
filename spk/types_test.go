package spk

import (
	"encoding/json"
	"slices"
	"sort"
	"testing"
)

// The types back the CRDs: the JSON form must have F5's shape (TypeMeta
// inline, service beside spec) and never leak Source.
func TestJSONShape(t *testing.T) {
	o, err := LoadDir("testdata/seed")
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(o.Ingresses[0])
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"apiVersion", "kind", "metadata", "service", "spec", "status"}; !slices.Equal(keys, want) {
		t.Errorf("top-level JSON keys %v, want %v", keys, want)
	}
	var back F5SPKIngressTCP
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Spec.IPv6DestinationAddress != "2002:0007::0008" || back.Spec.ClientTimeout != 30 || back.Service.Port != 8050 || back.Source != "" {
		t.Errorf("JSON round trip: %+v", back)
	}

	data, err = json.Marshal(o.VLANs[0].Spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"external","tag":3334,"interfaces":["1.1"],"selfip_v6s":["2002::198:51:100:120"],"prefixlen_v6":112}`; string(data) != want {
		t.Errorf("VLAN spec JSON\n got %s\nwant %s", data, want)
	}
}

func TestVXLANKey(t *testing.T) {
	e := F5SPKEgress{}
	e.Namespace = "red"
	derived, ok := e.VXLANKey()
	if !ok || derived < 4096 || derived > MaxVXLANKey || derived != DerivedVXLANKey("red") {
		t.Fatalf("derived key %d ok=%v", derived, ok)
	}
	if DerivedVXLANKey("blue") == derived {
		t.Errorf("red and blue derive the same key %d", derived)
	}
	e.Annotations = map[string]string{AnnotationVXLANKey: "100"}
	if k, ok := e.VXLANKey(); !ok || k != 100 {
		t.Errorf("annotated key = %d, %v; want 100", k, ok)
	}
	e.Annotations[AnnotationVXLANKey] = "0"
	if _, ok := e.VXLANKey(); ok {
		t.Error("key 0 accepted")
	}
}

func TestObjectsRemove(t *testing.T) {
	o := FromTopology(builtin(t, "default"))
	n := o.Len()
	if !o.Remove(KindIngressTCP, "red", "red-ingress") || o.Len() != n-1 || len(o.Ingresses) != 1 || o.Ingresses[0].Namespace != "blue" {
		t.Fatalf("after Remove: %d objects, ingresses %+v", o.Len(), o.Ingresses)
	}
	if o.Remove(KindIngressTCP, "red", "red-ingress") || o.Remove(KindVLAN, "red", "red-ingress") {
		t.Errorf("Remove of what is not there reported a removal")
	}
}
