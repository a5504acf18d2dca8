package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/fib"
	"github.com/spklab/spklab/dataplane/natport"
)

// state is the lookup form of one config: immutable once published, so the
// fast path reads it through one atomic pointer without locks.
type state struct {
	cfg *config.Config

	vlans  map[portTag]*vlanState
	byName map[string]*vlanState
	// local says which addresses TMM answers ARP/ND for, and on which VLANs.
	local map[netip.Addr]*localAddr
	vs    map[vsKey]*vsState
	// tenants by VXLAN key.
	tenants map[uint32]*tenantState
	// vteps are the senders tenant VXLAN is taken from (config.VTEPs).
	vteps map[netip.Addr]bool
	// internal is the VLAN facing the cluster (ingress to pods, tenant
	// VXLAN); nil when the config has none.
	internal *vlanState
}

type portTag struct {
	port int
	tag  uint16
}

type vlanState struct {
	cfg      config.VLAN
	port     *wirePort
	tap      *tapPort // nil without an exception path
	self4    netip.Addr
	self6    netip.Addr
	counters *vlanCounters
}

func (v *vlanState) self(is4 bool) netip.Addr {
	if is4 {
		return v.self4
	}
	return v.self6
}

type addrKind uint8

const (
	addrSelf addrKind = 1 << iota
	addrVIP
	addrSNAT
)

type localAddr struct {
	kinds addrKind
	// vlans the address is answered on; nil = every VLAN.
	vlans []*vlanState
}

func (l *localAddr) on(v *vlanState) bool {
	return l.vlans == nil || slices.Contains(l.vlans, v)
}

type vsKey struct {
	addr netip.Addr
	port uint16
}

type vsState struct {
	cfg      config.VirtualServer
	members  []*memberState
	vlans    []*vlanState // nil = every non-internal VLAN
	rr       atomic.Uint32
	idle     int64 // nanoseconds
	counters *vsCounters
}

// overShare says whether the virtual server must wait for a NAT port:
// once half the pool's ports are in use, one whose handshaking flows hold
// its fair share (the pool over the number of virtual servers) or more
// gets no new one. Every ingress flow takes a port of the one pool of its
// internal self IP, so without this a SYN flood at one VIP (spoofed SYNs
// never complete) would take the ports every other VIP needs; with it the
// flood stops at half the pool, or its share. Established connections do
// not count: a busy VIP is not a flooded one.
func (s *vsState) overShare(pool *natport.Pool, servers int) bool {
	size := pool.Size()
	if pool.InUse() < size/2 {
		return false
	}
	return s.counters.handshaking.Load() >= int64(size/max(servers, 1))
}

func (s *vsState) listensOn(v *vlanState) bool {
	if s.vlans == nil {
		return !v.cfg.Internal
	}
	return slices.Contains(s.vlans, v)
}

type memberState struct {
	cfg      config.Member
	counters *memberCounters
}

type tenantState struct {
	cfg      config.Tenant
	counters *tenantCounters
}

// counterSet keeps counters across config changes, so applying a new
// config does not reset what the stats API reports for unchanged objects.
type counterSet struct {
	vlans   map[string]*vlanCounters
	vs      map[string]*vsCounters
	members map[string]*memberCounters
	tenants map[string]*tenantCounters
}

func newCounterSet() *counterSet {
	return &counterSet{
		vlans:   map[string]*vlanCounters{},
		vs:      map[string]*vsCounters{},
		members: map[string]*memberCounters{},
		tenants: map[string]*tenantCounters{},
	}
}

func counterFor[T any](m map[string]*T, key string) *T {
	if c, ok := m[key]; ok {
		return c
	}
	c := new(T)
	m[key] = c
	return c
}

func vsName(vs config.VirtualServer) string {
	return vs.Name + "@" + netip.AddrPortFrom(vs.Address, vs.Port).String()
}

// buildState turns a config into lookup state, and the FIB routes it
// implies (connected and static).
func buildState(cfg *config.Config, ports map[string]*wirePort, taps map[string]*tapPort, cs *counterSet) (*state, []fib.Route, []fib.Route, error) {
	st := &state{
		cfg:     cfg,
		vlans:   map[portTag]*vlanState{},
		byName:  map[string]*vlanState{},
		local:   map[netip.Addr]*localAddr{},
		vs:      map[vsKey]*vsState{},
		tenants: map[uint32]*tenantState{},
		vteps:   map[netip.Addr]bool{},
	}
	for _, a := range cfg.VTEPs {
		st.vteps[a.Unmap()] = true
	}
	addLocal := func(a netip.Addr, k addrKind, vlans []*vlanState) {
		l, ok := st.local[a]
		if !ok {
			st.local[a] = &localAddr{kinds: k, vlans: vlans}
			return
		}
		l.kinds |= k
		if l.vlans != nil {
			if vlans == nil {
				l.vlans = nil
			} else {
				l.vlans = append(slices.Clone(l.vlans), vlans...)
			}
		}
	}
	var connected []fib.Route
	for _, v := range cfg.VLANs {
		wp, ok := ports[v.Interface]
		if !ok {
			return nil, nil, nil, fmt.Errorf("VLAN %s: interface %s is not one of this TMM's (%s)", v.Name, v.Interface, interfaceList(ports))
		}
		key := portTag{wp.index, v.Tag}
		if other, dup := st.vlans[key]; dup {
			return nil, nil, nil, fmt.Errorf("VLAN %s: interface %s tag %d is already VLAN %s", v.Name, v.Interface, v.Tag, other.cfg.Name)
		}
		vs := &vlanState{cfg: v, port: wp, tap: taps[v.Name], counters: counterFor(cs.vlans, v.Name)}
		for _, p := range v.SelfIPs {
			if p.Addr().Is4() {
				vs.self4 = p.Addr()
			} else {
				vs.self6 = p.Addr()
			}
			// One VLAN per subnet: neighbours are learned on the VLAN
			// whose subnet holds them, so that must name one VLAN.
			for _, c := range connected {
				if c.Prefix.Overlaps(p.Masked()) {
					return nil, nil, nil, fmt.Errorf("VLAN %s: self IP subnet %s overlaps VLAN %s's %s", v.Name, p.Masked(), c.NextHops[0].VLAN, c.Prefix)
				}
			}
			connected = append(connected, fib.Route{Prefix: p.Masked(), Source: fib.Connected, NextHops: []fib.NextHop{{VLAN: v.Name}}})
		}
		st.vlans[key] = vs
		st.byName[v.Name] = vs
		if v.Internal && st.internal == nil {
			st.internal = vs
		}
	}
	for _, vs := range st.byName {
		for _, p := range vs.cfg.SelfIPs {
			addLocal(p.Addr(), addrSelf, []*vlanState{vs})
		}
	}
	for _, v := range cfg.VirtualServers {
		s := &vsState{cfg: v, idle: int64(v.IdleTimeout) * 1e9, counters: counterFor(cs.vs, vsName(v))}
		for _, name := range v.VLANs {
			vl, ok := st.byName[name]
			if !ok {
				return nil, nil, nil, fmt.Errorf("virtual server %s: no VLAN %q", v.Name, name)
			}
			s.vlans = append(s.vlans, vl)
		}
		for _, m := range v.Members {
			s.members = append(s.members, &memberState{cfg: m, counters: counterFor(cs.members, vsName(v)+">"+m.Address.String())})
		}
		key := vsKey{v.Address, v.Port}
		if _, dup := st.vs[key]; dup {
			return nil, nil, nil, fmt.Errorf("virtual server %s: %s is already used by another virtual server", v.Name, netip.AddrPortFrom(v.Address, v.Port))
		}
		st.vs[key] = s
		addLocal(v.Address, addrVIP, s.listenVLANs(st))
	}
	for _, t := range cfg.Tenants {
		if _, dup := st.tenants[t.VNI]; dup {
			return nil, nil, nil, fmt.Errorf("tenant %s: VXLAN key %d is already used", t.Name, t.VNI)
		}
		st.tenants[t.VNI] = &tenantState{cfg: t, counters: counterFor(cs.tenants, t.Name)}
		for _, a := range t.SNAT {
			addLocal(a, addrSNAT, externalVLANs(st))
		}
	}
	var static []fib.Route
	for _, r := range cfg.Routes {
		vl := st.vlanOnLink(r.Gateway)
		if vl == nil {
			return nil, nil, nil, fmt.Errorf("route %s via %s: the gateway is on no VLAN's subnet", r.Prefix, r.Gateway)
		}
		static = append(static, fib.Route{Prefix: r.Prefix, Source: fib.Static, NextHops: []fib.NextHop{{Gateway: r.Gateway, VLAN: vl.cfg.Name}}})
	}
	return st, connected, static, nil
}

// listenVLANs are the VLANs a virtual server answers ARP/ND on.
func (s *vsState) listenVLANs(st *state) []*vlanState {
	if s.vlans != nil {
		return s.vlans
	}
	return externalVLANs(st)
}

func externalVLANs(st *state) []*vlanState {
	var out []*vlanState
	for _, v := range st.byName {
		if !v.cfg.Internal {
			out = append(out, v)
		}
	}
	if out == nil {
		return []*vlanState{} // no VLAN, not every VLAN
	}
	return out
}

// vlanOnLink is the VLAN whose self IP subnet holds a.
func (st *state) vlanOnLink(a netip.Addr) *vlanState {
	for _, v := range st.byName {
		for _, p := range v.cfg.SelfIPs {
			if p.Masked().Contains(a) {
				return v
			}
		}
	}
	return nil
}

// virtualServer finds the listener for a destination: exact port first,
// then the any-port (0) one.
func (st *state) virtualServer(a netip.Addr, port uint16) *vsState {
	if s, ok := st.vs[vsKey{a, port}]; ok {
		return s
	}
	return st.vs[vsKey{a, 0}]
}

// interfaceList names a TMM's interfaces for errors: "1.1, 1.2".
func interfaceList(ports map[string]*wirePort) string {
	names := make([]string, len(ports))
	for _, wp := range ports {
		names[wp.index] = wp.name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
