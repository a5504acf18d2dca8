package spk

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The seed's values block, with the rest of a chart values file around it.
const seedValues = `image:
  repository: local/f5-tmm
tmm:
  replicaCount: 1
  dynamicRouting:
    enabled: true
    tmmRouting:
      config:
        bgp:
          asn: 100
          hostname: spk-bgp
          neighbors:
          - ip: "10.10.10.200"
            asn: 200
            ebgpMultihop: 10
            acceptsIPv4: true
`

func TestParseValuesSeedBlockUnchanged(t *testing.T) {
	dr, err := ParseValues("values.yaml", []byte(seedValues))
	if err != nil {
		t.Fatal(err)
	}
	b := dr.TMMRouting.Config.BGP
	if !dr.Enabled || b.ASN != 100 || b.Hostname != "spk-bgp" || len(b.Neighbors) != 1 {
		t.Fatalf("got %+v", dr)
	}
	if n := b.Neighbors[0]; n.IP != "10.10.10.200" || n.ASN != 200 || n.EBGPMultihop != 10 || !n.AcceptsIPv4 || n.AcceptsIPv6 {
		t.Errorf("neighbor %+v", n)
	}
}

func TestParseValuesWithoutDynamicRouting(t *testing.T) {
	dr, err := ParseValues("v.yaml", []byte("tmm:\n  replicaCount: 2\n"))
	if err != nil || dr != nil {
		t.Fatalf("got %+v, %v; want nil, nil", dr, err)
	}
}

func TestParseValuesProblemsNameLineAndField(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", strings.Replace(seedValues, "hostname:", "hostnme:", 1), `v.yaml:11: field "hostnme" is not known here; known fields: asn, gracefulRestart, hostname, neighbors`},
		{"unknown neighbor field", strings.Replace(seedValues, "ebgpMultihop:", "multihop:", 1), `v.yaml:15: field "multihop"`},
		{"wrong type", strings.Replace(seedValues, "asn: 200", "asn: two", 1), "v.yaml:14:"},
		{"bad ip", strings.Replace(seedValues, `"10.10.10.200"`, "10.10.10.300", 1), `v.yaml:tmm.dynamicRouting.tmmRouting.config.bgp.neighbors[0].ip: must be an IPv4 or IPv6 address`},
		{"asn range", strings.Replace(seedValues, "asn: 100", "asn: 0", 1), "tmmRouting.config.bgp.asn: must be an AS number"},
		{"no family", strings.Replace(seedValues, "acceptsIPv4: true", "acceptsIPv4: false", 1), "neighbors[0]: accepts no address family"},
		{"restart time", strings.Replace(seedValues, "hostname: spk-bgp", "hostname: spk-bgp\n          gracefulRestart: {enabled: true, restartTime: 5000}", 1), "gracefulRestart.restartTime: must be 0 to 4095"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseValues("v.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValuesRoundTripFromTopology(t *testing.T) {
	dr := ValuesFromTopology(builtin(t, "default"))
	data, err := ValuesYAML(dr)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseValues("values.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if back.TMMRouting.Config.BGP.ASN != 64443 || len(back.TMMRouting.Config.BGP.Neighbors) != 2 ||
		back.TMMRouting.Config.BGP.GracefulRestart == nil || back.TMMRouting.Config.BGP.GracefulRestart.RestartTime != 120 {
		t.Errorf("round trip lost something:\n%s", data)
	}
}

func TestCompileBGPDefaultLab(t *testing.T) {
	out := Compile(labObjects(t), 2)
	if len(out.Problems) > 0 {
		t.Fatalf("problems: %v", out.Problems)
	}
	wantSNAT := [][]string{{"192.0.2.100", "192.0.2.110"}, {"192.0.2.101", "192.0.2.111"}}
	for r, cfg := range out.Configs {
		b := cfg.BGP
		if b == nil {
			t.Fatalf("replica %d has no BGP", r)
		}
		wantID := []string{"192.0.2.201", "192.0.2.202"}[r]
		if b.ASN != 64443 || b.RouterID.String() != wantID || b.GracefulRestart != 120 {
			t.Errorf("replica %d: asn %d router-id %s restart %d", r, b.ASN, b.RouterID, b.GracefulRestart)
		}
		if len(b.Neighbors) != 2 {
			t.Fatalf("replica %d neighbors %+v", r, b.Neighbors)
		}
		v4, v6 := b.Neighbors[0], b.Neighbors[1]
		if v4.VLAN != "external" || v4.Local.String() != wantID || !v4.IPv4 || v4.IPv6 {
			t.Errorf("replica %d v4 neighbor %+v", r, v4)
		}
		if v6.Local != v6.NextHop6 || !v6.Local.Is6() || !v6.IPv6 {
			t.Errorf("replica %d v6 neighbor %+v", r, v6)
		}
		var got []string
		for _, p := range b.Announce {
			got = append(got, p.String())
		}
		for _, want := range []string{"198.19.19.100/32", "198.20.20.100/32", "2001::198:19:19:100/128", wantSNAT[r][0] + "/32", wantSNAT[r][1] + "/32"} {
			if !slices.Contains(got, want) {
				t.Errorf("replica %d announces %v, missing %s", r, got, want)
			}
		}
		other := wantSNAT[1-r][0] + "/32"
		if slices.Contains(got, other) {
			t.Errorf("replica %d announces the other replica's SNAT address %s", r, other)
		}
	}
}

func TestCompileBGPNeighborOffSubnet(t *testing.T) {
	o := labObjects(t)
	o.Routing.TMMRouting.Config.BGP.Neighbors[0].IP = "203.0.113.1"
	out := Compile(o, 2)
	if out.Configs[0].BGP != nil || !strings.Contains(out.Rejected[ValuesLocation], "203.0.113.1 is on no VLAN subnet") {
		t.Errorf("rejected %q, bgp %+v", out.Rejected[ValuesLocation], out.Configs[0].BGP)
	}
	// Multihop neighbors are reached from the first external VLAN.
	o.Routing.TMMRouting.Config.BGP.Neighbors[0].EBGPMultihop = 3
	out = Compile(o, 2)
	if b := out.Configs[0].BGP; b == nil || b.Neighbors[0].Local != netip.MustParseAddr("192.0.2.201") {
		t.Errorf("multihop: %+v %v", b, out.Problems)
	}
}
