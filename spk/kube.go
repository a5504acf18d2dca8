package spk

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultNodeAddressAnnotation is the node annotation holding the node's
// egress-net address, as OVN-Kubernetes writes it and SPK reads it:
// {"ipv4":"198.18.100.3/24","ipv6":"…/112"}.
const DefaultNodeAddressAnnotation = "k8s.ovn.org/node-primary-ifaddr"

// Cluster is what spk-controller reads from the API server.
type Cluster struct {
	VLANs     []F5SPKVlan
	Ingresses []F5SPKIngressTCP
	Snatpools []F5SPKSnatpool
	Egresses  []F5SPKEgress
	Routes    []F5SPKStaticRoute

	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Nodes          []corev1.Node
	// NodeAddressAnnotation names the node annotation with the egress-net
	// address; empty means DefaultNodeAddressAnnotation.
	NodeAddressAnnotation string

	// Routing is the TMM's dynamic routing from the Helm values.
	Routing *DynamicRouting
}

// Resolved is what FromCluster makes of a Cluster: the objects Compile
// takes (each ingress's pool as StaticEndpoints named after its Service),
// the ingresses it could not resolve, and notes on endpoints it left out.
// Both maps are keyed by ObjectKey.
type Resolved struct {
	Objects *Objects
	// Rejected: ingresses left out, with the reason (their Accepted
	// condition says it).
	Rejected map[string]string
	// Notes: accepted ingresses some of whose endpoints could not be used
	// (e.g. a node without its egress-net address), with what and why.
	Notes map[string]string
}

// ObjectKey is how Compile, Check and FromCluster name an API object in
// their results: "Kind namespace/name".
func ObjectKey(kind string, m *metav1.ObjectMeta) string { return location("", kind, m) }

// FromCluster resolves every ingress's Service, EndpointSlices and the
// nodes hosting the endpoints into StaticEndpoints — the same kind
// `spk-tmm --config` reads — so the controller and the standalone TMM feed
// Compile the same objects. It is pure.
//
// A pool is the ready endpoints (EndpointSlice condition ready unset or
// true) of the Service port the ingress names, each sent to its node's
// egress-net address. An ingress whose Service is missing gets no pool
// and Compile rejects it; one whose Service lacks the port is rejected
// here.
func FromCluster(c *Cluster) *Resolved {
	out := &Resolved{
		Objects: &Objects{
			VLANs:     slices.Clone(c.VLANs),
			Snatpools: slices.Clone(c.Snatpools),
			Egresses:  slices.Clone(c.Egresses),
			Routes:    slices.Clone(c.Routes),
			Routing:   c.Routing,
		},
		Rejected: map[string]string{},
		Notes:    map[string]string{},
	}
	annotation := c.NodeAddressAnnotation
	if annotation == "" {
		annotation = DefaultNodeAddressAnnotation
	}
	services := map[string]*corev1.Service{}
	for i := range c.Services {
		s := &c.Services[i]
		services[s.Namespace+"/"+s.Name] = s
	}
	slicesOf := map[string][]*discoveryv1.EndpointSlice{}
	for i := range c.EndpointSlices {
		es := &c.EndpointSlices[i]
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		slicesOf[es.Namespace+"/"+svc] = append(slicesOf[es.Namespace+"/"+svc], es)
	}
	nodes := map[string]*corev1.Node{}
	for i := range c.Nodes {
		nodes[c.Nodes[i].Name] = &c.Nodes[i]
	}
	// Compile finds a pool by Service name, so one Service serves one port
	// to every ingress naming it.
	portOf := map[string]string{}
	pools := map[string]*StaticEndpoints{}
	ingresses := slices.Clone(c.Ingresses)
	sortOldestFirst(ingresses)
	for _, in := range ingresses {
		key := ObjectKey(KindIngressTCP, &in.ObjectMeta)
		svcKey := in.Namespace + "/" + in.Service.Name
		svc := services[svcKey]
		if svc == nil {
			out.Objects.Ingresses = append(out.Objects.Ingresses, in) // Compile says the Service is missing
			continue
		}
		sp, ok := servicePort(svc, in.Service.Port)
		if !ok {
			out.Rejected[key] = fmt.Sprintf("service.port: Service %s has no port %d (it has %s)", svcKey, in.Service.Port, portList(svc))
			continue
		}
		if first, seen := portOf[svcKey]; seen && first != sp.Name+"/"+fmt.Sprint(sp.Port) {
			out.Rejected[key] = fmt.Sprintf("service.port: another ingress already uses Service %s with port %s; an ingress per Service port needs its own Service", svcKey, first)
			continue
		}
		portOf[svcKey] = sp.Name + "/" + fmt.Sprint(sp.Port)
		out.Objects.Ingresses = append(out.Objects.Ingresses, in)
		if pools[svcKey] != nil {
			continue
		}
		eps, notes := readyEndpoints(slicesOf[svcKey], sp.Name, nodes, annotation)
		pools[svcKey] = &StaticEndpoints{
			TypeMeta:   typeMeta(APIVersionStaticEndpoints, KindStaticEndpoints),
			ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name},
			Endpoints:  eps,
		}
		if len(notes) > 0 {
			out.Notes[key] = strings.Join(notes, "; ")
		}
	}
	keys := make([]string, 0, len(pools))
	for k := range pools {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Objects.Endpoints = append(out.Objects.Endpoints, *pools[k])
	}
	if sn := staticNodes(c.Nodes, annotation); len(sn.Nodes) > 0 {
		out.Objects.Nodes = []StaticNodes{sn}
	}
	return out
}

// staticNodes lists the nodes that carry the egress-net address
// annotation, with those addresses: the tenant tunnels' only senders.
// Nodes without it (the control plane) send no tenant traffic.
func staticNodes(nodes []corev1.Node, annotation string) StaticNodes {
	sn := StaticNodes{TypeMeta: typeMeta(APIVersionStaticNodes, KindStaticNodes), ObjectMeta: metav1.ObjectMeta{Name: "nodes"}}
	for i := range nodes {
		n := &nodes[i]
		v4, v6, err := NodeEgressAddresses(n, annotation)
		if err != nil || !v4.IsValid() && !v6.IsValid() {
			continue
		}
		node := StaticNode{Name: n.Name}
		if v4.IsValid() {
			node.IPv4 = v4.Addr().String()
		}
		if v6.IsValid() {
			node.IPv6 = v6.Addr().String()
		}
		sn.Nodes = append(sn.Nodes, node)
	}
	slices.SortFunc(sn.Nodes, func(a, b StaticNode) int { return strings.Compare(a.Name, b.Name) })
	return sn
}

func servicePort(svc *corev1.Service, port int32) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Port == port && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

func portList(svc *corev1.Service) string {
	var ps []string
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			ps = append(ps, fmt.Sprintf("%d (%s)", p.Port, p.Name))
		} else {
			ps = append(ps, fmt.Sprint(p.Port))
		}
	}
	if len(ps) == 0 {
		return "none"
	}
	return strings.Join(ps, ", ")
}

// readyEndpoints lists the ready endpoints of the slices for the named
// Service port, sorted and without duplicates, and notes what it left out.
func readyEndpoints(ess []*discoveryv1.EndpointSlice, portName string, nodes map[string]*corev1.Node, annotation string) ([]StaticEndpoint, []string) {
	var eps []StaticEndpoint
	var notes []string
	seen := map[string]bool{}
	for _, es := range ess {
		if es.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var port int32
		for _, p := range es.Ports {
			if p.Port != nil && (p.Name == nil && portName == "" || p.Name != nil && *p.Name == portName) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			node := ""
			if ep.NodeName != nil {
				node = *ep.NodeName
			}
			nodeAddr, why := nodeAddress(nodes[node], node, annotation)
			for _, a := range ep.Addresses {
				id := fmt.Sprintf("%s:%d", a, port)
				if seen[id] {
					continue
				}
				seen[id] = true
				if why != "" {
					notes = append(notes, fmt.Sprintf("endpoint %s left out: %s", a, why))
					continue
				}
				eps = append(eps, StaticEndpoint{IP: a, Port: port, Node: node, NodeAddress: nodeAddr})
			}
		}
	}
	slices.SortFunc(eps, func(a, b StaticEndpoint) int {
		return strings.Compare(fmt.Sprintf("%s:%d", a.IP, a.Port), fmt.Sprintf("%s:%d", b.IP, b.Port))
	})
	return eps, notes
}

// nodeAddress is a node's egress-net address (IPv4 preferred: the tunnel
// to the node runs over it) or why there is none.
func nodeAddress(n *corev1.Node, name, annotation string) (string, string) {
	switch {
	case name == "":
		return "", "the EndpointSlice names no node"
	case n == nil:
		return "", fmt.Sprintf("node %s does not exist", name)
	}
	v4, v6, err := NodeEgressAddresses(n, annotation)
	if err != nil {
		return "", err.Error()
	}
	if v4.IsValid() {
		return v4.Addr().String(), ""
	}
	return v6.Addr().String(), ""
}
