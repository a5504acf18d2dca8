package render

import "github.com/spklab/spklab/topology"

// Labels spklab puts on what it creates, so that status and down find the
// lab's objects from docker alone.
const (
	// LabelLab carries the cluster name of the lab an object belongs to.
	LabelLab = "io.spklab.lab"
	// LabelNetwork carries the topology name of a network.
	LabelNetwork = "io.spklab.network"
	// LabelFRRConfig on the router container is FRRConfigDigest of the
	// files it was started with.
	LabelFRRConfig = "io.spklab.frr-config"
)

// DockerNetwork is a docker network spklab creates itself (one that kind
// nodes attach to), with the attachments to make once it exists.
type DockerNetwork struct {
	Name    string            `json:"name" yaml:"name"`
	Driver  string            `json:"driver" yaml:"driver"`
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
	// EnableIPv6 is set when the network has an IPv6 subnet.
	EnableIPv6 bool              `json:"enableIPv6" yaml:"enableIPv6"`
	IPAM       []IPAMPool        `json:"ipam" yaml:"ipam"`
	Labels     map[string]string `json:"labels" yaml:"labels"`
	Internal   bool              `json:"internal" yaml:"internal"`
	// Attach lists every node that gets an interface on the network.
	Attach []NodeAttachmentSpec `json:"attach" yaml:"attach"`
}

// IPAMPool is one subnet of a network.
type IPAMPool struct {
	Subnet  string `json:"subnet" yaml:"subnet"`
	Gateway string `json:"gateway,omitempty" yaml:"gateway,omitempty"`
}

// NodeAttachmentSpec connects one kind node to a network.
type NodeAttachmentSpec struct {
	Node      string `json:"node" yaml:"node"`
	Interface string `json:"interface" yaml:"interface"`
	// IPv4 and IPv6 are the node's pinned addresses (empty: docker picks).
	// With VLAN set they belong on Interface.VLAN, and docker picks the
	// node's untagged address on the network.
	IPv4        string `json:"ipv4,omitempty" yaml:"ipv4,omitempty"`
	IPv6        string `json:"ipv6,omitempty" yaml:"ipv6,omitempty"`
	KeepAddress bool   `json:"keepAddress" yaml:"keepAddress"`
	VLAN        int    `json:"vlan,omitempty" yaml:"vlan,omitempty"`
}

// DockerNetworks returns the networks spklab creates itself, in topology
// order. Values are passed through as written (Validate checks them), so
// docker rejects a bad subnet instead of silently picking its own.
func DockerNetworks(t *topology.Topology) []DockerNetwork {
	if t == nil {
		return nil
	}
	var out []DockerNetwork
	for _, n := range t.Networks {
		if n.ComposeManaged() {
			continue
		}
		dn := DockerNetwork{
			Name:       t.DockerName(n),
			Driver:     n.Driver,
			Options:    driverOptions(n.Driver),
			EnableIPv6: n.IPv6Subnet != "",
			IPAM:       []IPAMPool{},
			Labels:     map[string]string{LabelLab: t.Cluster.Name, LabelNetwork: n.Name},
			Attach:     []NodeAttachmentSpec{},
		}
		if n.IPv4Subnet != "" {
			dn.IPAM = append(dn.IPAM, IPAMPool{Subnet: n.IPv4Subnet, Gateway: n.IPv4Gateway})
		}
		if n.IPv6Subnet != "" {
			dn.IPAM = append(dn.IPAM, IPAMPool{Subnet: n.IPv6Subnet, Gateway: n.IPv6Gateway})
		}
		for _, node := range t.AttachedNodes(n) {
			addr, _ := n.Attach.NodeAddress(node)
			dn.Attach = append(dn.Attach, NodeAttachmentSpec{
				Node:        node,
				Interface:   n.Attach.Interface,
				IPv4:        addr.IPv4,
				IPv6:        addr.IPv6,
				KeepAddress: n.Attach.KeepAddress,
				VLAN:        n.Attach.VLAN,
			})
		}
		out = append(out, dn)
	}
	return out
}

// driverOptions are the docker driver options of a network. A macvlan
// network never gets a "parent": without one docker makes it host-only,
// which keeps every lab address off the machine's real NICs (docs/architecture.md, "Network safety").
func driverOptions(driver string) map[string]string {
	if driver == topology.DriverMacvlan {
		return map[string]string{"macvlan_mode": "bridge"}
	}
	return nil
}
