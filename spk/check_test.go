package spk

import (
	"slices"
	"strings"
	"testing"
)

// baselineFiles is a valid set of CRs over several files, in the shape of
// the default lab, that each check case breaks in one place.
var baselineFiles = []struct{ name, data string }{
	{"crs/vlans.yaml", `apiVersion: k8s.f5net.com/v1
kind: F5SPKVlan
metadata: {name: vlan-external, namespace: spk-ingress}
spec:
  name: external
  tag: 0
  interfaces: ["1.1"]
  selfip_v4s: [192.0.2.201, 192.0.2.202]
  prefixlen_v4: 24
  selfip_v6s: ["2001::192:0:2:201", "2001::192:0:2:202"]
  prefixlen_v6: 112
  mtu: 1500
  auto_lasthop: AUTO_LASTHOP_ENABLED
---
apiVersion: k8s.f5net.com/v1
kind: F5SPKVlan
metadata: {name: vlan-egress, namespace: spk-ingress}
spec:
  name: egress
  interfaces: ["1.2"]
  selfip_v4s: [198.18.100.201, 198.18.100.202]
  prefixlen_v4: 24
  internal: true
`},
	{"crs/ingress.yaml", `apiVersion: ingresstcp.k8s.f5net.com/v1
kind: F5SPKIngressTCP
metadata: {name: red-ingress, namespace: red}
service: {name: nginx-app-svc, port: 80}
spec:
  destinationAddress: 198.19.19.100
  destinationPort: 80
  ipv6destinationAddress: "2001::198:19:19:100"
  idleTimeout: 300
  loadBalancingMethod: ROUND_ROBIN
  snat: SRC_TRANS_AUTOMAP
  vlans: {vlanList: [external]}
  monitors:
    icmp: [{interval: 5, timeout: 16}]
`},
	{"crs/snatpool.yaml", `apiVersion: k8s.f5net.com/v1
kind: F5SPKSnatpool
metadata: {name: red-snat, namespace: spk-ingress}
spec:
  name: red-snat
  addressList:
    - [192.0.2.100, "2001::192:0:2:100"]
    - [192.0.2.101, "2001::192:0:2:101"]
`},
	{"crs/egress.yaml", `apiVersion: k8s.f5net.com/v2
kind: F5SPKEgress
metadata: {name: red-egress, namespace: red}
spec:
  egressSnatpool: red-snat
  snatType: SRC_TRANS_SNATPOOL
  dualStackEnabled: true
  maxTmmReplicas: 2
  nat64Enabled: false
  nat64Ipv6Subnet: "64:ff9b::/96"
  dnsNat46Enabled: false
  dnsNat46PoolIps: [192.0.2.53]
  dnsNat46Ipv4Subnet: 10.2.2.0/24
  dnsNat46SorryIp: 192.168.1.1
`},
	{"crs/route.yaml", `apiVersion: k8s.f5net.com/v1
kind: F5SPKStaticRoute
metadata: {name: to-clients, namespace: spk-ingress}
spec: {destination: 198.51.100.0, prefixLen: 24, type: gateway, gateway: 192.0.2.250}
`},
	{"crs/endpoints.yaml", `apiVersion: spklab.io/v1alpha1
kind: StaticEndpoints
metadata: {name: nginx-app-svc, namespace: red}
endpoints:
  - {ip: 10.244.1.5, port: 80, node: bnk-worker, nodeAddress: 198.18.100.3}
`},
}

func baseline(t *testing.T) *Objects {
	t.Helper()
	o := &Objects{}
	for _, f := range baselineFiles {
		if ps := o.parse(f.name, []byte(f.data)); ps != nil {
			t.Fatalf("baseline %s: %v", f.name, ps)
		}
	}
	return o
}

func TestBaselineIsClean(t *testing.T) {
	if ps := baseline(t).Check(); ps != nil {
		t.Fatalf("baseline has problems:\n%v", ps)
	}
}

// Each case breaks one rule of the baseline and names the exact problem
// Check must report (it may report more, e.g. knock-on effects).
func TestCheckRules(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Objects)
		want   string
	}{
		// Metadata, every kind.
		{name: "name missing", mutate: func(o *Objects) { o.VLANs[0].Name = "" },
			want: `crs/vlans.yaml#1:metadata.name: must not be empty`},
		{name: "name invalid", mutate: func(o *Objects) { o.Snatpools[0].Name = "Red_Snat" },
			want: `crs/snatpool.yaml:metadata.name: "Red_Snat" is not a valid name (lowercase letters, digits, '-' and '.', at most 253 characters)`},
		{name: "namespace invalid", mutate: func(o *Objects) { o.Egresses[0].Namespace = "red.x" },
			want: `crs/egress.yaml:metadata.namespace: "red.x" is not a valid namespace (lowercase letters, digits and '-', at most 63 characters)`},
		{name: "duplicate name in a namespace", mutate: func(o *Objects) {
			dup := o.Endpoints[0]
			dup.Source = "crs/more.yaml"
			o.Endpoints = append(o.Endpoints, dup)
		}, want: `crs/more.yaml:metadata.name: StaticEndpoints "red/nginx-app-svc" is already defined by StaticEndpoints "red/nginx-app-svc" (crs/endpoints.yaml)`},
		{name: "objects built in code are named by kind and name", mutate: func(o *Objects) { o.VLANs[1].Source = ""; o.VLANs[1].Spec.Tag = 4095 },
			want: `F5SPKVlan spk-ingress/vlan-egress:spec.tag: 4095 is out of range 0–4094 (0 = untagged)`},

		// F5SPKVlan.
		{name: "vlan spec.name missing", mutate: func(o *Objects) { o.VLANs[1].Spec.Name = "" },
			want: `crs/vlans.yaml#2:spec.name: must not be empty (it names the VLAN in TMM)`},
		// Objects from files have no creation time: of two claimants the
		// first by namespace and name keeps the thing (spk.Older), not the
		// first in the files.
		{name: "vlan spec.name twice", mutate: func(o *Objects) { o.VLANs[1].Spec.Name = "external" },
			want: `crs/vlans.yaml#1:spec.name: VLAN name "external" is already used by F5SPKVlan "spk-ingress/vlan-egress" (crs/vlans.yaml#2)`},
		{name: "tag out of range", mutate: func(o *Objects) { o.VLANs[1].Spec.Tag = 5000 },
			want: `crs/vlans.yaml#2:spec.tag: 5000 is out of range 0–4094 (0 = untagged)`},
		{name: "negative tag", mutate: func(o *Objects) { o.VLANs[0].Spec.Tag = -1 },
			want: `crs/vlans.yaml#1:spec.tag: -1 is out of range 0–4094 (0 = untagged)`},
		{name: "two untagged VLANs on an interface", mutate: func(o *Objects) { o.VLANs[1].Spec.Interfaces = []string{"1.1"} },
			want: `crs/vlans.yaml#1:spec.tag: interface 1.1 already has an untagged VLAN, F5SPKVlan "spk-ingress/vlan-egress" (crs/vlans.yaml#2); only one per interface`},
		{name: "a tag on two VLANs", mutate: func(o *Objects) { o.VLANs[0].Spec.Tag = 3334; o.VLANs[1].Spec.Tag = 3334 },
			want: `crs/vlans.yaml#1:spec.tag: tag 3334 is already used by F5SPKVlan "spk-ingress/vlan-egress" (crs/vlans.yaml#2); a tag is used by one VLAN only`},
		{name: "self IP subnets of two VLANs overlap", mutate: func(o *Objects) {
			o.VLANs[1].Spec.SelfIPv4s = []string{"192.0.2.221", "192.0.2.222"}
			o.VLANs[1].Spec.PrefixLenV4 = 25
		}, want: `crs/vlans.yaml#1:spec.selfip_v4s[0]: subnet 192.0.2.0/24 overlaps 192.0.2.128/25 of F5SPKVlan "spk-ingress/vlan-egress" (crs/vlans.yaml#2); a subnet belongs to one VLAN only`},
		{name: "no interfaces", mutate: func(o *Objects) { o.VLANs[0].Spec.Interfaces = nil },
			want: `crs/vlans.yaml#1:spec.interfaces: must list at least one TMM interface ("1.1", "1.2", …)`},
		{name: "interface syntax", mutate: func(o *Objects) { o.VLANs[0].Spec.Interfaces = []string{"eth1"} },
			want: `crs/vlans.yaml#1:spec.interfaces[0]: "eth1" is not a TMM interface like "1.1" (1.N is the TMM pod's N-th network attachment)`},
		{name: "self IP syntax", mutate: func(o *Objects) { o.VLANs[0].Spec.SelfIPv4s[1] = "192.0.2.300" },
			want: `crs/vlans.yaml#1:spec.selfip_v4s[1]: "192.0.2.300" is not an IP address`},
		{name: "self IP family v4", mutate: func(o *Objects) { o.VLANs[0].Spec.SelfIPv4s[1] = "2001::1" },
			want: `crs/vlans.yaml#1:spec.selfip_v4s[1]: "2001::1" is not an IPv4 address`},
		{name: "self IP family v6", mutate: func(o *Objects) { o.VLANs[0].Spec.SelfIPv6s[0] = "192.0.2.9" },
			want: `crs/vlans.yaml#1:spec.selfip_v6s[0]: "192.0.2.9" is not an IPv6 address`},
		{name: "self IP zone", mutate: func(o *Objects) { o.VLANs[0].Spec.SelfIPv6s[0] = "fe80::1%eth1" },
			want: `crs/vlans.yaml#1:spec.selfip_v6s[0]: "fe80::1%eth1" is not an IP address`},
		{name: "self IP on two replicas", mutate: func(o *Objects) { o.VLANs[1].Spec.SelfIPv4s[1] = "198.18.100.201" },
			want: `crs/vlans.yaml#2:spec.selfip_v4s[1]: 198.18.100.201 is already replica 0's self IP (spec.selfip_v4s[0]); each replica needs its own`},
		{name: "prefixlen_v4 range", mutate: func(o *Objects) { o.VLANs[0].Spec.PrefixLenV4 = 33 },
			want: `crs/vlans.yaml#1:spec.prefixlen_v4: 33 is out of range 1–32`},
		{name: "prefixlen_v6 range", mutate: func(o *Objects) { o.VLANs[0].Spec.PrefixLenV6 = 129 },
			want: `crs/vlans.yaml#1:spec.prefixlen_v6: 129 is out of range 1–128`},
		{name: "prefixlen_v4 required", mutate: func(o *Objects) { o.VLANs[1].Spec.PrefixLenV4 = 0 },
			want: `crs/vlans.yaml#2:spec.prefixlen_v4: is required when selfip_v4s are given (1–32)`},
		{name: "prefixlen_v6 required", mutate: func(o *Objects) { o.VLANs[0].Spec.PrefixLenV6 = 0 },
			want: `crs/vlans.yaml#1:spec.prefixlen_v6: is required when selfip_v6s are given (1–128)`},
		{name: "mtu too large", mutate: func(o *Objects) { o.VLANs[0].Spec.MTU = 9001 },
			want: `crs/vlans.yaml#1:spec.mtu: 9001 is out of range 1500–9000`},
		{name: "mtu too small", mutate: func(o *Objects) { o.VLANs[0].Spec.MTU = 1400 },
			want: `crs/vlans.yaml#1:spec.mtu: 1400 is out of range 1500–9000`},
		{name: "auto_lasthop", mutate: func(o *Objects) { o.VLANs[0].Spec.AutoLasthop = "ENABLED" },
			want: `crs/vlans.yaml#1:spec.auto_lasthop: "ENABLED" is not one of AUTO_LASTHOP_ENABLED, AUTO_LASTHOP_DISABLED, AUTO_LASTHOP_DEFAULT`},

		// F5SPKIngressTCP.
		{name: "service name missing", mutate: func(o *Objects) { o.Ingresses[0].Service.Name = "" },
			want: `crs/ingress.yaml:service.name: must not be empty (the Service whose endpoints form the pool)`},
		{name: "service name invalid", mutate: func(o *Objects) { o.Ingresses[0].Service.Name = "Nginx" },
			want: `crs/ingress.yaml:service.name: "Nginx" is not a valid Service name`},
		{name: "service port", mutate: func(o *Objects) { o.Ingresses[0].Service.Port = 0 },
			want: `crs/ingress.yaml:service.port: 0 is out of range 1–65535`},
		{name: "no VIP", mutate: func(o *Objects) {
			o.Ingresses[0].Spec.DestinationAddress, o.Ingresses[0].Spec.IPv6DestinationAddress = "", ""
		}, want: `crs/ingress.yaml:spec: needs destinationAddress or ipv6destinationAddress (or both)`},
		{name: "destinationAddress family", mutate: func(o *Objects) { o.Ingresses[0].Spec.DestinationAddress = "2001::1" },
			want: `crs/ingress.yaml:spec.destinationAddress: "2001::1" is not an IPv4 address`},
		{name: "ipv6destinationAddress family", mutate: func(o *Objects) { o.Ingresses[0].Spec.IPv6DestinationAddress = "10.11.22.33" },
			want: `crs/ingress.yaml:spec.ipv6destinationAddress: "10.11.22.33" is not an IPv6 address`},
		{name: "destinationPort", mutate: func(o *Objects) { o.Ingresses[0].Spec.DestinationPort = 65536 },
			want: `crs/ingress.yaml:spec.destinationPort: 65536 is out of range 0–65535 (0 = every port)`},
		{name: "VIP:port twice", mutate: func(o *Objects) {
			dup := o.Ingresses[0]
			dup.Name, dup.Source = "red-ingress-2", "crs/ingress2.yaml"
			dup.Spec.IPv6DestinationAddress = ""
			o.Ingresses = append(o.Ingresses, dup)
		}, want: `crs/ingress2.yaml:spec.destinationAddress: 198.19.19.100:80 is already used by F5SPKIngressTCP "red/red-ingress" (crs/ingress.yaml)`},
		{name: "idleTimeout too long", mutate: func(o *Objects) { o.Ingresses[0].Spec.IdleTimeout = 86401 },
			want: `crs/ingress.yaml:spec.idleTimeout: 86401 is out of range 1–86400 seconds`},
		{name: "idleTimeout negative", mutate: func(o *Objects) { o.Ingresses[0].Spec.IdleTimeout = -1 },
			want: `crs/ingress.yaml:spec.idleTimeout: -1 is out of range 1–86400 seconds`},
		{name: "clientTimeout", mutate: func(o *Objects) { o.Ingresses[0].Spec.ClientTimeout = 100000 },
			want: `crs/ingress.yaml:spec.clientTimeout: 100000 is out of range 1–86400 seconds`},
		{name: "loadBalancingMethod", mutate: func(o *Objects) { o.Ingresses[0].Spec.LoadBalancingMethod = "LEAST_CONN" },
			want: `crs/ingress.yaml:spec.loadBalancingMethod: "LEAST_CONN" is not one of ROUND_ROBIN, RATIO_LEAST_CONN_MEMBER`},
		{name: "ingress snat", mutate: func(o *Objects) { o.Ingresses[0].Spec.SNAT = SNATPool },
			want: `crs/ingress.yaml:spec.snat: "SRC_TRANS_SNATPOOL" is not one of SRC_TRANS_AUTOMAP, SRC_TRANS_NONE`},
		{name: "ingress vlanList", mutate: func(o *Objects) { o.Ingresses[0].Spec.VLANs.VLANList = []string{"outside"} },
			want: `crs/ingress.yaml:spec.vlans.vlanList[0]: no F5SPKVlan has spec.name "outside" (VLANs: egress, external)`},
		{name: "monitor interval", mutate: func(o *Objects) { o.Ingresses[0].Spec.Monitors.ICMP[0].Interval = -5 },
			want: `crs/ingress.yaml:spec.monitors.icmp[0].interval: -5 is out of range 1–86400 seconds`},

		// F5SPKSnatpool.
		{name: "snatpool spec.name missing", mutate: func(o *Objects) { o.Snatpools[0].Spec.Name = "" },
			want: `crs/snatpool.yaml:spec.name: must not be empty (F5SPKEgress egressSnatpool refers to it)`},
		{name: "snatpool spec.name twice", mutate: func(o *Objects) {
			dup := o.Snatpools[0]
			dup.Name, dup.Source = "other", "crs/other.yaml"
			o.Snatpools = append(o.Snatpools, dup)
		}, want: `crs/snatpool.yaml:spec.name: snatpool name "red-snat" is already used by F5SPKSnatpool "spk-ingress/other" (crs/other.yaml)`},
		{name: "no rows", mutate: func(o *Objects) { o.Snatpools[0].Spec.AddressList = nil },
			want: `crs/snatpool.yaml:spec.addressList: must have at least one row (row i holds TMM replica i's addresses)`},
		{name: "empty row", mutate: func(o *Objects) { o.Snatpools[0].Spec.AddressList[1] = nil },
			want: `crs/snatpool.yaml:spec.addressList[1]: is empty; each row needs at least one address`},
		{name: "snat address syntax", mutate: func(o *Objects) { o.Snatpools[0].Spec.AddressList[0][1] = "2001::192:0:2:10g" },
			want: `crs/snatpool.yaml:spec.addressList[0][1]: "2001::192:0:2:10g" is not an IP address`},
		{name: "rows of unequal shape", mutate: func(o *Objects) { o.Snatpools[0].Spec.AddressList[1] = []string{"192.0.2.101"} },
			want: `crs/snatpool.yaml:spec.addressList[1]: has families [IPv4] but the first row has [IPv4 IPv6]; every row needs the same shape`},

		// F5SPKEgress.
		{name: "snatType", mutate: func(o *Objects) { o.Egresses[0].Spec.SNATType = "SNATPOOL" },
			want: `crs/egress.yaml:spec.snatType: "SNATPOOL" is not one of SRC_TRANS_NONE, SRC_TRANS_SNATPOOL, SRC_TRANS_AUTOMAP`},
		{name: "snatpool required", mutate: func(o *Objects) { o.Egresses[0].Spec.EgressSnatpool = "" },
			want: `crs/egress.yaml:spec.egressSnatpool: is required when snatType is SRC_TRANS_SNATPOOL`},
		{name: "unknown snatpool", mutate: func(o *Objects) { o.Egresses[0].Spec.EgressSnatpool = "snatpool1" },
			want: `crs/egress.yaml:spec.egressSnatpool: no F5SPKSnatpool has spec.name "snatpool1" (snatpools: red-snat)`},
		{name: "snatpool refers to spec.name, not metadata.name", mutate: func(o *Objects) { o.Snatpools[0].Spec.Name = "red-pool" },
			want: `crs/egress.yaml:spec.egressSnatpool: no F5SPKSnatpool has spec.name "red-snat" (snatpools: red-pool)`},
		{name: "no snatpools at all", mutate: func(o *Objects) { o.Snatpools = nil },
			want: `crs/egress.yaml:spec.egressSnatpool: no F5SPKSnatpool has spec.name "red-snat" (there are no snatpools)`},
		{name: "more replicas than rows", mutate: func(o *Objects) { o.Egresses[0].Spec.MaxTmmReplicas = 3 },
			want: `crs/egress.yaml:spec.maxTmmReplicas: 3 replicas but F5SPKSnatpool "spk-ingress/red-snat" (crs/snatpool.yaml) has 2 rows (row i is replica i's)`},
		{name: "negative replicas", mutate: func(o *Objects) { o.Egresses[0].Spec.MaxTmmReplicas = -1 },
			want: `crs/egress.yaml:spec.maxTmmReplicas: -1 must not be negative`},
		{name: "nat64 subnet family", mutate: func(o *Objects) { o.Egresses[0].Spec.NAT64Ipv6Subnet = "10.0.0.0/8" },
			want: `crs/egress.yaml:spec.nat64Ipv6Subnet: "10.0.0.0/8" is not an IPv6 CIDR`},
		{name: "nat64 subnet host bits", mutate: func(o *Objects) { o.Egresses[0].Spec.NAT64Ipv6Subnet = "64:ff9b::1/96" },
			want: `crs/egress.yaml:spec.nat64Ipv6Subnet: "64:ff9b::1/96" has host bits set (the subnet would be 64:ff9b::/96)`},
		{name: "dns46 subnet syntax", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSNat46Ipv4Subnet = "10.2.2.0/33" },
			want: `crs/egress.yaml:spec.dnsNat46Ipv4Subnet: "10.2.2.0/33" is not a CIDR`},
		{name: "dns46 sorry IP family", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSNat46SorryIp = "2001::1" },
			want: `crs/egress.yaml:spec.dnsNat46SorryIp: "2001::1" is not an IPv4 address`},
		{name: "dns46 pool IP", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSNat46PoolIps = []string{"dns.example"} },
			want: `crs/egress.yaml:spec.dnsNat46PoolIps[0]: "dns.example" is not an IP address`},
		{name: "negative rate limit", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSRateLimit = -1 },
			want: `crs/egress.yaml:spec.dnsRateLimit: -1 must not be negative`},
		{name: "egress vlanList", mutate: func(o *Objects) { o.Egresses[0].Spec.VLANs = &VLANList{VLANList: []string{"internal"}} },
			want: `crs/egress.yaml:spec.vlans.vlanList[0]: no F5SPKVlan has spec.name "internal" (VLANs: egress, external)`},
		// What the TMM does not implement is refused by name, not ignored.
		{name: "egress vlans not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.VLANs = &VLANList{VLANList: []string{"egress"}} },
			want: `crs/egress.yaml:spec.vlans: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "nat64 not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.NAT64Enabled = true },
			want: `crs/egress.yaml:spec.nat64Enabled: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "dns46 not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSNat46Enabled = true },
			want: `crs/egress.yaml:spec.dnsNat46Enabled: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "dns rate limit not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSRateLimit = 100 },
			want: `crs/egress.yaml:spec.dnsRateLimit: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "dns cache not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.DNSCacheName = "cache" },
			want: `crs/egress.yaml:spec.dnsCacheName: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "static IP reservations not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.MaxReservedStaticIps = 2 },
			want: `crs/egress.yaml:spec.maxReservedStaticIps: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "debug log not implemented", mutate: func(o *Objects) { o.Egresses[0].Spec.DebugLogEnabled = true },
			want: `crs/egress.yaml:spec.debugLogEnabled: is not supported here: spklab's TMM does not implement it (leave it unset)`},
		{name: "shared annotation not a boolean", mutate: func(o *Objects) {
			o.Snatpools[0].Annotations = map[string]string{AnnotationSharedSnatpool: "yes"}
		}, want: `crs/snatpool.yaml:metadata.annotations[spklab.io/shared-snatpool]: "yes" is not "true" or "false"`},

		// StaticEndpoints.
		{name: "endpoint ip", mutate: func(o *Objects) { o.Endpoints[0].Endpoints[0].IP = "pod-1" },
			want: `crs/endpoints.yaml:endpoints[0].ip: "pod-1" is not an IP address`},
		{name: "endpoint port", mutate: func(o *Objects) { o.Endpoints[0].Endpoints[0].Port = 0 },
			want: `crs/endpoints.yaml:endpoints[0].port: 0 is out of range 1–65535`},
		{name: "endpoint node address missing", mutate: func(o *Objects) { o.Endpoints[0].Endpoints[0].NodeAddress = "" },
			want: `crs/endpoints.yaml:endpoints[0].nodeAddress: must not be empty (TMM sends the pod's packets to this node address)`},
		{name: "endpoint node name", mutate: func(o *Objects) { o.Endpoints[0].Endpoints[0].Node = "Worker_1" },
			want: `crs/endpoints.yaml:endpoints[0].node: "Worker_1" is not a valid node name`},
		{name: "endpoint twice", mutate: func(o *Objects) {
			o.Endpoints[0].Endpoints = append(o.Endpoints[0].Endpoints, o.Endpoints[0].Endpoints[0])
		}, want: `crs/endpoints.yaml:endpoints[1]: 10.244.1.5:80 is already endpoints[0]`},

		// F5SPKEgress VXLAN key annotation.
		{name: "vxlan key not a number", mutate: func(o *Objects) {
			o.Egresses[0].Annotations = map[string]string{AnnotationVXLANKey: "red"}
		}, want: `crs/egress.yaml:metadata.annotations[spklab.io/vxlan-key]: "red" is not a VXLAN key (an integer 1–16777215)`},
		{name: "vxlan key too big", mutate: func(o *Objects) {
			o.Egresses[0].Annotations = map[string]string{AnnotationVXLANKey: "16777216"}
		}, want: `crs/egress.yaml:metadata.annotations[spklab.io/vxlan-key]: "16777216" is not a VXLAN key (an integer 1–16777215)`},

		// F5SPKStaticRoute.
		{name: "route destination host bits", mutate: func(o *Objects) { o.Routes[0].Spec.Destination = "198.51.100.1" },
			want: `crs/route.yaml:spec.destination: 198.51.100.1 has host bits set for /24 (the network is 198.51.100.0)`},
		{name: "route prefixLen range", mutate: func(o *Objects) { o.Routes[0].Spec.PrefixLen = 33 },
			want: `crs/route.yaml:spec.prefixLen: 33 is out of range 0–32 for IPv4`},
		{name: "route gateway family", mutate: func(o *Objects) { o.Routes[0].Spec.Gateway = "2001::192:0:2:250" },
			want: `crs/route.yaml:spec.gateway: 2001::192:0:2:250 is IPv6 but the destination is IPv4`},
		{name: "route gateway missing", mutate: func(o *Objects) { o.Routes[0].Spec.Gateway = "" },
			want: `crs/route.yaml:spec.gateway: must not be empty for a gateway route`},
		{name: "route type", mutate: func(o *Objects) { o.Routes[0].Spec.Type = "blackhole" },
			want: `crs/route.yaml:spec.type: "blackhole" is not supported (supported: gateway)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := baseline(t)
			tc.mutate(o)
			ps := o.Check()
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("missing problem\n  %s\ngot:\n  %s", tc.want, strings.Join(got, "\n  "))
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	o := &Objects{
		VLANs:     []F5SPKVlan{{}},
		Ingresses: []F5SPKIngressTCP{{}},
		Egresses:  []F5SPKEgress{{}, {Spec: F5SPKEgressSpec{EgressSnatpool: "p", NAT64Enabled: true}}},
	}
	o.SetDefaults()
	if v := o.VLANs[0].Spec; v.MTU != DefaultMTU || v.AutoLasthop != AutoLasthopEnabled {
		t.Errorf("VLAN defaults: %+v", v)
	}
	if s := o.Ingresses[0].Spec; s.IdleTimeout != 300 || s.LoadBalancingMethod != RoundRobin || s.SNAT != SNATAutomap {
		t.Errorf("ingress defaults: %+v", s)
	}
	if s := o.Egresses[0].Spec; s.SNATType != SNATAutomap || s.NAT64Ipv6Subnet != "" {
		t.Errorf("egress without snatpool: %+v", s)
	}
	if s := o.Egresses[1].Spec; s.SNATType != SNATPool || s.NAT64Ipv6Subnet != DefaultNAT64Subnet {
		t.Errorf("egress with snatpool and NAT64: %+v", s)
	}
	// What is set stays.
	in := F5SPKIngressTCP{Spec: F5SPKIngressTCPSpec{IdleTimeout: 30, LoadBalancingMethod: RatioLeastConnMember, SNAT: SNATNone}}
	in.SetDefaults()
	if in.Spec.IdleTimeout != 30 || in.Spec.LoadBalancingMethod != RatioLeastConnMember || in.Spec.SNAT != SNATNone {
		t.Errorf("SetDefaults changed set fields: %+v", in.Spec)
	}
}
