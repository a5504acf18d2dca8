package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spklab/spklab/topology"
)

// StrangerRole names the namespaces AddStranger makes: hosts on a lab
// network that are no node, router or client of the lab (the isolation
// suite's attacker on the wire). Down removes any left behind.
const StrangerRole = "stranger"

// AddStranger plugs a new namespace into the bridge of the network at a
// free address of its IPv4 subnet, and returns the namespace and the
// address. RemoveStranger takes it away.
func (l *Lab) AddStranger(_ context.Context, network string) (string, netip.Addr, error) {
	n := l.topo.Network(network)
	if n == nil {
		return "", netip.Addr{}, fmt.Errorf("no network %q in the topology", network)
	}
	s4, _ := n.Subnets()
	addr, err := l.freeAddr(s4)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("network %s: %w", network, err)
	}
	ns, peer := "", ""
	for i := 0; ; i++ {
		ns, peer = l.plan.ns(StrangerRole+strconv.Itoa(i)), "st"+strconv.Itoa(i)
		if _, err := os.Stat(filepath.Join(NetnsDir, ns)); os.IsNotExist(err) {
			break
		}
	}
	lk, err := l.plan.swLink("eth0", peer, network, []netip.Prefix{netip.PrefixFrom(addr, s4.Bits())})
	if err != nil {
		return "", netip.Addr{}, err
	}
	if _, err := ensureNamespace(ns); err != nil {
		return "", netip.Addr{}, err
	}
	if err := ensureVeth(ns, lk.name, lk.peerNS, lk.peer); err != nil {
		return ns, addr, err
	}
	if err := l.upPeer(lk); err != nil {
		return ns, addr, err
	}
	return ns, addr, upHostSide(ns, lk)
}

// RemoveStranger deletes a namespace AddStranger made (its veth goes
// with it).
func (l *Lab) RemoveStranger(ns string) error { return deleteNamespace(ns) }

// freeAddr is an address of subnet no host, self IP or VIP of the lab has.
func (l *Lab) freeAddr(subnet netip.Prefix) (netip.Addr, error) {
	if !subnet.IsValid() {
		return netip.Addr{}, fmt.Errorf("no IPv4 subnet")
	}
	used := map[netip.Addr]bool{}
	for _, h := range l.plan.hosts {
		for _, lk := range h.links {
			for _, p := range lk.addrs {
				used[p.Addr()] = true
			}
			for _, v := range lk.vlans {
				for _, p := range v.addrs {
					used[p.Addr()] = true
				}
			}
		}
	}
	for _, v := range l.topo.TMM.VLANs {
		for _, s := range v.SelfIPs {
			for _, a := range []string{s.IPv4, s.IPv6} {
				if ip, err := netip.ParseAddr(a); err == nil {
					used[ip] = true
				}
			}
		}
	}
	// From .66 up: clear of the lab's low host numbers and its .2xx.
	a := subnet.Masked().Addr()
	for range 66 {
		a = a.Next()
	}
	for ; subnet.Contains(a); a = a.Next() {
		if !used[a] && !topologyUses(l.topo, a) {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no free address in %s", subnet)
}

// topologyUses reports whether a is one of the topology's tenant addresses
// (VIPs, SNAT pools).
func topologyUses(t *topology.Topology, a netip.Addr) bool {
	for _, tn := range t.Tenants {
		if ing := tn.Ingress; ing != nil && (ing.IPv4 == a.String() || ing.IPv6 == a.String()) {
			return true
		}
		if sp := tn.SNATPool; sp != nil {
			for _, row := range sp.Rows {
				for _, s := range row {
					if s == a.String() {
						return true
					}
				}
			}
		}
	}
	return false
}
