package netns

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// CR file names in the CR directory.
const (
	CRFile        = "crs.yaml"
	EndpointsFile = "endpoints.yaml"
	NodesFile     = "nodes.yaml"
	RoutesFile    = "routes.yaml"
)

// crObjects returns what spk-tmm reads in standalone mode: the topology's
// CRs, the tenant Services' endpoints (the lab's pods), the nodes' egress
// addresses (the only senders of tenant VXLAN) and, with
// staticRouting, static routes for what the router announces (standing in
// for BGP-learned routes).
func crObjects(t *topology.Topology, pods []Pod, staticRouting bool) (base, extra *spk.Objects, err error) {
	base = spk.FromTopology(t)
	extra = &spk.Objects{}
	nodeAddr := map[string]string{}
	nodes := spk.StaticNodes{
		TypeMeta:   metav1.TypeMeta{APIVersion: spk.APIVersionStaticNodes, Kind: spk.KindStaticNodes},
		ObjectMeta: managedMeta("nodes", t.SPK.Namespace),
	}
	if v := egressVLAN(t); v != nil {
		if n := t.VLANNetwork(*v); n != nil && n.Attach != nil {
			for _, na := range n.Attach.Addresses {
				nodeAddr[na.Node] = na.IPv4
				nodes.Nodes = append(nodes.Nodes, spk.StaticNode{Name: na.Node, IPv4: na.IPv4, IPv6: na.IPv6})
			}
		}
	}
	if len(nodes.Nodes) > 0 {
		extra.Nodes = []spk.StaticNodes{nodes}
	}
	for _, tn := range t.Tenants {
		se := spk.StaticEndpoints{
			TypeMeta:   metav1.TypeMeta{APIVersion: spk.APIVersionStaticEndpoints, Kind: spk.KindStaticEndpoints},
			ObjectMeta: managedMeta(tn.Service.Name, tn.Namespace),
			Endpoints:  []spk.StaticEndpoint{},
		}
		for _, p := range pods {
			if p.Tenant != tn.Namespace {
				continue
			}
			se.Endpoints = append(se.Endpoints, spk.StaticEndpoint{IP: p.IP.String(), Port: PodPort, Node: p.Node, NodeAddress: nodeAddr[p.Node]})
		}
		extra.Endpoints = append(extra.Endpoints, se)
	}
	if v := t.BGPVLAN(); v != nil && staticRouting {
		if n := t.VLANNetwork(*v); n != nil {
			var gw4, gw6 netip.Addr
			for _, ri := range t.Router.Interfaces {
				if ri.Network == n.Name && ri.VLAN == v.Tag {
					gw4, _ = netip.ParseAddr(ri.IPv4)
					gw6, _ = netip.ParseAddr(ri.IPv6)
				}
			}
			for i, s := range t.Router.Announce {
				pfx, perr := netip.ParsePrefix(s)
				if perr != nil {
					return nil, nil, fmt.Errorf("router announce %q: %w", s, perr)
				}
				gw := pick(pfx.Addr(), gw4, gw6)
				if !gw.IsValid() {
					continue // the router has no address of that family toward TMM
				}
				extra.Routes = append(extra.Routes, spk.F5SPKStaticRoute{
					TypeMeta:   metav1.TypeMeta{APIVersion: spk.APIVersionStaticRoute, Kind: spk.KindStaticRoute},
					ObjectMeta: managedMeta("router-announce-"+strconv.Itoa(i), t.SPK.Namespace),
					Spec: spk.F5SPKStaticRouteSpec{
						Destination: pfx.Masked().Addr().String(),
						PrefixLen:   int32(pfx.Bits()),
						Type:        spk.RouteTypeGateway,
						Gateway:     gw.String(),
					},
				})
			}
		}
	}
	all := *base
	all.Routes = append(append([]spk.F5SPKStaticRoute(nil), base.Routes...), extra.Routes...)
	all.Endpoints = append(append([]spk.StaticEndpoints(nil), base.Endpoints...), extra.Endpoints...)
	all.Nodes = append(append([]spk.StaticNodes(nil), base.Nodes...), extra.Nodes...)
	if ps := all.Check(); ps != nil {
		return nil, nil, fmt.Errorf("the lab's CRs do not check:\n%w", ps)
	}
	return base, extra, nil
}

func managedMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{spk.LabelManagedBy: spk.ManagedBySPKLab}}
}

// writeCRs writes the CR directory, replacing files only when they differ.
func writeCRs(dir string, base, extra *spk.Objects) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	files := []struct {
		name string
		objs *spk.Objects
	}{
		{CRFile, base},
		{EndpointsFile, &spk.Objects{Endpoints: extra.Endpoints}},
		{NodesFile, &spk.Objects{Nodes: extra.Nodes}},
		{RoutesFile, &spk.Objects{Routes: extra.Routes}},
	}
	for _, f := range files {
		data, err := f.objs.YAML()
		if err != nil {
			return fmt.Errorf("encoding %s: %w", f.name, err)
		}
		if err := writeIfChanged(filepath.Join(dir, f.name), data); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged keeps a file that already holds data untouched, so a
// second Up changes nothing (a TMM watching the directory sees no event).
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}
