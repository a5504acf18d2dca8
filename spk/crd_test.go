package spk_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/images/kubebin/kubetest"
	"github.com/spklab/spklab/manifests"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// crObject is what every SPK kind with a CRD is.
type crObject interface {
	client.Object
	SetDefaults()
}

// TestCRDsOnAPIServer installs the generated CRDs into a real kube-apiserver
// (v1.32.0) and checks what users will meet: the lab's and the seed's CRs
// are stored unchanged, plain defaults are filled, and bad CRs are refused
// by the API server with the message and field path asserted here.
func TestCRDsOnAPIServer(t *testing.T) {
	crds, err := manifests.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := spk.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env := kubetest.Start(t, kubetest.Options{CRDs: crds, Scheme: scheme})

	t.Run("BuiltinTopologiesApply", func(t *testing.T) { testBuiltinTopologiesApply(t, env) })
	t.Run("SeedFilesApplyUnchanged", func(t *testing.T) { testSeedFilesApply(t, env) })
	t.Run("Defaults", func(t *testing.T) { testDefaults(t, env) })
	t.Run("BadCRs", func(t *testing.T) { testBadCRs(t, env) })
	t.Run("StatusAndColumns", func(t *testing.T) { testStatusAndColumns(t, env) })
}

// Every built-in topology's CRs, created from Go (as the lab does) and
// from their YAML (as kubectl does), come back with every field kept: a
// field missing from the schema would be pruned silently.
func testBuiltinTopologiesApply(t *testing.T, env *kubetest.Env) {
	for _, name := range topology.Builtins() {
		topo, err := topology.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		objs := spk.FromTopology(topo)
		if objs.Len() == 0 {
			t.Fatalf("%s: no CRs", name)
		}
		t.Run(name+"/typed", func(t *testing.T) {
			local := crObjects(objs, freshNamespaces(t, env))
			for _, o := range local {
				if err := env.Client.Create(t.Context(), o.DeepCopyObject().(client.Object)); err != nil {
					t.Errorf("creating %s: %v", describe(o), err)
				}
			}
			expectStoredAsIs(t, env, local)
		})
		t.Run(name+"/yaml", func(t *testing.T) {
			data, err := objs.YAML()
			if err != nil {
				t.Fatal(err)
			}
			applyYAMLUnchanged(t, env, name+".yaml", data)
		})
	}
}

// The seed's own CR files, byte for byte.
func testSeedFilesApply(t *testing.T, env *kubetest.Env) {
	files, err := filepath.Glob("testdata/seed/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("seed files: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			applyYAMLUnchanged(t, env, f, data)
		})
	}
}

// applyYAMLUnchanged creates every document of data as written (no Go
// types in between), then checks each stored object against what the spk
// loader reads from the same text.
func applyYAMLUnchanged(t *testing.T, env *kubetest.Env, name string, data []byte) {
	t.Helper()
	loaded, err := spk.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := freshNamespaces(t, env)
	docs := decodeDocs(t, data)
	if len(docs) != loaded.Len() {
		t.Fatalf("%d documents but the loader read %d objects", len(docs), loaded.Len())
	}
	for _, u := range docs {
		u.SetNamespace(namespaces(u.GetNamespace()))
		if err := env.Client.Create(t.Context(), u); err != nil {
			t.Errorf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	expectStoredAsIs(t, env, crObjects(loaded, namespaces))
}

// expectStoredAsIs reads each object back from the API server and compares
// what the user wrote (spec, and service for ingress) after SetDefaults on
// both sides: equal means nothing was pruned and the schema's defaults are
// SetDefaults'.
func expectStoredAsIs(t *testing.T, env *kubetest.Env, local []crObject) {
	t.Helper()
	for _, want := range local {
		got := reflect.New(reflect.TypeOf(want).Elem()).Interface().(crObject)
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(want), got); err != nil {
			t.Errorf("reading %s back: %v", describe(want), err)
			continue
		}
		w := want.DeepCopyObject().(crObject)
		w.SetDefaults()
		got.SetDefaults()
		if g, w := userFields(t, got), userFields(t, w); !reflect.DeepEqual(g, w) {
			t.Errorf("%s is stored as\n%s\nwant\n%s", describe(want), g, w)
		}
	}
}

// userFields is the JSON of an object without metadata, status and kind.
func userFields(t *testing.T, o crObject) string {
	t.Helper()
	data, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"apiVersion", "kind", "metadata", "status"} {
		delete(m, k)
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Fields left out get the schema's defaults, and they are SetDefaults'.
func testDefaults(t *testing.T, env *kubetest.Env) {
	ns := env.Namespace(t)
	create := func(t *testing.T, doc string, into crObject) {
		t.Helper()
		u := decodeDocs(t, []byte(doc))[0]
		u.SetNamespace(ns)
		if err := env.Client.Create(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(u), into); err != nil {
			t.Fatal(err)
		}
		// What the API server filled must be what SetDefaults fills.
		d := into.DeepCopyObject().(crObject)
		d.SetDefaults()
		if g, w := userFields(t, into), userFields(t, d); g != w {
			t.Errorf("the API server's defaults\n%s\ndiffer from SetDefaults'\n%s", g, w)
		}
	}

	t.Run("F5SPKVlan", func(t *testing.T) {
		var v spk.F5SPKVlan
		create(t, `
apiVersion: k8s.f5net.com/v1
kind: F5SPKVlan
metadata: {name: minimal}
spec: {name: external, interfaces: ["1.1"]}
`, &v)
		if v.Spec.MTU != 1500 || v.Spec.Tag != 0 || v.Spec.AutoLasthop != spk.AutoLasthopEnabled {
			t.Errorf("mtu %d tag %d auto_lasthop %q, want 1500 0 %s", v.Spec.MTU, v.Spec.Tag, v.Spec.AutoLasthop, spk.AutoLasthopEnabled)
		}
	})
	t.Run("F5SPKIngressTCP", func(t *testing.T) {
		var in spk.F5SPKIngressTCP
		create(t, `
apiVersion: ingresstcp.k8s.f5net.com/v1
kind: F5SPKIngressTCP
metadata: {name: minimal}
service: {name: app, port: 80}
spec: {destinationAddress: 198.19.19.100}
`, &in)
		s := in.Spec
		if s.IdleTimeout != 300 || s.LoadBalancingMethod != spk.RoundRobin || s.SNAT != spk.SNATAutomap || s.DestinationPort != 0 {
			t.Errorf("idleTimeout %d loadBalancingMethod %q snat %q destinationPort %d, want 300 ROUND_ROBIN SRC_TRANS_AUTOMAP 0",
				s.IdleTimeout, s.LoadBalancingMethod, s.SNAT, s.DestinationPort)
		}
	})
	t.Run("F5SPKStaticRoute", func(t *testing.T) {
		var r spk.F5SPKStaticRoute
		create(t, `
apiVersion: k8s.f5net.com/v1
kind: F5SPKStaticRoute
metadata: {name: minimal}
spec: {destination: 198.51.100.0, prefixLen: 24, gateway: 192.0.2.250}
`, &r)
		if r.Spec.Type != spk.RouteTypeGateway {
			t.Errorf("type %q, want %s", r.Spec.Type, spk.RouteTypeGateway)
		}
	})
	// snatType and nat64Ipv6Subnet depend on other fields, so the
	// controller fills them (SetDefaults); the API server leaves them.
	t.Run("F5SPKEgress", func(t *testing.T) {
		u := decodeDocs(t, []byte(`
apiVersion: k8s.f5net.com/v2
kind: F5SPKEgress
metadata: {name: minimal}
spec: {egressSnatpool: pool, nat64Enabled: true}
`))[0]
		u.SetNamespace(ns)
		if err := env.Client.Create(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		var e spk.F5SPKEgress
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(u), &e); err != nil {
			t.Fatal(err)
		}
		if e.Spec.SNATType != "" || e.Spec.NAT64Ipv6Subnet != "" {
			t.Errorf("the API server set snatType %q nat64Ipv6Subnet %q", e.Spec.SNATType, e.Spec.NAT64Ipv6Subnet)
		}
	})
}

// badCaseBases are valid objects of every kind the bad cases start from;
// together they check clean (the snatpool is the egress's).
func badCaseBases() map[string]string {
	return map[string]string{
		"vlan": `
apiVersion: k8s.f5net.com/v1
kind: F5SPKVlan
metadata: {name: vlan, namespace: spk}
spec:
  name: external
  tag: 100
  interfaces: ["1.1"]
  selfip_v4s: [192.0.2.201, 192.0.2.202]
  prefixlen_v4: 24
  selfip_v6s: ["2001::192:0:2:201", "2001::192:0:2:202"]
  prefixlen_v6: 112
`,
		"ingress": `
apiVersion: ingresstcp.k8s.f5net.com/v1
kind: F5SPKIngressTCP
metadata: {name: ingress, namespace: spk}
service: {name: nginx-app-svc, port: 80}
spec:
  destinationAddress: 198.19.19.100
  ipv6destinationAddress: "2001::198:19:19:100"
  destinationPort: 80
  idleTimeout: 300
`,
		"snatpool": `
apiVersion: k8s.f5net.com/v1
kind: F5SPKSnatpool
metadata: {name: snatpool, namespace: spk}
spec:
  name: red-snat
  addressList:
  - [192.0.2.100, "2001::192:0:2:100"]
  - [192.0.2.101, "2001::192:0:2:101"]
`,
		"egress": `
apiVersion: k8s.f5net.com/v2
kind: F5SPKEgress
metadata: {name: egress, namespace: spk}
spec:
  egressSnatpool: red-snat
  snatType: SRC_TRANS_SNATPOOL
  maxTmmReplicas: 2
  nat64Ipv6Subnet: "64:ff9b::/96"
  dnsNat46Ipv4Subnet: 10.2.2.0/24
  dnsNat46SorryIp: 192.168.1.1
`,
		"route": `
apiVersion: k8s.f5net.com/v1
kind: F5SPKStaticRoute
metadata: {name: route, namespace: spk}
spec: {destination: 198.51.100.0, prefixLen: 24, gateway: 192.0.2.250}
`,
	}
}

// edit changes a base object: set a field (a dotted path) or, with a nil
// value, remove it.
type edit struct {
	path  string
	value any
}

type badCase struct {
	name  string
	base  string
	edits []edit
	// field and msg: the API server's field path and a substring of its
	// message for it; both also appear in the error kubectl prints.
	field, msg string
	// checkMisses says why spk's Check does not report this case; empty
	// means Check must report a problem at field (or below it).
	checkMisses string
}

func badCases() []badCase {
	return []badCase{
		// F5SPKVlan
		{name: "tag above 4094", base: "vlan", edits: []edit{{"spec.tag", int64(4095)}},
			field: "spec.tag", msg: "should be less than or equal to 4094"},
		{name: "negative tag", base: "vlan", edits: []edit{{"spec.tag", int64(-1)}},
			field: "spec.tag", msg: "should be greater than or equal to 0"},
		{name: "no VLAN name", base: "vlan", edits: []edit{{"spec.name", nil}},
			field: "spec.name", msg: "Required value"},
		{name: "no interfaces", base: "vlan", edits: []edit{{"spec.interfaces", []any{}}},
			field: "spec.interfaces", msg: "should have at least 1 items"},
		{name: "interface not 1.N", base: "vlan", edits: []edit{{"spec.interfaces", []any{"1.1", "eth0"}}},
			field: "spec.interfaces[1]", msg: `"eth0" is not a TMM interface like "1.1"`},
		{name: "interface 1.0", base: "vlan", edits: []edit{{"spec.interfaces", []any{"1.0"}}},
			field: "spec.interfaces[0]", msg: `"1.0" is not a TMM interface like "1.1"`},
		{name: "interface listed twice", base: "vlan", edits: []edit{{"spec.interfaces", []any{"1.1", "1.1"}}},
			field: "spec.interfaces", msg: "must list each interface once",
			checkMisses: "Check does not look for a repeated interface within a tagged VLAN"},
		{name: "IPv6 among IPv4 self IPs", base: "vlan", edits: []edit{{"spec.selfip_v4s", []any{"192.0.2.201", "2001::1"}}},
			field: "spec.selfip_v4s[1]", msg: `"2001::1" is not an IPv4 address`},
		{name: "IPv4 among IPv6 self IPs", base: "vlan", edits: []edit{{"spec.selfip_v6s", []any{"192.0.2.1"}}},
			field: "spec.selfip_v6s[0]", msg: `"192.0.2.1" is not an IPv6 address`},
		{name: "self IP not an address", base: "vlan", edits: []edit{{"spec.selfip_v4s", []any{"192.0.2.300"}}},
			field: "spec.selfip_v4s[0]", msg: `"192.0.2.300" is not an IP address`},
		{name: "self IP of two replicas", base: "vlan", edits: []edit{{"spec.selfip_v6s", []any{"2001::192:0:2:201", "2001:0::192:0:2:201"}}},
			field: "spec.selfip_v6s", msg: "lists an address twice; each replica needs its own self IP"},
		{name: "IPv4 self IPs without prefixlen_v4", base: "vlan", edits: []edit{{"spec.prefixlen_v4", nil}},
			field: "spec.prefixlen_v4", msg: "Required value: is required when selfip_v4s are given (1–32)"},
		{name: "IPv6 self IPs without prefixlen_v6", base: "vlan", edits: []edit{{"spec.prefixlen_v6", nil}},
			field: "spec.prefixlen_v6", msg: "Required value: is required when selfip_v6s are given (1–128)"},
		{name: "prefixlen_v4 33", base: "vlan", edits: []edit{{"spec.prefixlen_v4", int64(33)}},
			field: "spec.prefixlen_v4", msg: "should be less than or equal to 32"},
		{name: "prefixlen_v6 129", base: "vlan", edits: []edit{{"spec.prefixlen_v6", int64(129)}},
			field: "spec.prefixlen_v6", msg: "should be less than or equal to 128"},
		{name: "MTU below 1500", base: "vlan", edits: []edit{{"spec.mtu", int64(1400)}},
			field: "spec.mtu", msg: "should be greater than or equal to 1500"},
		{name: "MTU above 9000", base: "vlan", edits: []edit{{"spec.mtu", int64(9216)}},
			field: "spec.mtu", msg: "should be less than or equal to 9000"},
		{name: "explicit MTU 0", base: "vlan", edits: []edit{{"spec.mtu", int64(0)}},
			field: "spec.mtu", msg: "should be greater than or equal to 1500",
			checkMisses: "in Go 0 is an unset MTU (DefaultMTU); on the API server the default fills only an absent field"},
		{name: "auto_lasthop not F5's", base: "vlan", edits: []edit{{"spec.auto_lasthop", "ENABLED"}},
			field: "spec.auto_lasthop", msg: `Unsupported value: "ENABLED": supported values: "AUTO_LASTHOP_ENABLED", "AUTO_LASTHOP_DISABLED", "AUTO_LASTHOP_DEFAULT"`},
		{name: "too many self IPs", base: "vlan", edits: []edit{{"spec.selfip_v4s", manyAddresses(65)}},
			field: "spec.selfip_v4s", msg: "must have at most 64 items",
			checkMisses: "a size limit the API server needs to bound CEL cost; Check has no limit"},

		// F5SPKIngressTCP
		{name: "no VIP", base: "ingress", edits: []edit{{"spec.destinationAddress", nil}, {"spec.ipv6destinationAddress", nil}},
			field: "spec", msg: "needs destinationAddress or ipv6destinationAddress (or both)"},
		{name: "IPv6 destinationAddress", base: "ingress", edits: []edit{{"spec.destinationAddress", "2001::198:19:19:100"}},
			field: "spec.destinationAddress", msg: `"2001::198:19:19:100" is not an IPv4 address`},
		{name: "IPv4 ipv6destinationAddress", base: "ingress", edits: []edit{{"spec.ipv6destinationAddress", "198.19.19.100"}},
			field: "spec.ipv6destinationAddress", msg: `"198.19.19.100" is not an IPv6 address`},
		{name: "VIP with a zone", base: "ingress", edits: []edit{{"spec.ipv6destinationAddress", "fe80::1%eth0"}},
			field: "spec.ipv6destinationAddress", msg: `"fe80::1%eth0" is not an IP address`},
		{name: "destinationPort 65536", base: "ingress", edits: []edit{{"spec.destinationPort", int64(65536)}},
			field: "spec.destinationPort", msg: "should be less than or equal to 65535"},
		{name: "service port 0", base: "ingress", edits: []edit{{"service.port", int64(0)}},
			field: "service.port", msg: "should be greater than or equal to 1"},
		{name: "no service", base: "ingress", edits: []edit{{"service", nil}},
			field: "service", msg: "Required value"},
		{name: "service name not a DNS label", base: "ingress", edits: []edit{{"service.name", "Nginx_Svc"}},
			field: "service.name", msg: `"Nginx_Svc" is not a valid Service name`},
		{name: "idleTimeout above a day", base: "ingress", edits: []edit{{"spec.idleTimeout", int64(86401)}},
			field: "spec.idleTimeout", msg: "should be less than or equal to 86400"},
		{name: "loadBalancingMethod unknown", base: "ingress", edits: []edit{{"spec.loadBalancingMethod", "LEAST_CONN"}},
			field: "spec.loadBalancingMethod", msg: `Unsupported value: "LEAST_CONN": supported values: "ROUND_ROBIN", "RATIO_LEAST_CONN_MEMBER"`},
		{name: "ingress SNAT from a snatpool", base: "ingress", edits: []edit{{"spec.snat", "SRC_TRANS_SNATPOOL"}},
			field: "spec.snat", msg: `Unsupported value: "SRC_TRANS_SNATPOOL": supported values: "SRC_TRANS_AUTOMAP", "SRC_TRANS_NONE"`},
		{name: "monitor interval 0", base: "ingress", edits: []edit{{"spec.monitors", map[string]any{"tcp": []any{map[string]any{"interval": int64(0)}}}}},
			field: "spec.monitors.tcp[0].interval", msg: "should be greater than or equal to 1",
			checkMisses: "in Go 0 is an unset interval"},

		// F5SPKSnatpool
		{name: "snatpool without rows", base: "snatpool", edits: []edit{{"spec.addressList", []any{}}},
			field: "spec.addressList", msg: "should have at least 1 items"},
		{name: "empty snatpool row", base: "snatpool", edits: []edit{{"spec.addressList", []any{[]any{"192.0.2.100"}, []any{}}}},
			field: "spec.addressList[1]", msg: "should have at least 1 items"},
		{name: "snatpool address not an IP", base: "snatpool", edits: []edit{{"spec.addressList", []any{[]any{"192.0.2.100", "2001::192:0:2:100"}, []any{"192.0.2.101", "2001::192:0:2:10g"}}}},
			field: "spec.addressList[1][1]", msg: `"2001::192:0:2:10g" is not an IP address`},
		{name: "snatpool rows of different length", base: "snatpool", edits: []edit{{"spec.addressList", []any{[]any{"192.0.2.100", "2001::192:0:2:100"}, []any{"192.0.2.101"}}}},
			field: "spec.addressList", msg: "every row needs the shape of the first: as many addresses, of the same family at each position"},
		{name: "snatpool rows of different families", base: "snatpool", edits: []edit{{"spec.addressList", []any{[]any{"192.0.2.100", "2001::192:0:2:100"}, []any{"2001::192:0:2:101", "192.0.2.101"}}}},
			field: "spec.addressList", msg: "every row needs the shape of the first"},

		// F5SPKEgress
		{name: "snatType unknown", base: "egress", edits: []edit{{"spec.snatType", "SNAT"}},
			field: "spec.snatType", msg: `Unsupported value: "SNAT": supported values: "SRC_TRANS_NONE", "SRC_TRANS_SNATPOOL", "SRC_TRANS_AUTOMAP"`},
		{name: "SNATPOOL without a snatpool", base: "egress", edits: []edit{{"spec.egressSnatpool", nil}},
			field: "spec.egressSnatpool", msg: "Required value: is required when snatType is SRC_TRANS_SNATPOOL"},
		{name: "NAT64 subnet IPv4", base: "egress", edits: []edit{{"spec.nat64Ipv6Subnet", "10.0.0.0/8"}},
			field: "spec.nat64Ipv6Subnet", msg: `"10.0.0.0/8" is not an IPv6 CIDR`},
		{name: "NAT64 subnet not a /96", base: "egress", edits: []edit{{"spec.nat64Ipv6Subnet", "64:ff9b::/64"}},
			field: "spec.nat64Ipv6Subnet", msg: `"64:ff9b::/64" is not a /96`,
			checkMisses: "Check accepts any IPv6 CIDR as the NAT64 subnet"},
		{name: "NAT64 subnet with host bits", base: "egress", edits: []edit{{"spec.nat64Ipv6Subnet", "64:ff9b::1/96"}},
			field: "spec.nat64Ipv6Subnet", msg: `"64:ff9b::1/96" has host bits set`},
		{name: "NAT64 subnet not a CIDR", base: "egress", edits: []edit{{"spec.nat64Ipv6Subnet", "64:ff9b::"}},
			field: "spec.nat64Ipv6Subnet", msg: `"64:ff9b::" is not a CIDR`},
		{name: "DNS46 subnet with host bits", base: "egress", edits: []edit{{"spec.dnsNat46Ipv4Subnet", "10.2.2.1/24"}},
			field: "spec.dnsNat46Ipv4Subnet", msg: `"10.2.2.1/24" has host bits set`},
		{name: "DNS46 sorry IP IPv6", base: "egress", edits: []edit{{"spec.dnsNat46SorryIp", "2001::1"}},
			field: "spec.dnsNat46SorryIp", msg: `"2001::1" is not an IPv4 address`},
		{name: "negative maxTmmReplicas", base: "egress", edits: []edit{{"spec.maxTmmReplicas", int64(-1)}},
			field: "spec.maxTmmReplicas", msg: "should be greater than or equal to 0"},

		// F5SPKStaticRoute
		{name: "route prefixLen 33 for IPv4", base: "route", edits: []edit{{"spec.prefixLen", int64(33)}},
			field: "spec.prefixLen", msg: "is out of range for the destination's family (0–32 for IPv4, 0–128 for IPv6)"},
		{name: "route without gateway", base: "route", edits: []edit{{"spec.gateway", nil}},
			field: "spec.gateway", msg: "Required value: must not be empty for a gateway route"},
		{name: "route gateway of the other family", base: "route", edits: []edit{{"spec.gateway", "2001::192:0:2:250"}},
			field: "spec.gateway", msg: "2001::192:0:2:250 is IPv6 but the destination is IPv4"},
		{name: "route type interface", base: "route", edits: []edit{{"spec.type", "interface"}},
			field: "spec.type", msg: `Unsupported value: "interface": supported values: "gateway"`},
	}
}

func manyAddresses(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)
	}
	return out
}

// Every bad case is refused by the API server with its message at its
// field, and spk's Check (standalone mode has no API server) reports the
// same object at the same field unless the case says why not.
func testBadCRs(t *testing.T, env *kubetest.Env) {
	ns := env.Namespace(t)
	bases := map[string]*unstructured.Unstructured{}
	for name, doc := range badCaseBases() {
		bases[name] = decodeDocs(t, []byte(doc))[0]
	}
	// The bases themselves are good, for Check and for the API server, so
	// a refusal below is the edit's doing.
	if ps := checkObjects(t, bases, "", nil).Check(); ps != nil {
		t.Fatalf("the bases do not check clean:\n%v", ps)
	}
	for name, u := range bases {
		c := u.DeepCopy()
		c.SetNamespace(ns)
		if err := env.Client.Create(t.Context(), c); err != nil {
			t.Fatalf("base %s refused: %v", name, err)
		}
	}

	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			u := bases[tc.base].DeepCopy()
			for _, e := range tc.edits {
				path := strings.Split(e.path, ".")
				if e.value == nil {
					unstructured.RemoveNestedField(u.Object, path...)
				} else if err := unstructured.SetNestedField(u.Object, e.value, path...); err != nil {
					t.Fatal(err)
				}
			}
			sent := u.DeepCopy()
			sent.SetNamespace(ns)
			sent.SetName("bad")
			err := env.Client.Create(t.Context(), sent)
			expectRefused(t, err, tc.field, tc.msg)

			ps := checkObjects(t, bases, tc.base, u).Check()
			var paths []string
			found := false
			for _, p := range ps {
				_, path, _ := strings.Cut(p.Path, ":")
				paths = append(paths, path+": "+p.Reason)
				found = found || path == tc.field || strings.HasPrefix(path, tc.field+".") || strings.HasPrefix(path, tc.field+"[")
			}
			if tc.checkMisses == "" && !found {
				t.Errorf("Check does not report %s; it reports %q", tc.field, paths)
			}
		})
	}
}

// expectRefused checks that err is the API server refusing the object with
// msg at field, in the structured causes and in the printed message.
func expectRefused(t *testing.T, err error, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the API server accepted it; want %s: %s", field, msg)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("error %v is not Invalid", err)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		t.Fatalf("error %v has no details", err)
	}
	var causes []string
	found := false
	for _, c := range status.Status().Details.Causes {
		causes = append(causes, c.Field+": "+c.Message)
		found = found || (c.Field == field && strings.Contains(c.Message, msg))
	}
	if !found {
		t.Errorf("no cause %s: …%s…; causes:\n%s", field, msg, strings.Join(causes, "\n"))
	}
	if printed := err.Error(); !strings.Contains(printed, field+": ") || !strings.Contains(printed, msg) {
		t.Errorf("kubectl would print %q, which lacks %s or %q", printed, field, msg)
	}
}

// checkObjects is the bases as spk.Objects, with the one named replace (if
// any) replaced by edited; an edited object Go cannot decode (a type the
// schema refuses anyway) is left out.
func checkObjects(t *testing.T, bases map[string]*unstructured.Unstructured, replace string, edited *unstructured.Unstructured) *spk.Objects {
	t.Helper()
	o := &spk.Objects{}
	for _, name := range sortedKeys(bases) {
		u := bases[name]
		if name == replace {
			u = edited
		}
		data, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var decodeErr error
		switch u.GetKind() {
		case spk.KindVLAN:
			var v spk.F5SPKVlan
			if decodeErr = json.Unmarshal(data, &v); decodeErr == nil {
				o.VLANs = append(o.VLANs, v)
			}
		case spk.KindIngressTCP:
			var v spk.F5SPKIngressTCP
			if decodeErr = json.Unmarshal(data, &v); decodeErr == nil {
				o.Ingresses = append(o.Ingresses, v)
			}
		case spk.KindSnatpool:
			var v spk.F5SPKSnatpool
			if decodeErr = json.Unmarshal(data, &v); decodeErr == nil {
				o.Snatpools = append(o.Snatpools, v)
			}
		case spk.KindEgress:
			var v spk.F5SPKEgress
			if decodeErr = json.Unmarshal(data, &v); decodeErr == nil {
				o.Egresses = append(o.Egresses, v)
			}
		case spk.KindStaticRoute:
			var v spk.F5SPKStaticRoute
			if decodeErr = json.Unmarshal(data, &v); decodeErr == nil {
				o.Routes = append(o.Routes, v)
			}
		default:
			t.Fatalf("base %s is a %s", name, u.GetKind())
		}
		if decodeErr != nil && name != replace {
			t.Fatalf("base %s: %v", name, decodeErr)
		}
	}
	return o
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// crObjects lists o's objects with a CRD, as copies in the namespaces ns
// maps theirs to.
func crObjects(o *spk.Objects, ns func(string) string) []crObject {
	var out []crObject
	add := func(obj crObject) {
		obj.SetNamespace(ns(obj.GetNamespace()))
		out = append(out, obj)
	}
	for i := range o.VLANs {
		add(o.VLANs[i].DeepCopy())
	}
	for i := range o.Snatpools {
		add(o.Snatpools[i].DeepCopy())
	}
	for i := range o.Egresses {
		add(o.Egresses[i].DeepCopy())
	}
	for i := range o.Ingresses {
		add(o.Ingresses[i].DeepCopy())
	}
	for i := range o.Routes {
		add(o.Routes[i].DeepCopy())
	}
	return out
}

// freshNamespaces maps each namespace a set of objects uses (the empty one
// too) to a new namespace of the test, so sets applied by different tests
// never meet.
func freshNamespaces(t *testing.T, env *kubetest.Env) func(string) string {
	m := map[string]string{}
	return func(ns string) string {
		if _, ok := m[ns]; !ok {
			m[ns] = env.Namespace(t)
		}
		return m[ns]
	}
}

// decodeDocs decodes a YAML stream into unstructured objects, integers as
// int64 as the API machinery has them.
func decodeDocs(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(j)) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
}

func describe(o client.Object) string {
	return fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName())
}

// The controller writes conditions through the status subresource, and
// `kubectl get` shows them and the VIP in the printer columns (a JSONPath
// that matches nothing would print an empty cell, not fail).
func testStatusAndColumns(t *testing.T, env *kubetest.Env) {
	ns := env.Namespace(t)
	in := &spk.F5SPKIngressTCP{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Service:    spk.ServiceRef{Name: "nginx-app-svc", Port: 80},
		Spec:       spk.F5SPKIngressTCPSpec{DestinationAddress: "198.19.19.100", DestinationPort: 80},
	}
	if err := env.Client.Create(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	in.Status.ObservedGeneration = in.Generation
	in.Status.Conditions = []metav1.Condition{
		{Type: spk.ConditionAccepted, Status: metav1.ConditionTrue, Reason: "Compiled", Message: "compiled", LastTransitionTime: now, ObservedGeneration: in.Generation},
		{Type: spk.ConditionProgrammed, Status: metav1.ConditionFalse, Reason: "Pending", Message: "replica 1 has not confirmed", LastTransitionTime: now, ObservedGeneration: in.Generation},
	}
	// A spec change sent with the status must not be stored: status is a
	// subresource.
	in.Spec.DestinationPort = 8080
	if err := env.Client.Status().Update(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	var got spk.F5SPKIngressTCP
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(in), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 2 || got.Spec.DestinationPort != 80 {
		t.Errorf("after a status update: conditions %v, destinationPort %d (want 2 conditions, port still 80)", got.Status.Conditions, got.Spec.DestinationPort)
	}

	cells := tableRow(t, env, "/apis/ingresstcp.k8s.f5net.com/v1/namespaces/"+ns+"/f5-spk-ingresstcps/web")
	for col, want := range map[string]string{"VIP": "198.19.19.100", "Port": "80", "Accepted": "True", "Programmed": "False", "Service": "nginx-app-svc"} {
		if got := cells[col]; got != want {
			t.Errorf("column %s = %q, want %q (all: %v)", col, got, want, cells)
		}
	}
}

// tableRow GETs one object as a server-side Table (what kubectl get
// prints) and returns its cells by column name.
func tableRow(t *testing.T, env *kubetest.Env, path string) map[string]string {
	t.Helper()
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, strings.TrimSuffix(env.Config.Host, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(table.Rows))
	}
	cells := map[string]string{}
	for i, c := range table.ColumnDefinitions {
		if i < len(table.Rows[0].Cells) {
			cells[c.Name] = fmt.Sprint(table.Rows[0].Cells[i])
		}
	}
	return cells
}
