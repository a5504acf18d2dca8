package topology

import (
	"slices"
	"strings"
	"testing"
)

// Each case breaks one rule of the default lab and names the exact problem
// Validate must report (it may report more, e.g. knock-on effects).
func TestValidateRules(t *testing.T) {
	cases := []struct {
		name   string
		base   func() *Topology
		mutate func(*Topology)
		want   string
	}{
		// Syntax of CIDRs and addresses.
		{name: "cidr syntax", mutate: func(t *Topology) { t.Networks[1].IPv4Subnet = "192.0.2.0/33" },
			want: `networks[external-net].ipv4Subnet: "192.0.2.0/33" is not a CIDR`},
		{name: "cidr family", mutate: func(t *Topology) { t.Networks[1].IPv6Subnet = "192.0.2.0/24" },
			want: `networks[external-net].ipv6Subnet: "192.0.2.0/24" is not an IPv6 CIDR`},
		{name: "cidr host bits", mutate: func(t *Topology) { t.Networks[2].IPv4Subnet = "198.18.100.7/24" },
			want: `networks[egress-net].ipv4Subnet: "198.18.100.7/24" has host bits set (the subnet would be 198.18.100.0/24)`},
		{name: "any-family cidr", mutate: func(t *Topology) { t.Cluster.PodSubnet = "10.244.0.0" },
			want: `cluster.podSubnet: "10.244.0.0" is not a CIDR`},
		{name: "address syntax", mutate: func(t *Topology) { t.Client.IPv4 = "198.51.100.300" },
			want: `client.ipv4: "198.51.100.300" is not an IP address`},
		{name: "address family", mutate: func(t *Topology) { t.TMM.VLANs[0].SelfIPs[0].IPv6 = "192.0.2.9" },
			want: `tmm.vlans[external].selfIPs[0].ipv6: "192.0.2.9" is not an IPv6 address`},
		// Addresses inside their subnet, not network/broadcast.
		{name: "self IP outside subnet", mutate: func(t *Topology) { t.TMM.VLANs[0].SelfIPs[1].IPv4 = "198.18.100.5" },
			want: `tmm.vlans[external].selfIPs[1].ipv4: 198.18.100.5 is outside 192.0.2.0/24`},
		{name: "network address", mutate: func(t *Topology) { t.Syslog.IPv4 = "192.0.2.0" },
			want: `syslog.ipv4: 192.0.2.0 is the network address of 192.0.2.0/24`},
		{name: "broadcast address", mutate: func(t *Topology) { t.Client.IPv4 = "198.51.100.255" },
			want: `client.ipv4: 198.51.100.255 is the broadcast address of 198.51.100.0/24`},
		{name: "ipv6 subnet-router anycast", mutate: func(t *Topology) { t.Router.Interfaces[1].IPv6 = "2001::192:0:2:0" },
			want: `router.interfaces[1].ipv6: 2001::192:0:2:0 is the subnet-router anycast address of 2001::192:0:2:0/112`},
		{name: "gateway outside subnet", mutate: func(t *Topology) { t.Networks[0].IPv4Gateway = "192.0.2.1" },
			want: `networks[client-net].ipv4Gateway: 192.0.2.1 is outside 198.51.100.0/24`},
		{name: "node address outside subnet", mutate: func(t *Topology) { t.Networks[2].Attach.Addresses[0].IPv4 = "192.0.2.3" },
			want: `networks[egress-net].attach.addresses[0].ipv4: 192.0.2.3 is outside 198.18.100.0/24`},
		// Overlaps.
		{name: "overlapping network subnets", mutate: func(t *Topology) { t.Networks[2].IPv4Subnet = "192.0.2.0/25" },
			want: `networks[egress-net].ipv4Subnet: 192.0.2.0/25 overlaps networks[external-net].ipv4Subnet 192.0.2.0/24`},
		{name: "network overlaps pod subnet", mutate: func(t *Topology) { t.Networks[0].IPv4Subnet = "10.244.7.0/24"; t.Networks[0].IPv4Gateway = "" },
			want: `networks[client-net].ipv4Subnet: 10.244.7.0/24 overlaps cluster.podSubnet 10.244.0.0/16`},
		{name: "tagged VLAN subnet overlaps", base: SeedExample, mutate: func(t *Topology) { t.TMM.VLANs[1].IPv4Subnet = "10.10.10.0/25" },
			want: `tmm.vlans[internal].ipv4Subnet: 10.10.10.0/25 overlaps tmm.vlans[external].ipv4Subnet 10.10.10.0/24`},
		{name: "untagged VLAN with other subnet", mutate: func(t *Topology) { t.TMM.VLANs[0].IPv4Subnet = "10.1.0.0/24" },
			want: `tmm.vlans[external].ipv4Subnet: 10.1.0.0/24 differs from external-net's subnet 192.0.2.0/24; an untagged VLAN uses its network's subnet`},
		// Unique names and addresses.
		{name: "duplicate network name", mutate: func(t *Topology) { t.Networks[2].Name = "external-net" },
			want: `networks[2].name: network name "external-net" is already used by networks[1].name`},
		{name: "duplicate VLAN name", mutate: func(t *Topology) { t.TMM.VLANs[1].Name = "external" },
			want: `tmm.vlans[1].name: VLAN name "external" is already used by tmm.vlans[0].name`},
		{name: "duplicate namespace", mutate: func(t *Topology) { t.Tenants[1].Namespace = "red" },
			want: `tenants[1].namespace: namespace "red" is already used by tenants[0].namespace`},
		{name: "duplicate snatpool name", mutate: func(t *Topology) { t.Tenants[1].SNATPool.Name = "red-snat" },
			want: `tenants[blue].snatPool.name: snatpool name "red-snat" is already used by tenants[red].snatPool.name`},
		{name: "duplicate address", mutate: func(t *Topology) { t.Tenants[1].SNATPool.Rows[0][0] = "192.0.2.201" },
			want: `tenants[blue].snatPool.rows[0][0]: 192.0.2.201 is already used by tmm.vlans[external].selfIPs[0].ipv4`},
		{name: "syslog on the router's address", mutate: func(t *Topology) { t.Syslog.IPv4 = "192.0.2.250" },
			want: `syslog.ipv4: 192.0.2.250 is already used by router.interfaces[1].ipv4`},
		{name: "duplicate node interface", mutate: func(t *Topology) { t.Networks[2].Attach.Interface = "eth1" },
			want: `networks[egress-net].attach.interface: eth1 is already used on bnk-worker by networks[external-net].attach`},
		{name: "node interface eth0", mutate: func(t *Topology) { t.Networks[1].Attach.Interface = "eth0" },
			want: `networks[external-net].attach.interface: eth0 is the node's kind network; use eth1, eth2, …`},
		// VLAN tags.
		{name: "tag out of range", mutate: func(t *Topology) { t.TMM.VLANs[1].Tag = 5000 },
			want: `tmm.vlans[egress].tag: 5000 is out of range 0–4094 (0 = untagged)`},
		{name: "two untagged VLANs on one interface", mutate: func(t *Topology) { t.TMM.VLANs[1].Interface = "1.1" },
			want: `tmm.vlans[egress].tag: interface 1.1 already has an untagged VLAN (tmm.vlans[external]); only one per interface`},
		{name: "duplicate tag", base: SeedExample, mutate: func(t *Topology) { t.TMM.VLANs[1].Tag = 3334 },
			want: `tmm.vlans[internal].tag: tag "3334" is already used by tmm.vlans[external].tag`},
		{name: "tagged VLAN without subnet", base: SeedExample, mutate: func(t *Topology) {
			t.TMM.VLANs[0].IPv4Subnet, t.TMM.VLANs[0].IPv6Subnet = "", ""
		}, want: `tmm.vlans[external]: a tagged VLAN needs ipv4Subnet or ipv6Subnet`},
		{name: "mtu", mutate: func(t *Topology) { t.TMM.VLANs[0].MTU = 9001 },
			want: `tmm.vlans[external].mtu: 9001 is out of range 1500–9000`},
		{name: "unknown TMM interface", mutate: func(t *Topology) { t.TMM.VLANs[1].Interface = "1.3" },
			want: `tmm.vlans[egress].interface: "1.3" is not a TMM interface (tmm.interfaces)`},
		// ASNs and router-id.
		{name: "asn zero", mutate: func(t *Topology) { t.Router.ASN = 0 },
			want: `router.asn: 0 is out of range 1–4294967295`},
		{name: "asn too large", mutate: func(t *Topology) { t.TMM.BGP.ASN = 4294967296 },
			want: `tmm.bgp.asn: 4294967296 is out of range 1–4294967295`},
		{name: "router-id not IPv4", mutate: func(t *Topology) { t.Router.RouterID = "2001::1" },
			want: `router.routerID: "2001::1" is not an IPv4 address`},
		{name: "TMM in the router's AS", mutate: func(t *Topology) { t.TMM.BGP.ASN = 65500 },
			want: `tmm.bgp.asn: 65500 is the router's AS; the router peers with remote-as external, so TMM needs another AS`},
		{name: "neighbor not the router", mutate: func(t *Topology) { t.TMM.BGP.Neighbors[0].IP = "192.0.2.77" },
			want: `tmm.bgp.neighbors[0].ip: 192.0.2.77 is not an address of the router infra-frr-1`},
		{name: "neighbor ASN differs", mutate: func(t *Topology) { t.TMM.BGP.Neighbors[1].ASN = 65501 },
			want: `tmm.bgp.neighbors[1].asn: 65501 but the router infra-frr-1 is AS 65500`},
		{name: "graceful restart time", mutate: func(t *Topology) { t.TMM.BGP.GracefulRestart.RestartTime = 5000 },
			want: `tmm.bgp.gracefulRestart.restartTime: 5000 is out of range 1–4095 seconds`},
		{name: "password with space", mutate: func(t *Topology) { t.TMM.BGP.Neighbors[0].Password = "a b" },
			want: `tmm.bgp.neighbors[0].password: may hold only 1–80 printable ASCII characters without spaces`},
		{name: "passwords differ", mutate: func(t *Topology) { t.TMM.BGP.Neighbors[0].Password = "s3cret" },
			want: `tmm.bgp.neighbors[1].password: differs from neighbors[0]'s; the router's one peer group for TMM sessions holds one password`},
		// Replicas against self IP rows and SNAT rows.
		{name: "too few self IPs", mutate: func(t *Topology) { t.TMM.VLANs[1].SelfIPs = t.TMM.VLANs[1].SelfIPs[:1] },
			want: `tmm.vlans[egress].selfIPs: 1 entries for 2 TMM replicas (entry i is replica i's self IP)`},
		{name: "too few SNAT rows", mutate: func(t *Topology) { t.Tenants[0].SNATPool.Rows = t.Tenants[0].SNATPool.Rows[:1] },
			want: `tenants[red].snatPool.rows: 1 rows for 2 TMM replicas (row i is replica i's SNAT addresses)`},
		{name: "SNAT rows of different shape", mutate: func(t *Topology) { t.Tenants[0].SNATPool.Rows[1] = []string{"192.0.2.101"} },
			want: `tenants[red].snatPool.rows[1]: has families [IPv4] but rows[0] has [IPv4 IPv6]; every row needs the same shape`},
		{name: "replicas zero", mutate: func(t *Topology) { t.TMM.Replicas = 0 },
			want: `tmm.replicas: 0 must be at least 1`},
		{name: "more replicas than TMM nodes", mutate: func(t *Topology) { t.TMM.Replicas = 3 },
			want: `tmm.replicas: 3 replicas but only 2 TMM nodes (cluster.tmmNodes); each replica needs its own node`},
		// VIPs.
		{name: "VIP inside a lab subnet", mutate: func(t *Topology) { t.Tenants[0].Ingress.IPv4 = "198.51.100.7" },
			want: `tenants[red].ingress.ipv4: 198.51.100.7 is inside networks[client-net].ipv4Subnet 198.51.100.0/24; a VIP must be outside the lab's subnets (BGP would shadow the on-link addresses)`},
		{name: "VIP inside the service subnet", mutate: func(t *Topology) { t.Tenants[1].Ingress.IPv4 = "10.96.0.10" },
			want: `tenants[blue].ingress.ipv4: 10.96.0.10 is inside cluster.serviceSubnet 10.96.0.0/16; a VIP must be outside the lab's subnets (BGP would shadow the on-link addresses)`},
		{name: "same VIP and port twice", mutate: func(t *Topology) { t.Tenants[1].Ingress.IPv4 = "198.19.19.100" },
			want: `tenants[blue].ingress.ipv4: VIP:port "198.19.19.100:80" is already used by tenants[red].ingress.ipv4`},
		{name: "VIP reused as SNAT address", mutate: func(t *Topology) { t.Tenants[1].SNATPool.Rows[0][0] = "198.19.19.100" },
			want: `tenants[blue].snatPool.rows[0][0]: 198.19.19.100 is already used by tenants[red].ingress.ipv4`},
		{name: "SNAT address in a subnet TMM is not on", mutate: func(t *Topology) { t.Tenants[0].SNATPool.Rows[0][0] = "198.51.100.9" },
			want: `tenants[red].snatPool.rows[0][0]: 198.51.100.9 is inside networks[client-net].ipv4Subnet 198.51.100.0/24, which TMM does not answer on; use an address outside the lab's subnets or on an external TMM VLAN`},
		{name: "load balancing method", mutate: func(t *Topology) { t.Tenants[0].Ingress.LoadBalancingMethod = "LEAST_CONN" },
			want: `tenants[red].ingress.loadBalancingMethod: "LEAST_CONN" is not one of ROUND_ROBIN, RATIO_LEAST_CONN_MEMBER`},
		{name: "idle timeout", mutate: func(t *Topology) { t.Tenants[0].Ingress.IdleTimeout = -1 },
			want: `tenants[red].ingress.idleTimeout: -1 is out of range 1–86400 seconds`},
		{name: "VIP port", mutate: func(t *Topology) { t.Tenants[0].Ingress.Port = 70000 },
			want: `tenants[red].ingress.port: 70000 is out of range 0–65535 (0 = every port)`},
		// Nodes.
		{name: "no control plane", mutate: func(t *Topology) { t.Cluster.Nodes[0].Role = RoleWorker },
			want: `cluster.nodes: no control-plane node (kind needs at least one)`},
		{name: "bad role", mutate: func(t *Topology) { t.Cluster.Nodes[3].Role = "master" },
			want: `cluster.nodes[3].role: "master" is not one of control-plane, worker`},
		{name: "TMM node missing", mutate: func(t *Topology) { t.Cluster.TMMNodes[1] = "bnk-worker9" },
			want: `cluster.tmmNodes[1]: "bnk-worker9" is not a node of the cluster (nodes: bnk-control-plane, bnk-worker, bnk-worker2, bnk-worker3)`},
		{name: "TMM node is control plane", mutate: func(t *Topology) { t.Cluster.TMMNodes[0] = "bnk-control-plane" },
			want: `cluster.tmmNodes[0]: "bnk-control-plane" is a control-plane node; TMM runs on workers`},
		{name: "TMM node not attached", mutate: func(t *Topology) { t.Networks[1].Attach.Nodes = []string{"bnk-worker", "bnk-worker2"} },
			want: `tmm.interfaces[1.1].network: external-net is not attached to TMM node bnk-worker3`},
		{name: "renamed cluster keeps old TMM names", mutate: func(t *Topology) { t.Cluster.Name = "lab" },
			want: `cluster.tmmNodes[0]: "bnk-worker2" is not a node of the cluster (nodes: lab-control-plane, lab-worker, lab-worker2, lab-worker3)`},
		{name: "taint effect", mutate: func(t *Topology) { t.Cluster.TMMNodeTaint = "dpu=true:NoRun" },
			want: `cluster.tmmNodeTaint: effect "NoRun" is not one of NoSchedule, PreferNoSchedule, NoExecute`},
		{name: "kubernetes version", mutate: func(t *Topology) { t.Cluster.KubernetesVersion = "1.32" },
			want: `cluster.kubernetesVersion: "1.32" is not a version like v1.32.0`},
		// VXLAN keys.
		{name: "VXLAN key zero", mutate: func(t *Topology) { t.Tenants[0].VXLANKey = 0 },
			want: `tenants[red].vxlanKey: 0 is out of range 1–16777215`},
		{name: "VXLAN key too large", mutate: func(t *Topology) { t.Tenants[0].VXLANKey = 16777216 },
			want: `tenants[red].vxlanKey: 16777216 is out of range 1–16777215`},
		{name: "VXLAN key reused", mutate: func(t *Topology) { t.Tenants[1].VXLANKey = 100 },
			want: `tenants[blue].vxlanKey: VXLAN key "100" is already used by tenants[red].vxlanKey`},
		// Wiring between parts.
		{name: "interface order", mutate: func(t *Topology) { t.TMM.Interfaces[1].Name = "1.3" },
			want: `tmm.interfaces[1.3].name: "1.3" must be "1.2" (interface 1.N is the TMM pod's N-th network attachment)`},
		{name: "TMM on a network nodes do not join", mutate: func(t *Topology) { t.TMM.Interfaces[0].Network = "client-net" },
			want: `tmm.interfaces[1.1].network: client-net has no node attachment (attach), so TMM pods cannot use it`},
		{name: "unknown network", mutate: func(t *Topology) { t.Client.Network = "lan" },
			want: `client.network: "lan" is not a network (networks: client-net, external-net, egress-net)`},
		{name: "client without router", mutate: func(t *Topology) { t.Router.Interfaces = t.Router.Interfaces[1:] },
			want: `client.network: the router has no untagged interface on client-net (the client's default route goes through it)`},
		{name: "syslog unreachable from TMM", mutate: func(t *Topology) {
			t.Syslog.Network = "client-net"
			t.Syslog.IPv4 = "198.51.100.200"
			t.Router.Announce = nil
		},
			want: `syslog.ipv4: 198.51.100.200 is not reachable from TMM: it is in no TMM VLAN subnet and in no prefix the router announces`},
		{name: "router VLAN without TMM VLAN", mutate: func(t *Topology) {
			t.Router.Interfaces = append(t.Router.Interfaces, RouterInterface{Network: "external-net", VLAN: 77, IPv4: "10.7.7.1"})
		}, want: `router.interfaces[2].vlan: no TMM VLAN with tag 77 runs over external-net`},
		{name: "node attachment VLAN without TMM VLAN", mutate: func(t *Topology) { t.Networks[2].Attach.VLAN = 12 },
			want: `networks[egress-net].attach.vlan: no TMM VLAN with tag 12 runs over egress-net`},
		{name: "no internal VLAN", mutate: func(t *Topology) { t.TMM.VLANs[1].Internal = false },
			want: `tmm.vlans: no internal VLAN (internal: true); tenant ingress and egress need one`},
		{name: "driver", mutate: func(t *Topology) { t.Networks[1].Driver = "ipvlan" },
			want: `networks[external-net].driver: "ipvlan" is not one of bridge, macvlan`},
		{name: "namespace name", mutate: func(t *Topology) { t.Tenants[0].Namespace = "Red" },
			want: `tenants[Red].namespace: "Red" is not a valid Kubernetes namespace name (RFC 1123 label)`},
		{name: "empty image", mutate: func(t *Topology) { t.Images.TMM = "" },
			want: `images.tmm: must not be empty`},
		{name: "maximum paths", mutate: func(t *Topology) { t.Router.MaximumPaths = 0 },
			want: `router.maximumPaths: 0 is out of range 1–64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := Default
			if c.base != nil {
				base = c.base
			}
			topo := base()
			c.mutate(topo)
			got := Validate(topo)
			var lines []string
			for _, p := range got {
				lines = append(lines, p.String())
			}
			if !slices.Contains(lines, c.want) {
				t.Errorf("want problem\n  %s\ngot\n  %s", c.want, strings.Join(lines, "\n  "))
			}
		})
	}
}

// Validate reports every problem at once, not just the first.
func TestValidateReportsAllProblems(t *testing.T) {
	topo := Default()
	topo.Router.ASN = 0
	topo.Tenants[0].VXLANKey = 0
	topo.Networks[1].IPv4Subnet = "192.0.2.0/33"
	got := Validate(topo)
	if len(got) < 3 {
		t.Fatalf("want at least 3 problems, got %d:\n%v", len(got), got)
	}
}
