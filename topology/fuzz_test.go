package topology

import "testing"

// FuzzParse proves the loader and the validator never panic, whatever the
// file holds, and that what loads either validates or says why.
func FuzzParse(f *testing.F) {
	for _, name := range Builtins() {
		data, err := InitFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("tenants:\n  - namespace: x\n    ingress: {ipv4: 1.2.3.4}\n    snatPool: {rows: [[], [\"::1\"]]}\n"))
	f.Add([]byte("tmm:\n  vlans:\n    - {name: a, interface: \"1.9\", tag: -1, selfIPs: [{}]}\n  replicas: 99\n"))
	f.Add([]byte("networks:\n  - {name: n, attach: {vlan: 4095, addresses: [{node: z}]}}\n"))
	f.Add([]byte("cluster: {nodes: []}\nrouter: {interfaces: [{network: nope, vlan: 1}]}\n"))
	f.Add([]byte("base: seed-example\ntmm: {bgp: {neighbors: [{ip: \"fe80::1%eth0\"}]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Parse("fuzz.yaml", data)
		if err != nil {
			if len(err.Error()) == 0 {
				t.Fatal("empty error")
			}
			return
		}
		for _, p := range Validate(topo) {
			if p.Path == "" || p.Reason == "" {
				t.Fatalf("problem without path or reason: %+v", p)
			}
		}
	})
}
