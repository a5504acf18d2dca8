// Package nodeagent is spk-node, the in-cluster half of tenant egress: on
// every worker it builds the node's tenantnet.Node from Kubernetes objects
// (F5SPKEgress per tenant namespace, the internal F5SPKVlan's self IPs as
// tunnel remotes, this node's pods, its egress-net address annotation) and
// applies it with the same tenantnet code the netns lab uses.
package nodeagent

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/spklab/spklab/nodeagent/tenantnet"
	"github.com/spklab/spklab/spk"
)

// Inputs are the objects a node's egress configuration follows from.
type Inputs struct {
	// NodeName is this node; pods on other nodes are ignored.
	NodeName string
	// Node is this node's object; nil when it could not be read.
	Node *corev1.Node
	// AddressAnnotation names the node annotation with the egress-net
	// address; "" means spk.DefaultNodeAddressAnnotation.
	AddressAnnotation string
	// ClusterCIDRs (pod and service subnets) stay on the main table.
	ClusterCIDRs []netip.Prefix
	Pods         []corev1.Pod
	Egresses     []spk.F5SPKEgress
	VLANs        []spk.F5SPKVlan
}

// Desired is what Build makes of Inputs.
type Desired struct {
	// Node is the configuration to apply, except Underlay, which only the
	// node's own interfaces can tell (the device holding Node.Local).
	Node tenantnet.Node
	// Skipped says, one line each, which tenants with pods here were left
	// out and why (a bad VXLAN key, a key another tenant has, …).
	Skipped []string
}

// Build computes the node's desired egress configuration. A tenant is a
// namespace with an F5SPKEgress and at least one eligible pod on this node
// (see Eligible); its VNI is the egress's VXLAN key, its remotes the
// internal VLAN's IPv4 self IPs. With no such tenant the result has no
// tenants and no error, whatever else is missing: applying it removes what
// an earlier configuration made. Otherwise a missing or bad node address
// annotation or tunnel remotes are an error, reported instead of applied.
func Build(in Inputs) (Desired, error) {
	var d Desired
	podsByNS := map[string][]netip.Addr{}
	for i := range in.Pods {
		p := &in.Pods[i]
		if !Eligible(p, in.NodeName) {
			continue
		}
		addrs, bad := PodAddresses(p)
		for _, s := range bad {
			d.Skipped = append(d.Skipped, fmt.Sprintf("pod %s/%s: pod IP %q is not an address", p.Namespace, p.Name, s))
		}
		podsByNS[p.Namespace] = append(podsByNS[p.Namespace], addrs...)
	}

	egresses := make([]*spk.F5SPKEgress, 0, len(in.Egresses))
	for i := range in.Egresses {
		if in.Egresses[i].DeletionTimestamp == nil {
			egresses = append(egresses, &in.Egresses[i])
		}
	}
	// In claim order, so of two egresses with one VXLAN key the older keeps
	// it here as in the TMMs' configs, whatever order the cache lists them in.
	slices.SortStableFunc(egresses, func(a, b *spk.F5SPKEgress) int { return spk.Older(&a.ObjectMeta, &b.ObjectMeta) })
	tenantOf := map[string]string{} // namespace → egress key
	vniOwner := map[uint32]string{}
	var tenants []tenantnet.Tenant
	for _, e := range egresses {
		key := spk.ObjectKey(spk.KindEgress, &e.ObjectMeta)
		pods := podsByNS[e.Namespace]
		if len(pods) == 0 {
			continue // nothing of this tenant runs here
		}
		if first, dup := tenantOf[e.Namespace]; dup {
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s: namespace %s already has %s; its pods use that one's tunnel", key, e.Namespace, first))
			continue
		}
		vni, ok := e.VXLANKey()
		if !ok {
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s: annotation %s %q is not a VXLAN key (1–%d); tenant %s gets no egress tunnel on this node",
				key, spk.AnnotationVXLANKey, e.Annotations[spk.AnnotationVXLANKey], spk.MaxVXLANKey, e.Namespace))
			continue
		}
		if first, dup := vniOwner[vni]; dup {
			d.Skipped = append(d.Skipped, fmt.Sprintf("%s: VXLAN key %d is already used by %s; each tenant needs its own", key, vni, first))
			continue
		}
		tenantOf[e.Namespace] = key
		vniOwner[vni] = key
		tenants = append(tenants, tenantnet.Tenant{Name: e.Namespace, VNI: vni, Pods: sortedUnique(pods)})
	}
	// The guard stands on every node, tenants here or not: no pod may
	// send VXLAN to a TMM (only the node's own tunnels may).
	guard, _, guardErr := spk.TunnelRemotes(in.VLANs)
	if guardErr == nil {
		d.Node.Guard = guard
	}
	if len(tenants) == 0 {
		return d, nil
	}

	if in.Node == nil {
		return d, fmt.Errorf("node %s: its Node object could not be read, so its egress-net address is unknown", in.NodeName)
	}
	v4, v6, err := spk.NodeEgressAddresses(in.Node, in.AddressAnnotation)
	if err != nil {
		return d, err
	}
	if !v4.IsValid() {
		return d, fmt.Errorf("node %s: the egress-net address annotation has no IPv4 address (the tenant tunnels run over IPv4)", in.NodeName)
	}
	if guardErr != nil {
		return d, guardErr
	}
	for i := range tenants {
		tenants[i].TMMs = guard
	}

	exempt := make([]netip.Prefix, 0, len(in.ClusterCIDRs)+2)
	for _, p := range append(slices.Clone(in.ClusterCIDRs), v4, v6) {
		if p.IsValid() {
			exempt = append(exempt, p.Masked())
		}
	}
	slices.SortFunc(exempt, comparePrefix)
	d.Node = tenantnet.Node{
		Local:   v4.Addr(),
		Exempt:  slices.Compact(exempt),
		Tenants: tenants,
		Guard:   guard,
	}
	return d, nil
}

// Eligible says whether a pod's traffic is this node's to route: it runs
// on the node, in the pod network (not hostNetwork), is not being deleted,
// and is Running, or Pending with an IP already (its sandbox is up and may
// send).
func Eligible(p *corev1.Pod, node string) bool {
	switch {
	case p.Spec.NodeName != node, p.Spec.HostNetwork, p.DeletionTimestamp != nil:
		return false
	case p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending:
		return false
	}
	return p.Status.PodIP != "" || len(p.Status.PodIPs) > 0
}

// PodAddresses are a pod's IPs (status.podIPs, else status.podIP); bad are
// the strings that are not addresses.
func PodAddresses(p *corev1.Pod) (addrs []netip.Addr, bad []string) {
	ips := make([]string, 0, len(p.Status.PodIPs)+1)
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && p.Status.PodIP != "" {
		ips = append(ips, p.Status.PodIP)
	}
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			bad = append(bad, s)
			continue
		}
		addrs = append(addrs, a.Unmap())
	}
	return addrs, bad
}

func sortedUnique(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}
