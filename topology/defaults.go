package topology

import (
	"fmt"
	"sort"
	"strings"
)

// Names of the built-in labs.
const (
	BuiltinDefault     = "default"
	BuiltinSeedExample = "seed-example"
)

// Builtins lists the names Builtin accepts, sorted.
func Builtins() []string {
	names := []string{BuiltinDefault, BuiltinSeedExample}
	sort.Strings(names)
	return names
}

// Builtin returns a fresh copy of the named built-in lab.
func Builtin(name string) (*Topology, error) {
	switch name {
	case BuiltinDefault, "":
		return Default(), nil
	case BuiltinSeedExample:
		return SeedExample(), nil
	}
	return nil, fmt.Errorf("unknown built-in topology %q (built-ins: %s)", name, strings.Join(Builtins(), ", "))
}

// Default is the lab of the workshop guide (docs/architecture.md, "The default lab").
func Default() *Topology {
	workers := []string{"bnk-worker", "bnk-worker2", "bnk-worker3"}
	return &Topology{
		Base: BuiltinDefault,
		Cluster: Cluster{
			Name:              "bnk",
			KubernetesVersion: "v1.32.0",
			PodSubnet:         "10.244.0.0/16",
			ServiceSubnet:     "10.96.0.0/16",
			Nodes:             []Node{{Role: RoleControlPlane}, {Role: RoleWorker}, {Role: RoleWorker}, {Role: RoleWorker}},
			TMMNodes:          []string{"bnk-worker2", "bnk-worker3"},
			TMMNodeLabel:      "app=f5-tmm",
			TMMNodeTaint:      "dpu=true:NoSchedule",
		},
		CNI: CNI{
			CalicoVersion:     "v3.30.1",
			MultusVersion:     "v4.2.3",
			CNIPluginsVersion: "v1.6.2",
		},
		Images: defaultImages(),
		Networks: []Network{
			{
				Name:        "client-net",
				Driver:      DriverBridge,
				IPv4Subnet:  "198.51.100.0/24",
				IPv4Gateway: "198.51.100.1",
				IPv6Subnet:  "2001::198:51:100:0/112",
				IPv6Gateway: "2001::198:51:100:1",
			},
			{
				Name:        "external-net",
				Driver:      DriverMacvlan,
				IPv4Subnet:  "192.0.2.0/24",
				IPv4Gateway: "192.0.2.1",
				IPv6Subnet:  "2001::192:0:2:0/112",
				IPv6Gateway: "2001::192:0:2:1",
				Attach: &NodeAttachment{
					Interface: "eth1",
					Addresses: nodeAddresses(workers, "192.0.2.", "2001::192:0:2:", 3),
				},
			},
			{
				Name:        "egress-net",
				Driver:      DriverMacvlan,
				IPv4Subnet:  "198.18.100.0/24",
				IPv4Gateway: "198.18.100.1",
				IPv6Subnet:  "2001::198:18:100:0/112",
				IPv6Gateway: "2001::198:18:100:1",
				Attach: &NodeAttachment{
					Interface:   "eth2",
					KeepAddress: true,
					Addresses:   nodeAddresses(workers, "198.18.100.", "2001::198:18:100:", 3),
					Annotation:  "k8s.ovn.org/node-primary-ifaddr",
				},
			},
		},
		Infra: Infra{Project: "infra"},
		Router: Router{
			Service:  "frr",
			ASN:      65500,
			RouterID: "192.0.2.250",
			Interfaces: []RouterInterface{
				{Network: "client-net", IPv4: "198.51.100.250", IPv6: "2001::198:51:100:250"},
				{Network: "external-net", IPv4: "192.0.2.250", IPv6: "2001::192:0:2:250"},
			},
			Announce:            []string{"198.51.100.0/24", "2001::198:51:100:0/112"},
			MaximumPaths:        8,
			MultipathHashPolicy: 1,
		},
		Client: Client{Service: "client", Network: "client-net", IPv4: "198.51.100.100", IPv6: "2001::198:51:100:100"},
		Syslog: Syslog{Service: "syslog", ContainerName: "syslog-server", Network: "external-net", IPv4: "192.0.2.200", Port: 514},
		SPK:    SPK{Namespace: "spk-ingress"},
		TMM: TMM{
			Replicas:   2,
			Interfaces: []TMMInterface{{Name: "1.1", Network: "external-net"}, {Name: "1.2", Network: "egress-net"}},
			VLANs: []VLAN{
				{
					Name: "external", Interface: "1.1", MTU: 1500,
					SelfIPs: []SelfIP{
						{IPv4: "192.0.2.201", IPv6: "2001::192:0:2:201"},
						{IPv4: "192.0.2.202", IPv6: "2001::192:0:2:202"},
					},
				},
				{
					Name: "egress", Interface: "1.2", MTU: 1500, Internal: true,
					SelfIPs: []SelfIP{
						{IPv4: "198.18.100.201", IPv6: "2001::198:18:100:201"},
						{IPv4: "198.18.100.202", IPv6: "2001::198:18:100:202"},
					},
				},
			},
			BGP: BGP{
				ASN:             64443,
				GracefulRestart: GracefulRestart{Enabled: true, RestartTime: 120},
				Neighbors: []BGPNeighbor{
					{IP: "192.0.2.250", ASN: 65500, AcceptsIPv4: true},
					{IP: "2001::192:0:2:250", ASN: 65500, AcceptsIPv6: true},
				},
			},
		},
		Tenants: []Tenant{
			defaultTenant("red", "198.19.19.100", "2001::198:19:19:100", 100,
				[][]string{{"192.0.2.100", "2001::192:0:2:100"}, {"192.0.2.101", "2001::192:0:2:101"}}),
			defaultTenant("blue", "198.20.20.100", "2001::198:20:20:100", 200,
				[][]string{{"192.0.2.110", "2001::192:0:2:110"}, {"192.0.2.111", "2001::192:0:2:111"}}),
		},
	}
}

// SeedExample is the lab carrying the values of the seed's own example: VLANs
// tagged 3334/3335 over the same docker networks, one TMM replica, the
// F5SPKIngressTCP at 10.11.22.33:8050, snatpool1 with four rows and BGP AS 100
// peering with 10.10.10.200 in AS 200.
func SeedExample() *Topology {
	t := Default()
	t.Base = BuiltinSeedExample
	workers := []string{"bnk-worker", "bnk-worker2", "bnk-worker3"}

	egress := &t.Networks[2]
	egress.Attach.VLAN = 3335
	egress.Attach.Addresses = nodeAddresses(workers, "10.20.20.", "2002::198:51:200:", 3)

	t.Router.ASN = 200
	t.Router.RouterID = "10.10.10.200"
	t.Router.Interfaces = append(t.Router.Interfaces,
		RouterInterface{Network: "external-net", VLAN: 3334, IPv4: "10.10.10.200", IPv6: "2002::198:51:100:200"})
	// TMM reaches syslog (192.0.2.200, untagged) through the router.
	t.Router.Announce = append(t.Router.Announce, "192.0.2.0/24")

	t.TMM.Replicas = 1
	t.TMM.VLANs = []VLAN{
		{
			Name: "external", Interface: "1.1", Tag: 3334, MTU: 1500,
			IPv4Subnet: "10.10.10.0/24", IPv6Subnet: "2002::198:51:100:0/112",
			SelfIPs: []SelfIP{{IPv4: "10.10.10.120", IPv6: "2002::198:51:100:120"}},
		},
		{
			Name: "internal", Interface: "1.2", Tag: 3335, MTU: 1500, Internal: true,
			IPv4Subnet: "10.20.20.0/24", IPv6Subnet: "2002::198:51:200:0/112",
			SelfIPs: []SelfIP{{IPv4: "10.20.20.120", IPv6: "2002::198:51:200:120"}},
		},
	}
	t.TMM.BGP = BGP{
		ASN:             100,
		Hostname:        "spk-bgp",
		GracefulRestart: GracefulRestart{Enabled: true, RestartTime: 120},
		Neighbors:       []BGPNeighbor{{IP: "10.10.10.200", ASN: 200, EBGPMultihop: 10, AcceptsIPv4: true}},
	}
	// snatpool1 exactly as the seed writes it (row 0 really is 10.200.1.1).
	rows := [][]string{
		{"10.200.1.1", "10.201.0.1"},
		{"10.200.0.2", "10.201.0.2"},
		{"10.200.0.3", "10.201.0.3"},
		{"10.200.0.4", "10.201.0.4"},
	}
	t.Tenants = []Tenant{{
		Namespace:  "spk-apps",
		Deployment: "nginx-deployment",
		Replicas:   2,
		Service:    Service{Name: "nginx-app-svc", Port: 80},
		Ingress: &Ingress{
			Name: "nginx-app-ingress", IPv4: "10.11.22.33", IPv6: "2002:0007::0008", Port: 8050,
			LoadBalancingMethod: LBRoundRobin, IdleTimeout: 300,
		},
		SNATPool: &SNATPool{Name: "snatpool1", Rows: rows},
		VXLANKey: 100,
	}}
	return t
}

func defaultImages() Images {
	return Images{
		Node:       "spklab/node:v1.32.0",
		Router:     "spklab/frr:8.4",
		Client:     "spklab/nginx:1.22",
		Syslog:     "spklab/rsyslog:8.2302",
		TMM:        "spklab/spk-tmm:dev",
		Controller: "spklab/spk-controller:dev",
		NodeAgent:  "spklab/spk-node:dev",
		App:        "spklab/nginx:1.22",
	}
}

func defaultTenant(ns, vip4, vip6 string, vxlanKey int, snatRows [][]string) Tenant {
	return Tenant{
		Namespace:  ns,
		Deployment: "nginx-deployment",
		Replicas:   2,
		Service:    Service{Name: "nginx-app-svc", Port: 80},
		Ingress: &Ingress{
			Name: ns + "-ingress", IPv4: vip4, IPv6: vip6, Port: 80,
			LoadBalancingMethod: LBRoundRobin, IdleTimeout: 300,
		},
		SNATPool: &SNATPool{Name: ns + "-snat", Rows: snatRows},
		VXLANKey: vxlanKey,
	}
}

// nodeAddresses gives nodes consecutive host numbers from first on.
func nodeAddresses(nodes []string, v4Prefix, v6Prefix string, first int) []NodeAddress {
	out := make([]NodeAddress, 0, len(nodes))
	for i, n := range nodes {
		out = append(out, NodeAddress{
			Node: n,
			IPv4: fmt.Sprintf("%s%d", v4Prefix, first+i),
			IPv6: fmt.Sprintf("%s%d", v6Prefix, first+i),
		})
	}
	return out
}

// fillFieldDefaults sets the per-field defaults of values a file left empty
// (an override list replaces the built-in list whole, so its entries may
// omit what has a sensible default).
func (t *Topology) fillFieldDefaults() {
	for i := range t.TMM.VLANs {
		if t.TMM.VLANs[i].MTU == 0 {
			t.TMM.VLANs[i].MTU = 1500
		}
	}
	if t.TMM.BGP.GracefulRestart.Enabled && t.TMM.BGP.GracefulRestart.RestartTime == 0 {
		t.TMM.BGP.GracefulRestart.RestartTime = 120
	}
	if t.Syslog.Port == 0 {
		t.Syslog.Port = 514
	}
	for i := range t.Tenants {
		tn := &t.Tenants[i]
		if tn.Replicas == 0 {
			tn.Replicas = 2
		}
		if tn.Deployment == "" {
			tn.Deployment = "nginx-deployment"
		}
		if ing := tn.Ingress; ing != nil {
			if ing.Name == "" {
				ing.Name = tn.Namespace + "-ingress"
			}
			if ing.LoadBalancingMethod == "" {
				ing.LoadBalancingMethod = LBRoundRobin
			}
			if ing.IdleTimeout == 0 {
				ing.IdleTimeout = 300
			}
		}
	}
}
