package spk

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func kubeIngress(ns, name, svc string, port int32) F5SPKIngressTCP {
	return F5SPKIngressTCP{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Service:    ServiceRef{Name: svc, Port: port},
		Spec:       F5SPKIngressTCPSpec{DestinationAddress: "198.19.19.100", DestinationPort: 80},
	}
}

func kubeService(ns, name string, ports ...corev1.ServicePort) corev1.Service {
	return corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func kubeNode(name, annotation string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if annotation != "" {
		n.Annotations = map[string]string{DefaultNodeAddressAnnotation: annotation}
	}
	return n
}

type kubeEP struct {
	addr, node string
	ready      *bool
}

func kubeSlice(ns, name, svc, portName string, port int32, eps ...kubeEP) discoveryv1.EndpointSlice {
	es := discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port)}},
	}
	for _, e := range eps {
		ep := discoveryv1.Endpoint{Addresses: []string{e.addr}, Conditions: discoveryv1.EndpointConditions{Ready: e.ready}}
		if e.node != "" {
			ep.NodeName = ptr.To(e.node)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

func TestFromClusterResolvesReadyEndpointsToTheirNodes(t *testing.T) {
	c := &Cluster{
		Ingresses: []F5SPKIngressTCP{kubeIngress("red", "red-ingress", "nginx-app-svc", 80)},
		Services:  []corev1.Service{kubeService("red", "nginx-app-svc", corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP})},
		EndpointSlices: []discoveryv1.EndpointSlice{
			kubeSlice("red", "nginx-app-svc-a", "nginx-app-svc", "http", 8080,
				kubeEP{addr: "10.244.1.7", node: "bnk-worker"},
				kubeEP{addr: "10.244.2.3", node: "bnk-worker2", ready: ptr.To(true)},
				kubeEP{addr: "10.244.1.9", node: "bnk-worker", ready: ptr.To(false)}, // not ready
				kubeEP{addr: "10.244.3.4", node: "bnk-worker3"},                      // node without annotation
			),
			// A second slice repeating an endpoint (slices overlap while the
			// EndpointSlice controller moves endpoints).
			kubeSlice("red", "nginx-app-svc-b", "nginx-app-svc", "http", 8080, kubeEP{addr: "10.244.1.7", node: "bnk-worker"}),
			// Another Service's slice in the same namespace.
			kubeSlice("red", "other-x", "other", "http", 9090, kubeEP{addr: "10.244.9.9", node: "bnk-worker"}),
		},
		Nodes: []corev1.Node{
			kubeNode("bnk-worker", `{"ipv4":"198.18.100.3/24"}`),
			kubeNode("bnk-worker2", `{"ipv4":"198.18.100.4/24","ipv6":"2001::198:18:100:4/112"}`),
			kubeNode("bnk-worker3", ""),
		},
	}
	r := FromCluster(c)
	if len(r.Rejected) != 0 {
		t.Fatalf("rejected: %v", r.Rejected)
	}
	if len(r.Objects.Endpoints) != 1 {
		t.Fatalf("%d StaticEndpoints, want 1", len(r.Objects.Endpoints))
	}
	se := r.Objects.Endpoints[0]
	if se.Namespace != "red" || se.Name != "nginx-app-svc" {
		t.Fatalf("pool named %s/%s, want red/nginx-app-svc (Compile finds it by Service)", se.Namespace, se.Name)
	}
	want := []StaticEndpoint{
		{IP: "10.244.1.7", Port: 8080, Node: "bnk-worker", NodeAddress: "198.18.100.3"},
		{IP: "10.244.2.3", Port: 8080, Node: "bnk-worker2", NodeAddress: "198.18.100.4"},
	}
	if len(se.Endpoints) != len(want) {
		t.Fatalf("endpoints %+v, want %+v", se.Endpoints, want)
	}
	for i := range want {
		if se.Endpoints[i] != want[i] {
			t.Fatalf("endpoint %d = %+v, want %+v", i, se.Endpoints[i], want[i])
		}
	}
	note := r.Notes["F5SPKIngressTCP red/red-ingress"]
	if !strings.Contains(note, "10.244.3.4") || !strings.Contains(note, "bnk-worker3 has no k8s.ovn.org/node-primary-ifaddr") {
		t.Fatalf("note = %q, want it to name the endpoint left out and why", note)
	}
	// The pool compiles into both VIP members.
	out := Compile(r.Objects, 0)
	if len(out.Problems) != 0 {
		t.Fatalf("compile problems: %v", out.Problems)
	}
}

func TestFromClusterRejectsWhatItCannotResolve(t *testing.T) {
	svc := kubeService("red", "web", corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Name: "alt", Port: 8080})
	cases := []struct {
		name      string
		ingresses []F5SPKIngressTCP
		key, want string
	}{
		{"service has no such port", []F5SPKIngressTCP{kubeIngress("red", "a", "web", 443)},
			"F5SPKIngressTCP red/a", "service.port: Service red/web has no port 443 (it has 80 (http), 8080 (alt))"},
		{"second port of one Service", []F5SPKIngressTCP{kubeIngress("red", "a", "web", 80), kubeIngress("red", "b", "web", 8080)},
			"F5SPKIngressTCP red/b", "another ingress already uses Service red/web with port http/80"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := FromCluster(&Cluster{Ingresses: tc.ingresses, Services: []corev1.Service{svc}})
			if got := r.Rejected[tc.key]; !strings.Contains(got, tc.want) {
				t.Fatalf("Rejected[%s] = %q, want it to contain %q (all: %v)", tc.key, got, tc.want, r.Rejected)
			}
			for _, in := range r.Objects.Ingresses {
				if ObjectKey(KindIngressTCP, &in.ObjectMeta) == tc.key {
					t.Fatal("a rejected ingress is still handed to Compile")
				}
			}
		})
	}
}

func TestFromClusterLeavesAMissingServiceToCompile(t *testing.T) {
	r := FromCluster(&Cluster{Ingresses: []F5SPKIngressTCP{kubeIngress("red", "a", "gone", 80)}})
	if len(r.Rejected) != 0 || len(r.Objects.Ingresses) != 1 || len(r.Objects.Endpoints) != 0 {
		t.Fatalf("resolved = %+v", r)
	}
	out := Compile(r.Objects, 0)
	if got := out.Rejected["F5SPKIngressTCP red/a"]; !strings.Contains(got, `no Service "gone"`) {
		t.Fatalf("compile says %q, want the missing Service named", got)
	}
}

func TestNodeAddressPrefersIPv4AndExplainsProblems(t *testing.T) {
	cases := []struct{ annotation, addr, why string }{
		{`{"ipv4":"198.18.100.3/24","ipv6":"2001::3/112"}`, "198.18.100.3", ""},
		{`{"ipv6":"2001::3/112"}`, "2001::3", ""},
		{`{"ipv4":"198.18.100.3"}`, "198.18.100.3", ""},
		{`198.18.100.3`, "", "is not {"},
		{`{"ipv4":"x"}`, "", `"x" is not an address`},
		{`{}`, "", "holds no address"},
	}
	for _, tc := range cases {
		n := kubeNode("w", tc.annotation)
		addr, why := nodeAddress(&n, "w", DefaultNodeAddressAnnotation)
		if addr != tc.addr || (tc.why == "") != (why == "") || !strings.Contains(why, tc.why) {
			t.Errorf("%s: got %q, %q; want %q, %q", tc.annotation, addr, why, tc.addr, tc.why)
		}
	}
}
