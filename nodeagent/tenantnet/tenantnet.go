// Package tenantnet is the node side of tenant egress: per tenant a VXLAN
// device toward the TMM replicas over the egress network, a routing table
// whose default route is that device, and policy rules that send the
// tenant's pods into it while cluster destinations stay on the main table.
//
// The same code configures the netns lab's node namespaces and, later, the
// spk-node DaemonSet. It works in the calling thread's network namespace and
// recognises what it made by device name prefix, rule priority and table
// range, so Apply converges and Remove takes back only its own objects.
package tenantnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/netconv"
)

// What tenantnet owns in a namespace.
const (
	// DevicePrefix starts every VXLAN device name: "vx<VNI>".
	DevicePrefix = "vx"
	// VXLANPort is the IANA VXLAN UDP port.
	VXLANPort = 4789
	// VXLANOverhead is what encapsulation adds over IPv4 (outer IP, UDP,
	// VXLAN and inner Ethernet headers).
	VXLANOverhead = 50
	// PriorityGuard and PriorityGuard+1 are the guard rules: VXLAN to a
	// TMM self IP that this node sends itself ("iif lo") looks up main; any
	// other — a pod's, forwarded by the node — is prohibited. Only the node
	// may say which tenant a packet is.
	PriorityGuard = 900
	// PriorityExempt is the priority of the "to <cluster prefix> lookup main"
	// rules; they come before the pod rules.
	PriorityExempt = 1000
	// PriorityPod is the priority of the "from <pod> lookup <tenant table>"
	// rules.
	PriorityPod = 2000
	// TableBase is the first table of the reserved range: a tenant's table
	// is TableBase+VNI, so it follows from the VNI alone (no index that
	// shifts when tenants come and go) and never meets the tables people
	// number by hand.
	TableBase = 1 << 24
	// MaxVNI is the largest 24-bit VXLAN network identifier.
	MaxVNI = 1<<24 - 1
)

// Tenant is one tenant's egress on this node.
type Tenant struct {
	Name string
	// VNI is the tenant's VXLAN network identifier (its key).
	VNI uint32
	// TMMs are the TMM replicas' self IPs on the egress network (the remote
	// VTEPs).
	TMMs []netip.Addr
	// Pods are the addresses of the tenant's pods on this node.
	Pods []netip.Addr
}

// Node is the node's egress configuration.
type Node struct {
	// Underlay is the egress-network device, e.g. "eth2".
	Underlay string
	// Local is this node's IPv4 on the egress network (the VTEP source).
	Local netip.Addr
	// Exempt are cluster destinations that stay on the main table: pod
	// subnet, service subnet, egress-network subnets.
	Exempt  []netip.Prefix
	Tenants []Tenant
	// Guard are the TMM self IPs on the egress network (IPv4) that the
	// node's pods may not send VXLAN to: only the node's own tunnels may.
	// It applies with or without tenants on the node.
	Guard []netip.Addr
}

// Device is the VXLAN device name of a VNI.
func Device(vni uint32) string { return DevicePrefix + strconv.FormatUint(uint64(vni), 10) }

// Table is the routing table of a VNI.
func Table(vni uint32) int { return TableBase + int(vni) }

func ownTable(table int) bool { return table >= TableBase && table <= TableBase+MaxVNI }

// zeroMAC is the FDB address that floods (broadcast, unknown unicast) to a
// remote VTEP.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Apply makes the namespace of the calling thread match n: it creates what
// is missing, fixes what differs, and removes tenants, pods and TMMs it made
// that n no longer lists. The caller keeps its goroutine on one OS thread
// (runtime.LockOSThread) when that thread is in another namespace.
func Apply(n Node) error {
	if err := n.check(); err != nil {
		return err
	}
	want := map[string]bool{}
	if len(n.Tenants) > 0 {
		under, err := netlink.LinkByName(n.Underlay)
		if err != nil {
			return fmt.Errorf("underlay %s: %w", n.Underlay, err)
		}
		if err := setSysctl("net/ipv4/conf/all/rp_filter", "0"); err != nil {
			return err
		}
		if err := applyTenants(n, under, want); err != nil {
			return err
		}
	}
	if err := removeDevices(func(name string) bool { return !want[name] }); err != nil {
		return err
	}
	return syncRules(n)
}

// applyTenants applies every tenant and marks its device wanted.
func applyTenants(n Node, under netlink.Link, want map[string]bool) error {
	for _, t := range n.Tenants {
		want[Device(t.VNI)] = true
		if err := applyTenant(n, under, t); err != nil {
			return fmt.Errorf("tenant %s (VNI %d): %w", t.Name, t.VNI, err)
		}
	}
	return nil
}

// Remove deletes every device, rule and route Apply makes, in the calling
// thread's namespace.
func Remove() error {
	var errs []error
	errs = append(errs, removeDevices(func(string) bool { return true }))
	rules, err := ownRules()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for i := range rules {
		if err := netlink.RuleDel(&rules[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("deleting rule %s: %w", rules[i], err))
		}
	}
	return errors.Join(errs...)
}

func (n Node) check() error {
	for _, a := range n.Guard {
		if !a.Is4() {
			return fmt.Errorf("tenantnet: guarded TMM address %v is not IPv4 (the underlay is IPv4)", a)
		}
	}
	if len(n.Tenants) == 0 {
		return nil // no tunnel: neither underlay nor local address is used
	}
	if n.Underlay == "" {
		return errors.New("tenantnet: no underlay device")
	}
	if !n.Local.Is4() {
		return fmt.Errorf("tenantnet: local VTEP address %v is not IPv4", n.Local)
	}
	seen := map[uint32]string{}
	for _, t := range n.Tenants {
		if t.VNI < 1 || t.VNI > MaxVNI {
			return fmt.Errorf("tenantnet: tenant %s: VNI %d is out of range 1–%d", t.Name, t.VNI, MaxVNI)
		}
		if other, dup := seen[t.VNI]; dup {
			return fmt.Errorf("tenantnet: tenants %s and %s share VNI %d", other, t.Name, t.VNI)
		}
		seen[t.VNI] = t.Name
		if len(t.TMMs) == 0 {
			return fmt.Errorf("tenantnet: tenant %s has no TMM address", t.Name)
		}
		for _, a := range t.TMMs {
			if !a.Is4() {
				return fmt.Errorf("tenantnet: tenant %s: TMM address %v is not IPv4 (the underlay is IPv4)", t.Name, a)
			}
		}
		for _, p := range t.Pods {
			if !p.IsValid() {
				return fmt.Errorf("tenantnet: tenant %s has an invalid pod address", t.Name)
			}
		}
	}
	return nil
}

func applyTenant(n Node, under netlink.Link, t Tenant) error {
	dev, err := ensureVXLAN(n, under, t.VNI)
	if err != nil {
		return err
	}
	name := dev.Attrs().Name
	if err := setSysctl("net/ipv4/conf/"+name+"/rp_filter", "0"); err != nil {
		return err
	}
	if err := syncFDB(dev, t.TMMs); err != nil {
		return err
	}
	table := Table(t.VNI)
	for _, dst := range []*net.IPNet{
		{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
		{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
	} {
		// Onlink, no gateway: TMM answers ARP/ND for every address on the
		// tenant overlay.
		r := &netlink.Route{LinkIndex: dev.Attrs().Index, Dst: dst, Table: table, Scope: netlink.SCOPE_LINK}
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("default route dev %s table %d: %w", name, table, err)
		}
	}
	return nil
}

// ensureVXLAN returns the tenant's device, (re)creating it when it is
// missing or made differently, and sets it up.
func ensureVXLAN(n Node, under netlink.Link, vni uint32) (netlink.Link, error) {
	name := Device(vni)
	mtu := under.Attrs().MTU - VXLANOverhead
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name, MTU: mtu},
		VxlanId:      int(vni),
		VtepDevIndex: under.Attrs().Index,
		SrcAddr:      net.IP(n.Local.AsSlice()),
		Learning:     true,
		Port:         VXLANPort,
	}
	link, err := netlink.LinkByName(name)
	if err == nil {
		if !sameVXLAN(link, want) {
			if err := netlink.LinkDel(link); err != nil {
				return nil, fmt.Errorf("replacing %s: %w", name, err)
			}
			link = nil
		}
	} else if _, notFound := err.(netlink.LinkNotFoundError); !notFound {
		return nil, fmt.Errorf("looking up %s: %w", name, err)
	} else {
		link = nil
	}
	if link == nil {
		if err := netlink.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("creating %s (VNI %d, local %s, dev %s): %w", name, vni, n.Local, n.Underlay, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return nil, fmt.Errorf("looking up %s: %w", name, err)
		}
	}
	if link.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(link, mtu); err != nil {
			return nil, fmt.Errorf("setting MTU of %s to %d: %w", name, mtu, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("setting %s up: %w", name, err)
		}
	}
	return link, nil
}

func sameVXLAN(l netlink.Link, want *netlink.Vxlan) bool {
	v, ok := l.(*netlink.Vxlan)
	return ok && v.VxlanId == want.VxlanId && v.VtepDevIndex == want.VtepDevIndex &&
		v.SrcAddr.Equal(want.SrcAddr) && v.Port == want.Port && v.Learning == want.Learning
}

// syncFDB keeps one all-zeros entry per TMM and drops the ones to VTEPs no
// longer listed (learned entries are the kernel's and stay).
func syncFDB(dev netlink.Link, tmms []netip.Addr) error {
	idx := dev.Attrs().Index
	have, err := Consistent(func() ([]netlink.Neigh, error) { return netlink.NeighList(idx, unix.AF_BRIDGE) })
	if err != nil {
		return fmt.Errorf("listing FDB of %s: %w", dev.Attrs().Name, err)
	}
	present := map[netip.Addr]bool{}
	for _, nb := range have {
		if nb.LinkIndex != idx || nb.HardwareAddr.String() != zeroMAC.String() {
			continue
		}
		a, ok := netip.AddrFromSlice(nb.IP)
		if !ok {
			continue
		}
		a = a.Unmap()
		if slices.Contains(tmms, a) {
			present[a] = true
			continue
		}
		del := fdbEntry(idx, a)
		if err := netlink.NeighDel(del); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("deleting FDB entry to %s on %s: %w", a, dev.Attrs().Name, err)
		}
	}
	for _, a := range tmms {
		if present[a] {
			continue
		}
		if err := netlink.NeighAppend(fdbEntry(idx, a)); err != nil {
			return fmt.Errorf("adding FDB entry 00:00:00:00:00:00 dst %s on %s: %w", a, dev.Attrs().Name, err)
		}
	}
	return nil
}

func fdbEntry(linkIndex int, dst netip.Addr) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    linkIndex,
		Family:       unix.AF_BRIDGE,
		State:        netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags:        netlink.NTF_SELF,
		IP:           net.IP(dst.AsSlice()),
		HardwareAddr: zeroMAC,
	}
}

// removeDevices deletes the VXLAN devices with our prefix that drop says to
// (their table's routes go with them).
func removeDevices(drop func(name string) bool) error {
	links, err := Consistent(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("listing links: %w", err)
	}
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		if l.Type() != "vxlan" || !isOwnDevice(name) || !drop(name) {
			continue
		}
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func isOwnDevice(name string) bool {
	rest, ok := strings.CutPrefix(name, DevicePrefix)
	if !ok {
		return false
	}
	n, err := strconv.ParseUint(rest, 10, 32)
	return err == nil && n >= 1 && n <= MaxVNI && strconv.FormatUint(n, 10) == rest
}

// rule is the part of an ip rule tenantnet sets, comparable.
type rule struct {
	priority int
	src, dst netip.Prefix
	table    int
	// Guard rules only: the interface the packet came in on ("lo" for the
	// node's own), UDP destination port VXLANPort, and prohibit instead of
	// a table.
	iif      string
	vxlan    bool
	prohibit bool
}

func (r rule) netlink() *netlink.Rule {
	nr := netlink.NewRule()
	nr.Priority = r.priority
	nr.Table = r.table
	nr.IifName = r.iif
	if r.vxlan {
		nr.IPProto = unix.IPPROTO_UDP
		nr.Dport = netlink.NewRulePortRange(VXLANPort, VXLANPort)
	}
	if r.prohibit {
		nr.Type = unix.RTN_PROHIBIT
	}
	p := r.src
	if r.dst.IsValid() {
		p = r.dst
	}
	nr.Family = unix.AF_INET
	if p.Addr().Is6() {
		nr.Family = unix.AF_INET6
	}
	if r.src.IsValid() {
		nr.Src = netconv.IPNet(r.src)
	}
	if r.dst.IsValid() {
		nr.Dst = netconv.IPNet(r.dst)
	}
	return nr
}

func wantedRules(n Node) map[rule]bool {
	want := map[rule]bool{}
	for _, a := range n.Guard {
		dst := netip.PrefixFrom(a, a.BitLen())
		want[rule{priority: PriorityGuard, dst: dst, table: unix.RT_TABLE_MAIN, iif: "lo", vxlan: true}] = true
		want[rule{priority: PriorityGuard + 1, dst: dst, vxlan: true, prohibit: true}] = true
	}
	if len(n.Tenants) == 0 {
		return want
	}
	for _, p := range n.Exempt {
		want[rule{priority: PriorityExempt, dst: p.Masked(), table: unix.RT_TABLE_MAIN}] = true
	}
	for _, t := range n.Tenants {
		for _, pod := range t.Pods {
			want[rule{priority: PriorityPod, src: netip.PrefixFrom(pod, pod.BitLen()), table: Table(t.VNI)}] = true
		}
	}
	return want
}

// ownRules lists the rules tenantnet made: guard rules (priorities
// PriorityGuard and PriorityGuard+1, UDP to the VXLAN port), exempt rules
// (priority PriorityExempt, main table, a destination only) and pod rules
// (priority PriorityPod, a table of the reserved range).
func ownRules() ([]netlink.Rule, error) {
	all, err := Consistent(func() ([]netlink.Rule, error) { return netlink.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("listing rules: %w", err)
	}
	var out []netlink.Rule
	for _, r := range all {
		switch {
		case (r.Priority == PriorityGuard || r.Priority == PriorityGuard+1) && isGuard(r):
		case r.Priority == PriorityExempt && r.Table == unix.RT_TABLE_MAIN && r.Dst != nil && r.Src == nil:
		case r.Priority == PriorityPod && ownTable(r.Table) && r.Src != nil && r.Dst == nil:
		default:
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

func isGuard(r netlink.Rule) bool {
	return r.IPProto == unix.IPPROTO_UDP && r.Dport != nil && r.Dport.Start == VXLANPort && r.Dport.End == VXLANPort && r.Dst != nil
}

// ruleOf is the comparable form of a rule read from the kernel.
func ruleOf(r netlink.Rule) rule {
	out := rule{priority: r.Priority, src: netconv.Prefix(r.Src), dst: netconv.Prefix(r.Dst), table: r.Table}
	if isGuard(r) {
		// netlink's RuleList does not report a rule's action, so the deny
		// rule is known by its priority and its want of a table.
		out.iif, out.vxlan = r.IifName, true
		out.prohibit = r.Priority == PriorityGuard+1 && r.Table == 0
	}
	return out
}

func syncRules(n Node) error {
	want := wantedRules(n)
	have, err := ownRules()
	if err != nil {
		return err
	}
	for i := range have {
		r := ruleOf(have[i])
		if want[r] {
			delete(want, r)
			continue
		}
		if err := netlink.RuleDel(&have[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("deleting stale rule %s: %w", have[i], err)
		}
	}
	for r := range want {
		if err := netlink.RuleAdd(r.netlink()); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("adding rule %s: %w", r, err)
		}
	}
	return nil
}

func (r rule) String() string {
	switch {
	case r.prohibit:
		return fmt.Sprintf("priority %d to %s ipproto udp dport %d prohibit", r.priority, r.dst, VXLANPort)
	case r.vxlan:
		return fmt.Sprintf("priority %d iif %s to %s ipproto udp dport %d lookup %d", r.priority, r.iif, r.dst, VXLANPort, r.table)
	case r.src.IsValid():
		return fmt.Sprintf("priority %d from %s lookup %d", r.priority, r.src, r.table)
	default:
		return fmt.Sprintf("priority %d to %s lookup %d", r.priority, r.dst, r.table)
	}
}

// setSysctl writes a /proc/sys value; net/ entries belong to the calling
// thread's namespace.
// setSysctl writes a sysctl only when it differs: in an unprivileged
// container (the spk-node DaemonSet) /proc/sys is read-only, and the node
// has the values already when its setup step set them.
func setSysctl(key, value string) error {
	if cur, err := readSysctl(key); err == nil && cur == value {
		return nil
	}
	path := filepath.Join("/proc/sys", key)
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		name := strings.ReplaceAll(key, "/", ".")
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("setting %s=%s: /proc/sys is read-only here (a container): set it on the node first (net.ipv4.conf.all.rp_filter and net.ipv4.conf.default.rp_filter = 0): %w", name, value, err)
		}
		return fmt.Errorf("setting %s=%s: %w", name, value, err)
	}
	return nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", strings.ReplaceAll(key, "/", "."), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// dumpTries bounds the retries of an interrupted netlink dump.
const dumpTries = 10

// Consistent runs a netlink list until the kernel's dump was not
// interrupted by a concurrent change (NLM_F_DUMP_INTR: netlink returns a
// possibly incomplete result with ErrDumpInterrupted).
func Consistent[T any](list func() (T, error)) (T, error) {
	var out T
	var err error
	for range dumpTries {
		if out, err = list(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return out, fmt.Errorf("netlink dump interrupted %d times in a row: %w", dumpTries, err)
}
