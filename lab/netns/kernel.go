package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/spklab/spklab/internal/netnsdo"
	"golang.org/x/sys/unix"

	"github.com/spklab/spklab/internal/netconv"
)

// NetnsDir is where iproute2 keeps named namespaces.
const NetnsDir = "/run/netns"

// RouteProtocol marks the routes the lab installs (iproute2 shows it as
// "proto 111"), so converging removes only its own stale routes.
const RouteProtocol = 111

// listNamespaces returns the named namespaces whose names start with prefix.
func listNamespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", NetnsDir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// prepareNetnsDir makes NetnsDir a shared bind mount of itself, as
// iproute2 does on its first "ip netns add". Done later, by iproute2 while
// namespaces already live there, that bind mount would cover their mounts:
// they could then be neither seen as mounts nor deleted. So it is done first,
// and only while no namespace is mounted there (else it is left as it is).
func prepareNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", NetnsDir, err)
	}
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return nil // already a mount point (or not ours to change)
	}
	info, rerr := os.ReadFile("/proc/self/mountinfo")
	if rerr != nil || strings.Contains(string(info), " "+NetnsDir+"/") {
		return nil
	}
	if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s: %w", NetnsDir, err)
	}
	if err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making %s shared: %w", NetnsDir, err)
	}
	return nil
}

// ensureNamespace creates the named namespace when it does not exist.
func ensureNamespace(name string) (created bool, err error) {
	if _, err := os.Stat(filepath.Join(NetnsDir, name)); err == nil {
		return false, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		return false, fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	h, err := vnetns.NewNamed(name)
	// NewNamed moves this thread into the new namespace: move it back.
	if serr := vnetns.Set(orig); serr != nil {
		return false, fmt.Errorf("returning to the original netns after creating %s: %w", name, serr)
	}
	if err != nil {
		return false, fmt.Errorf("creating netns %s: %w", name, err)
	}
	h.Close()
	return true, nil
}

// inNamespace runs fn on a locked OS thread inside the named namespace.
func inNamespace(name string, fn func() error) error { return netnsdo.Named(name, fn) }

// handle opens a netlink handle working in the named namespace.
func handle(name string) (*netlink.Handle, error) {
	ns, err := vnetns.GetFromName(name)
	if err != nil {
		return nil, fmt.Errorf("opening netns %s: %w", name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	return h, nil
}

// namespaceInode is the inode identifying the named namespace (what
// /proc/<pid>/ns/net of a process inside it points at).
func namespaceInode(name string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(NetnsDir, name), &st); err != nil {
		return 0, fmt.Errorf("netns %s: %w", name, err)
	}
	return st.Ino, nil
}

func deleteNamespace(name string) error {
	err := vnetns.DeleteNamed(name)
	switch {
	case err == nil || errors.Is(err, os.ErrNotExist):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("deleting netns %s: %w (its mount is covered by a later bind mount of %s, as a first \"ip netns add\" makes; it goes away at reboot, or after \"umount %s\" once no other namespace is mounted there)", name, err, NetnsDir, NetnsDir)
	}
	return fmt.Errorf("deleting netns %s: %w", name, err)
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// ensureBridge makes an up bridge without multicast snooping (ND must
// flood: nobody sends MLD queries on the lab's wires).
func ensureBridge(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("looking up bridge %s: %w", name, err)
	}
	if err == nil && l.Type() != "bridge" {
		if err := h.LinkDel(l); err != nil {
			return fmt.Errorf("replacing %s (a %s) with a bridge: %w", name, l.Type(), err)
		}
		err = netlink.LinkNotFoundError{}
	}
	if err != nil {
		off := false
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &off}); err != nil {
			return fmt.Errorf("creating bridge %s: %w", name, err)
		}
		if l, err = h.LinkByName(name); err != nil {
			return fmt.Errorf("looking up bridge %s: %w", name, err)
		}
	}
	return setUp(h, l)
}

func setUp(h *netlink.Handle, l netlink.Link) error {
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("setting %s up: %w", l.Attrs().Name, err)
	}
	return nil
}

// ensureVeth makes the pair name (in hostNS) / peer (in peerNS). A pair
// whose ends both exist is kept; a lone end is removed and the pair made
// again.
func ensureVeth(hostNS, name, peerNS, peer string) error {
	hh, err := handle(hostNS)
	if err != nil {
		return err
	}
	defer hh.Close()
	ph, err := handle(peerNS)
	if err != nil {
		return err
	}
	defer ph.Close()
	hl, herr := hh.LinkByName(name)
	pl, perr := ph.LinkByName(peer)
	for _, e := range []error{herr, perr} {
		if e != nil && !isNotFound(e) {
			return fmt.Errorf("looking up veth %s/%s: %w", name, peer, e)
		}
	}
	if herr == nil && perr == nil && hl.Type() == "veth" && pl.Type() == "veth" {
		return nil
	}
	if herr == nil {
		if err := hh.LinkDel(hl); err != nil {
			return fmt.Errorf("removing stale %s in %s: %w", name, hostNS, err)
		}
	}
	if perr == nil {
		if err := ph.LinkDel(pl); err != nil && !isNotFound(err) {
			return fmt.Errorf("removing stale %s in %s: %w", peer, peerNS, err)
		}
	}
	peerFD, err := vnetns.GetFromName(peerNS)
	if err != nil {
		return fmt.Errorf("opening netns %s: %w", peerNS, err)
	}
	defer peerFD.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer, PeerNamespace: netlink.NsFd(int(peerFD))}
	if err := hh.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s (%s) / %s (%s): %w", name, hostNS, peer, peerNS, err)
	}
	return nil
}

// ensureVLAN makes an 802.1Q link on parent. Kernels without 802.1Q support
// cannot: the error says which lab interface needed it.
func ensureVLAN(h *netlink.Handle, parent netlink.Link, v vlanLink) (netlink.Link, error) {
	l, err := h.LinkByName(v.name)
	if err == nil {
		if vl, ok := l.(*netlink.Vlan); ok && vl.VlanId == v.tag && vl.ParentIndex == parent.Attrs().Index {
			return l, nil
		}
		if err := h.LinkDel(l); err != nil {
			return nil, fmt.Errorf("replacing %s: %w", v.name, err)
		}
	} else if !isNotFound(err) {
		return nil, fmt.Errorf("looking up %s: %w", v.name, err)
	}
	vl := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: v.name, ParentIndex: parent.Attrs().Index}, VlanId: v.tag}
	if err := h.LinkAdd(vl); err != nil {
		return nil, fmt.Errorf("%s needs an 802.1Q VLAN link %s (tag %d on %s), which this kernel cannot make (no 802.1Q support?): %w",
			v.what, v.name, v.tag, parent.Attrs().Name, err)
	}
	return h.LinkByName(v.name)
}

// ensureAddrs gives the link exactly addrs, with scope (universe for
// ordinary addresses); the addresses the kernel makes are left alone. IPv6
// addresses skip duplicate address detection: the lab's addresses are
// unique by validation.
func ensureAddrs(h *netlink.Handle, l netlink.Link, addrs []netip.Prefix, scope netlink.Scope) error {
	have, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", l.Attrs().Name, err)
	}
	present := map[netip.Prefix]bool{}
	for _, a := range have {
		p := netconv.Prefix(a.IPNet)
		if kernelOwned(p.Addr()) {
			continue
		}
		if slices.Contains(addrs, p) && a.Scope == int(scope) {
			present[p] = true
			continue
		}
		if err := h.AddrDel(l, &a); err != nil {
			return fmt.Errorf("removing %s from %s: %w", p, l.Attrs().Name, err)
		}
	}
	for _, p := range addrs {
		if present[p] {
			continue
		}
		a := &netlink.Addr{IPNet: netconv.IPNet(p), Scope: int(scope)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("adding %s to %s: %w", p, l.Attrs().Name, err)
		}
	}
	return nil
}

// ensureRoutes installs routes (replacing what differs) and removes the
// lab's routes in the namespace that are no longer wanted.
func ensureRoutes(h *netlink.Handle, routes []route) error {
	want := map[netip.Prefix]bool{}
	for _, r := range routes {
		nr, err := r.netlink(h)
		if err != nil {
			return err
		}
		if err := h.RouteReplace(nr); err != nil {
			return fmt.Errorf("route %s: %w", r, err)
		}
		want[r.dst] = true
	}
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		have, err := h.RouteListFiltered(fam, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
		if err != nil {
			return fmt.Errorf("listing routes: %w", err)
		}
		for i := range have {
			dst := netconv.Prefix(have[i].Dst)
			if !dst.IsValid() {
				dst = netip.PrefixFrom(zeroAddr(fam), 0)
			}
			if want[dst] {
				continue
			}
			if err := h.RouteDel(&have[i]); err != nil {
				return fmt.Errorf("removing stale route %s: %w", dst, err)
			}
		}
	}
	return nil
}

// kernelOwned are addresses the kernel makes itself: loopback and IPv6
// link-local.
func kernelOwned(a netip.Addr) bool {
	return a.IsLoopback() || (a.Is6() && a.IsLinkLocalUnicast())
}

func zeroAddr(fam int) netip.Addr {
	if fam == netlink.FAMILY_V6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func (r route) String() string {
	s := r.dst.String()
	for _, gw := range r.gws {
		s += " via " + gw.String()
	}
	if r.dev != "" {
		s += " dev " + r.dev
	}
	return s
}

func (r route) netlink(h *netlink.Handle) (*netlink.Route, error) {
	nr := &netlink.Route{Dst: netconv.IPNet(r.dst), Protocol: RouteProtocol}
	if r.dev != "" {
		l, err := h.LinkByName(r.dev)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r, err)
		}
		nr.LinkIndex = l.Attrs().Index
		if len(r.gws) == 0 {
			nr.Scope = netlink.SCOPE_LINK
		}
	}
	switch len(r.gws) {
	case 0:
	case 1:
		nr.Gw = net.IP(r.gws[0].AsSlice())
	default:
		for _, gw := range r.gws {
			nr.MultiPath = append(nr.MultiPath, &netlink.NexthopInfo{Gw: net.IP(gw.AsSlice())})
		}
	}
	return nr, nil
}

// setSysctls writes /proc/sys values inside the named namespace.
func setSysctls(ns string, sysctls []sysctl) error {
	if len(sysctls) == 0 {
		return nil
	}
	return inNamespace(ns, func() error {
		for _, s := range sysctls {
			path := filepath.Join("/proc/sys", s.key)
			if cur, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(cur)) == s.value {
				continue
			}
			if err := os.WriteFile(path, []byte(s.value), 0o644); err != nil {
				return fmt.Errorf("setting %s=%s in %s: %w", strings.ReplaceAll(s.key, "/", "."), s.value, ns, err)
			}
		}
		return nil
	})
}
