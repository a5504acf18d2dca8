package doctor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// linkType is a kind of network device the lab creates.
type linkType struct {
	Kind string
	Why  string
	// Blocking: without it the lab cannot come up at all.
	Blocking bool
	make     func(parent netlink.Link) netlink.Link
}

func linkTypes() []linkType {
	attrs := func(name string) netlink.LinkAttrs { return netlink.LinkAttrs{Name: name} }
	return []linkType{
		{"veth", "kind nodes, the netns lab and every pod are wired with veth pairs", true,
			func(netlink.Link) netlink.Link {
				return &netlink.Veth{LinkAttrs: attrs("spkdoc-veth"), PeerName: "spkdoc-peer"}
			}},
		{"bridge", "docker networks (kind, client-net) are Linux bridges", true,
			func(netlink.Link) netlink.Link { return &netlink.Bridge{LinkAttrs: attrs("spkdoc-br")} }},
		{"macvlan", "external-net and egress-net are macvlan networks; Multus attaches TMM with macvlan", true,
			func(p netlink.Link) netlink.Link {
				a := attrs("spkdoc-mv")
				a.ParentIndex = p.Attrs().Index
				return &netlink.Macvlan{LinkAttrs: a, Mode: netlink.MACVLAN_MODE_BRIDGE}
			}},
		{"vxlan", "Calico's VXLAN backend and the tenants' egress tunnels", true,
			func(netlink.Link) netlink.Link {
				return &netlink.Vxlan{LinkAttrs: attrs("spkdoc-vx"), VxlanId: 4242, Port: 4789}
			}},
		{"dummy", "Docker gives a macvlan network without a parent a dummy parent: without it `docker network create -d macvlan` (external-net, egress-net) fails with \"operation not supported\"", false,
			func(netlink.Link) netlink.Link { return &netlink.Dummy{LinkAttrs: attrs("spkdoc-dummy")} }},
		{"vlan", "the seed-example router reaches TMM over 802.1Q sub-interfaces (TMM tags VLANs in user space and does not need it)", false,
			func(p netlink.Link) netlink.Link {
				a := attrs("spkdoc-vlan")
				a.ParentIndex = p.Attrs().Index
				return &netlink.Vlan{LinkAttrs: a, VlanId: 3334}
			}},
	}
}

// tryLinkTypes creates each link type in a throwaway network namespace
// (gone with the namespace: nothing is left on the host) and returns, per
// kind, nil or the kernel's refusal.
func tryLinkTypes(types []linkType) (map[string]error, error) {
	res := map[string]error{}
	errc := make(chan error, 1)
	go func() {
		// The thread enters a new namespace and is never returned to the
		// pool: it exits with the goroutine, so no other goroutine can run
		// in the throwaway namespace.
		runtime.LockOSThread()
		ns, err := netns.New()
		if err != nil {
			errc <- fmt.Errorf("creating a throwaway network namespace: %w", err)
			return
		}
		defer ns.Close()
		// The parent for macvlan and vlan is the first veth or bridge
		// made (both are tried before them).
		var parent netlink.Link
		for _, t := range types {
			l := t.make(parent)
			if (t.Kind == "macvlan" || t.Kind == "vlan") && parent == nil {
				res[t.Kind] = errors.New("no parent device could be made to try it on")
				continue
			}
			err := netlink.LinkAdd(l)
			res[t.Kind] = err
			if err == nil && parent == nil && (t.Kind == "bridge" || t.Kind == "veth") {
				if parent, err = netlink.LinkByName(l.Attrs().Name); err != nil {
					parent = nil
				}
			}
		}
		errc <- nil
	}()
	return res, <-errc
}

func checkLinks(_ context.Context, _ *host) Result {
	types := linkTypes()
	res, err := tryLinkTypes(types)
	if err != nil {
		return notChecked(err)
	}
	return judgeLinks(types, res)
}

// judgeLinks turns what the kernel refused into a result: a blocking type
// missing fails, another one warns.
func judgeLinks(types []linkType, res map[string]error) Result {
	var works, fail, warn, explain []string
	for _, t := range types {
		if res[t.Kind] == nil {
			works = append(works, t.Kind)
			continue
		}
		line := fmt.Sprintf("%s (%v): %s", t.Kind, res[t.Kind], t.Why)
		if t.Blocking {
			fail = append(fail, t.Kind)
		} else {
			warn = append(warn, t.Kind)
		}
		explain = append(explain, line)
	}
	r := Result{Status: StatusOK, Finding: "the kernel makes " + strings.Join(works, ", ") + " devices"}
	switch {
	case len(fail) > 0:
		r.Status = StatusFail
		r.Finding = "the kernel cannot make " + strings.Join(fail, ", ") + " devices"
	case len(warn) > 0:
		r.Status = StatusWarn
		r.Finding = "the kernel cannot make " + strings.Join(warn, ", ") + " devices (" + strings.Join(works, ", ") + " work)"
	}
	if len(explain) > 0 {
		r.Explanation = strings.Join(explain, "; ")
		r.Fix = "a kernel built with the missing drivers (CONFIG_DUMMY, CONFIG_VLAN_8021Q, …); the netns lab (--runtime netns) needs only veth, bridge, macvlan and vxlan"
	}
	return r
}
