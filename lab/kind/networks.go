package kind

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/vishvananda/netlink"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// LabelParent marks a macvlan network whose parent is a project-owned
// bridge (hosts without the dummy link type), naming the bridge.
const LabelParent = "io.spklab.parent"

// bridgeAliasPrefix starts the alias of every fallback bridge; the rest is
// "<cluster>/<network>", which is how Destroy finds them.
const bridgeAliasPrefix = "spklab:"

// nodeSysctls are the sysctls the guide sets in the nodes.
var nodeSysctls = [][2]string{
	{"net.ipv4.conf.all.rp_filter", "0"},
	{"net.ipv4.conf.default.rp_filter", "0"},
	{"net.ipv4.ip_forward", "1"},
	// kind nodes start with IPv6 disabled on new devices; the node agent's
	// per-tenant VXLAN devices carry IPv6 routes too.
	{"net.ipv6.conf.default.disable_ipv6", "0"},
}

// NetworksStep is the docker networks the workers join (render.DockerNetworks):
// created with the lab label, connected with the topology's interface names,
// addresses flushed where only TMM uses the wire, the annotated address
// recorded on the node, and the node sysctls.
type NetworksStep struct{ l *Lab }

// Name is the step's name.
func (NetworksStep) Name() string { return "networks" }

// BridgeName is the project-owned parent bridge of a macvlan network on
// hosts without dummy links (a hash keeps it within IFNAMSIZ).
func BridgeName(cluster, network string) string {
	sum := sha256.Sum256([]byte(cluster + "/" + network))
	return "spk-" + hex.EncodeToString(sum[:4])
}

// ifaceInfo is one interface of a node, from `ip -j addr`.
type ifaceInfo struct {
	Name     string `json:"ifname"`
	MAC      string `json:"address"`
	AddrInfo []struct {
		Family string `json:"family"`
		Local  string `json:"local"`
		Scope  string `json:"scope"`
	} `json:"addr_info"`
}

func (i ifaceInfo) globalAddrs(family string) []string {
	var out []string
	for _, a := range i.AddrInfo {
		if a.Scope == "global" && (family == "" || a.Family == family) {
			out = append(out, a.Local)
		}
	}
	return out
}

func nodeIfaces(ctx context.Context, n nodes.Node) ([]ifaceInfo, error) {
	out, err := run(ctx, n, nil, "ip", "-j", "addr", "show")
	if err != nil {
		return nil, err
	}
	var ifs []ifaceInfo
	if err := json.Unmarshal([]byte(out), &ifs); err != nil {
		return nil, fmt.Errorf("%s: parsing ip -j addr: %w", n, err)
	}
	return ifs, nil
}

// endpoint returns a container's endpoint on a network, nil when not connected.
func (l *Lab) endpoint(ctx context.Context, container, netName string) (*network.EndpointSettings, error) {
	c, err := l.docker.ContainerInspect(ctx, container)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", container, err)
	}
	if c.NetworkSettings == nil {
		return nil, nil
	}
	return c.NetworkSettings.Networks[netName], nil
}

// annotationValue is the node annotation recording an endpoint's addresses.
func annotationValue(ep *network.EndpointSettings) string {
	v := map[string]string{}
	if ep.IPAddress != "" {
		v["ipv4"] = fmt.Sprintf("%s/%d", ep.IPAddress, ep.IPPrefixLen)
	}
	if ep.GlobalIPv6Address != "" {
		v["ipv6"] = fmt.Sprintf("%s/%d", ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen)
	}
	b, _ := json.Marshal(v) // map of strings: cannot fail
	return string(b)
}

// Check verifies every network, attachment, address, annotation and sysctl.
func (s NetworksStep) Check(ctx context.Context) steps.Status {
	return s.l.gatherNetworks(ctx).status()
}

// annotationKey is the node annotation a network's address goes to ("" none).
func (l *Lab) annotationKey(dockerName string) string {
	for _, n := range l.Topo.Networks {
		if n.Attach != nil && l.Topo.DockerName(n) == dockerName {
			return n.Attach.Annotation
		}
	}
	return ""
}

// Apply creates what is missing and repairs names, addresses and annotations.
func (s NetworksStep) Apply(ctx context.Context) error {
	l := s.l
	for _, dn := range render.DockerNetworks(l.Topo) {
		if err := l.ensureNetwork(ctx, dn); err != nil {
			return err
		}
	}
	// Connect in topology order, network by network, so fresh nodes get
	// eth1, eth2… in that order; names are fixed afterwards regardless.
	for _, dn := range render.DockerNetworks(l.Topo) {
		for _, a := range dn.Attach {
			if err := l.attach(ctx, dn, a); err != nil {
				return err
			}
		}
	}
	ns, err := l.Nodes()
	if err != nil {
		return err
	}
	for _, n := range ns {
		for _, sc := range nodeSysctls {
			if _, err := run(ctx, n, nil, "sysctl", "-w", sc[0]+"="+sc[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureNetwork creates a network unless this lab's already exists.
func (l *Lab) ensureNetwork(ctx context.Context, dn render.DockerNetwork) error {
	nw, err := l.docker.NetworkInspect(ctx, dn.Name, network.InspectOptions{})
	if err == nil {
		if nw.Labels[render.LabelLab] != l.Topo.Cluster.Name {
			return fmt.Errorf("docker network %s exists without label %s=%s: not this lab's, not touching it", dn.Name, render.LabelLab, l.Topo.Cluster.Name)
		}
		return nil
	}
	ipv6 := dn.EnableIPv6
	opts := network.CreateOptions{
		Driver: dn.Driver, Options: maps.Clone(dn.Options), EnableIPv6: &ipv6,
		Labels: maps.Clone(dn.Labels), Internal: dn.Internal,
		IPAM: &network.IPAM{Driver: "default"},
	}
	for _, p := range dn.IPAM {
		opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{Subnet: p.Subnet, Gateway: p.Gateway})
	}
	_, err = l.docker.NetworkCreate(ctx, dn.Name, opts)
	if err != nil && dn.Driver == "macvlan" && strings.Contains(err.Error(), "operation not supported") {
		// Docker gives a parentless macvlan a dummy parent; this kernel has
		// no dummy links. A project-owned, address-less bridge stands in,
		// so the lab's addresses stay inside what the project created.
		br := BridgeName(l.Topo.Cluster.Name, dn.Name)
		l.Log.Info("no dummy link type: macvlan network gets a project-owned bridge as parent", "network", dn.Name, "bridge", br)
		if err := l.ensureBridge(br, bridgeAliasPrefix+l.Topo.Cluster.Name+"/"+dn.Name); err != nil {
			return err
		}
		if opts.Options == nil {
			opts.Options = map[string]string{}
		}
		opts.Options["parent"] = br
		// Internal, as a parentless macvlan is: docker gives its endpoints
		// no gateway, so a node's default route stays on the kind network
		// (otherwise docker 20.10 moves it to the lab network whose name
		// sorts first).
		opts.Internal = true
		opts.Labels[LabelParent] = br
		_, err = l.docker.NetworkCreate(ctx, dn.Name, opts)
	}
	if err != nil {
		return fmt.Errorf("creating docker network %s: %w", dn.Name, err)
	}
	return nil
}

// ensureBridge makes an up, address-less bridge with the alias Destroy finds.
func (l *Lab) ensureBridge(name, alias string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("creating bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("bridge %s: %w", name, err)
		}
	} else if link.Attrs().Alias != alias {
		return fmt.Errorf("link %s exists and is not %s's bridge (alias %q)", name, alias, link.Attrs().Alias)
	}
	if err := netlink.LinkSetAlias(link, alias); err != nil {
		return fmt.Errorf("naming bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing bridge %s up: %w", name, err)
	}
	return nil
}

// attach connects one node, names its interface, flushes or annotates.
func (l *Lab) attach(ctx context.Context, dn render.DockerNetwork, a render.NodeAttachmentSpec) error {
	if a.VLAN != 0 {
		return fmt.Errorf("%s on %s: VLAN attachments are not supported by the kind runtime yet", a.Node, dn.Name)
	}
	ep, err := l.endpoint(ctx, a.Node, dn.Name)
	if err != nil {
		return err
	}
	if ep != nil {
		if wrong := pinnedMismatch(a, ep); wrong != "" {
			// Connected by hand or by an older topology: reconnect with the pinned address.
			l.Log.Info("reconnecting", "node", a.Node, "network", dn.Name, "because", wrong)
			if err := l.docker.NetworkDisconnect(ctx, dn.Name, a.Node, true); err != nil {
				return fmt.Errorf("disconnecting %s from %s: %w", a.Node, dn.Name, err)
			}
			ep = nil
		}
	}
	if ep == nil {
		settings := &network.EndpointSettings{}
		if a.IPv4 != "" || a.IPv6 != "" {
			settings.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4, IPv6Address: a.IPv6}
		}
		if err := l.docker.NetworkConnect(ctx, dn.Name, a.Node, settings); err != nil {
			return fmt.Errorf("connecting %s to %s: %w", a.Node, dn.Name, err)
		}
		if ep, err = l.endpoint(ctx, a.Node, dn.Name); err != nil {
			return err
		}
		if ep == nil {
			return fmt.Errorf("%s: no endpoint on %s after connecting", a.Node, dn.Name)
		}
	}
	n, err := l.node(a.Node)
	if err != nil {
		return err
	}
	if err := renameByMAC(ctx, n, ep.MacAddress, a.Interface); err != nil {
		return err
	}
	if !a.KeepAddress {
		// Only TMM (through its macvlan attachment) uses this wire.
		if _, err := run(ctx, n, nil, "ip", "addr", "flush", "dev", a.Interface, "scope", "global"); err != nil {
			return err
		}
	} else if err := restoreAddrs(ctx, n, a.Interface, ep); err != nil {
		return err
	}
	if key := l.annotationKey(dn.Name); key != "" {
		if _, err := l.Kubectl(ctx, nil, "annotate", "node", a.Node, "--overwrite", key+"="+annotationValue(ep)); err != nil {
			return fmt.Errorf("annotating %s: %w", a.Node, err)
		}
	}
	return nil
}

// renameByMAC gives the interface with that MAC the wanted name, first
// moving aside another interface holding the name (an interrupted run can
// connect networks out of order).
func renameByMAC(ctx context.Context, n nodes.Node, mac, want string) error {
	ifs, err := nodeIfaces(ctx, n)
	if err != nil {
		return err
	}
	var cur string
	taken := false
	for _, i := range ifs {
		if strings.EqualFold(i.MAC, mac) {
			cur = i.Name
		} else if i.Name == want {
			taken = true
		}
	}
	if cur == "" {
		return fmt.Errorf("%s: no interface with MAC %s", n, mac)
	}
	if cur == want {
		return nil
	}
	if taken {
		if err := renameLink(ctx, n, want, "spk"+strings.ReplaceAll(mac, ":", "")[6:]); err != nil {
			return err
		}
	}
	return renameLink(ctx, n, cur, want)
}

func renameLink(ctx context.Context, n nodes.Node, from, to string) error {
	for _, args := range [][]string{
		{"link", "set", "dev", from, "down"},
		{"link", "set", "dev", from, "name", to},
		{"link", "set", "dev", to, "up"},
	} {
		if _, err := run(ctx, n, nil, "ip", args...); err != nil {
			return fmt.Errorf("renaming %s to %s: %w", from, to, err)
		}
	}
	return nil
}

// Destroy disconnects and removes the networks labelled with this lab,
// their fallback bridges and the node annotations.
func (s NetworksStep) Destroy(ctx context.Context) error {
	l := s.l
	if _, err := l.controlPlane(); err == nil {
		for _, n := range l.Topo.Networks {
			if n.Attach == nil || n.Attach.Annotation == "" {
				continue
			}
			for _, node := range l.Topo.AttachedNodes(n) {
				if _, err := l.Kubectl(ctx, nil, "annotate", "node", node, n.Attach.Annotation+"-"); err != nil {
					l.Log.Warn("removing node annotation", "node", node, "err", err)
				}
			}
		}
	}
	list, err := l.LabNetworks(ctx)
	if err != nil {
		return err
	}
	for _, nw := range list {
		full, err := l.docker.NetworkInspect(ctx, nw.ID, network.InspectOptions{})
		if err != nil {
			return fmt.Errorf("inspecting network %s: %w", nw.Name, err)
		}
		for id := range full.Containers {
			if err := l.docker.NetworkDisconnect(ctx, nw.ID, id, true); err != nil {
				return fmt.Errorf("disconnecting %s from %s: %w", id[:12], nw.Name, err)
			}
		}
		if err := l.docker.NetworkRemove(ctx, nw.ID); err != nil {
			return fmt.Errorf("removing network %s: %w", nw.Name, err)
		}
		l.Log.Info("removed docker network", "name", nw.Name)
	}
	bridges, err := l.LabBridges()
	if err != nil {
		return err
	}
	for _, br := range bridges {
		if err := netlink.LinkDel(br); err != nil {
			return fmt.Errorf("removing bridge %s: %w", br.Attrs().Name, err)
		}
		l.Log.Info("removed bridge", "name", br.Attrs().Name)
	}
	return nil
}

// LabNetworks lists the docker networks labelled with this lab.
func (l *Lab) LabNetworks(ctx context.Context) ([]network.Summary, error) {
	list, err := l.docker.NetworkList(ctx, network.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", render.LabelLab+"="+l.Topo.Cluster.Name)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the lab's docker networks: %w", err)
	}
	return list, nil
}

// LabBridges lists the host's fallback bridges of this lab (by alias).
func (l *Lab) LabBridges() ([]netlink.Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	prefix := bridgeAliasPrefix + l.Topo.Cluster.Name + "/"
	var out []netlink.Link
	for _, link := range links {
		if link.Type() == "bridge" && strings.HasPrefix(link.Attrs().Alias, prefix) {
			out = append(out, link)
		}
	}
	return out, nil
}

// endpointAddrs are the addresses docker gave an endpoint, as "a/len".
func endpointAddrs(ep *network.EndpointSettings) []string {
	var out []string
	if ep.IPAddress != "" {
		out = append(out, fmt.Sprintf("%s/%d", ep.IPAddress, ep.IPPrefixLen))
	}
	if ep.GlobalIPv6Address != "" {
		out = append(out, fmt.Sprintf("%s/%d", ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen))
	}
	return out
}

// missingAddrs are the endpoint's addresses the interface does not carry.
func missingAddrs(ifc ifaceInfo, ep *network.EndpointSettings) []string {
	have := map[string]bool{}
	for _, a := range ifc.globalAddrs("") {
		have[a] = true
	}
	var missing []string
	for _, a := range endpointAddrs(ep) {
		addr, _, _ := strings.Cut(a, "/")
		if !have[addr] {
			missing = append(missing, a)
		}
	}
	return missing
}

// restoreAddrs puts back the endpoint's addresses on a kept interface: a
// rename takes the link down, which drops its IPv6 addresses.
func restoreAddrs(ctx context.Context, n nodes.Node, name string, ep *network.EndpointSettings) error {
	ifs, err := nodeIfaces(ctx, n)
	if err != nil {
		return err
	}
	for _, ifc := range ifs {
		if ifc.Name != name {
			continue
		}
		for _, a := range missingAddrs(ifc, ep) {
			if _, err := run(ctx, n, nil, "ip", "addr", "add", a, "dev", name); err != nil {
				return fmt.Errorf("restoring %s on %s: %w", a, name, err)
			}
		}
	}
	return nil
}

// pinnedMismatch says how an endpoint's addresses differ from the ones the
// topology pins ("" when they match or none is pinned).
func pinnedMismatch(a render.NodeAttachmentSpec, ep *network.EndpointSettings) string {
	if a.IPv4 != "" && ep.IPAddress != a.IPv4 {
		return fmt.Sprintf("has %s, the topology pins %s", ep.IPAddress, a.IPv4)
	}
	if a.IPv6 != "" && !sameIP(ep.GlobalIPv6Address, a.IPv6) {
		return fmt.Sprintf("has %s, the topology pins %s", ep.GlobalIPv6Address, a.IPv6)
	}
	return ""
}

func sameIP(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x == y
}
