package crdgen_test

import (
	"reflect"
	"testing"

	"github.com/spklab/spklab/manifests/crdgen/ingresstcpv1"
	"github.com/spklab/spklab/manifests/crdgen/k8sf5netv1"
	"github.com/spklab/spklab/manifests/crdgen/k8sf5netv2"
	"github.com/spklab/spklab/spk"
)

// The crdgen types declare the top-level object again; if one drifted from
// spk's (a field added, renamed or retyped there), the CRD would no longer
// describe what the controller reads.
func TestTopLevelFieldsAreSPKs(t *testing.T) {
	pairs := []struct{ spk, crdgen any }{
		{spk.F5SPKVlan{}, k8sf5netv1.F5SPKVlan{}},
		{spk.F5SPKSnatpool{}, k8sf5netv1.F5SPKSnatpool{}},
		{spk.F5SPKStaticRoute{}, k8sf5netv1.F5SPKStaticRoute{}},
		{spk.F5SPKIngressTCP{}, ingresstcpv1.F5SPKIngressTCP{}},
		{spk.F5SPKEgress{}, k8sf5netv2.F5SPKEgress{}},
	}
	for _, p := range pairs {
		want, got := jsonFields(reflect.TypeOf(p.spk)), jsonFields(reflect.TypeOf(p.crdgen))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%T has JSON fields\n%v\nbut %T has\n%v", p.crdgen, got, p.spk, want)
		}
	}
}

// jsonFields maps each serialized field's json tag to its Go type.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		out[tag] = f.Type
	}
	return out
}
