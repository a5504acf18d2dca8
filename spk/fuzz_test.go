package spk

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse proves the loader and Check never panic, whatever the stream
// holds, and that what loads can be written back and loaded again.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/seed/*.yaml")
	for _, p := range append(seeds, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, b := range baselineFiles {
		f.Add([]byte(b.data))
	}
	f.Add([]byte("apiVersion: k8s.f5net.com/v1\nkind: F5SPKVlan\nmetadata: {name: v}\nspec: {tag: -1, interfaces: [\"1.0\"], selfip_v4s: [\"::1\"], prefixlen_v4: 99}\n"))
	f.Add([]byte("apiVersion: k8s.f5net.com/v1\nkind: F5SPKSnatpool\nmetadata: {name: s}\nspec: {name: s, addressList: [[], [\"fe80::1%eth0\"], [1.2.3.4, \"::\"]]}\n"))
	f.Add([]byte("apiVersion: k8s.f5net.com/v2\nkind: F5SPKEgress\nmetadata: {name: e}\nspec: {egressSnatpool: nope, maxTmmReplicas: 2147483647, nat64Ipv6Subnet: \"::/200\"}\n---\n- x\n---\nkind: 5\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse("fuzz.yaml", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, p := range o.Check() {
			if p.Path == "" || p.Reason == "" {
				t.Fatalf("problem without path or reason: %+v", p)
			}
		}
		out, err := o.YAML()
		if err != nil {
			t.Fatalf("YAML of loaded objects: %v", err)
		}
		if _, err := Parse("again.yaml", out); err != nil {
			t.Fatalf("written objects do not load again: %v\n%s", err, out)
		}
	})
}
