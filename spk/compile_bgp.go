package spk

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/spklab/spklab/dataplane/config"
)

// ValuesLocation names Helm values not read from a file (DynamicRouting
// without a Source) in Rejected and Problems.
const ValuesLocation = "values"

// location is where problems of the values are: their file, else
// ValuesLocation.
func (d *DynamicRouting) location() string {
	if d.Source != "" {
		return d.Source
	}
	return ValuesLocation
}

// bgp gives every replica its speaker from the dynamic-routing values, once
// the VLANs, virtual servers and tenants are compiled: a neighbor is
// reached on the VLAN whose subnet holds it (or, multihop, the first
// external VLAN), and the replica announces every VIP and its own SNAT
// addresses.
func (c *compiler) bgp() {
	dr := c.o.Routing
	if dr == nil || !dr.Enabled || len(c.out.Configs) == 0 {
		return
	}
	loc := dr.location()
	at := loc + ":tmm.dynamicRouting"
	if ps := dr.Check(at); ps != nil {
		c.out.Problems = append(c.out.Problems, ps...)
		c.out.Rejected[loc] = ps[0].Reason
		return
	}
	b := dr.TMMRouting.Config.BGP
	restart := uint16(0)
	if gr := b.GracefulRestart; gr != nil && gr.Enabled {
		restart = uint16(gr.RestartTime)
		if restart == 0 {
			restart = DefaultGracefulRestartTime
		}
	}
	for _, cfg := range c.out.Configs {
		out := &config.BGP{ASN: uint32(b.ASN), Hostname: b.Hostname, GracefulRestart: restart}
		for i, n := range b.Neighbors {
			path := fmt.Sprintf("tmmRouting.config.bgp.neighbors[%d]", i)
			nb, err := neighborOf(cfg, n)
			if err != nil {
				c.reject(loc, "tmm.dynamicRouting."+path, "%v", err)
				return
			}
			out.Neighbors = append(out.Neighbors, nb)
		}
		first := out.Neighbors[0]
		v := vlanNamed(cfg, first.VLAN)
		id, ok := v.SelfIP(true)
		if !ok {
			c.reject(loc, "tmm.dynamicRouting.tmmRouting.config.bgp.neighbors[0]", "VLAN %q has no IPv4 self IP for replica %d to use as BGP router-id", v.Name, cfg.Replica)
			return
		}
		out.RouterID = id.Addr()
		out.Announce = announcements(cfg)
		cfg.BGP = out
	}
}

func neighborOf(cfg *config.Config, n BGPNeighborValues) (config.Neighbor, error) {
	addr := netip.MustParseAddr(n.IP)
	nb := config.Neighbor{
		Address: addr, ASN: uint32(n.ASN), Password: n.Password,
		EBGPMultihop: uint8(n.EBGPMultihop), IPv4: n.AcceptsIPv4, IPv6: n.AcceptsIPv6,
	}
	var vlan *config.VLAN
	for i := range cfg.VLANs {
		if p, ok := cfg.VLANs[i].SelfIP(addr.Is4()); ok && p.Masked().Contains(addr) {
			vlan = &cfg.VLANs[i]
			break
		}
	}
	if vlan == nil && nb.EBGPMultihop > 0 {
		for i := range cfg.VLANs {
			if _, ok := cfg.VLANs[i].SelfIP(addr.Is4()); ok && !cfg.VLANs[i].Internal {
				vlan = &cfg.VLANs[i]
				break
			}
		}
	}
	if vlan == nil {
		return nb, fmt.Errorf("%s is on no VLAN subnet of replica %d (set ebgpMultihop for a neighbor further away)", addr, cfg.Replica)
	}
	nb.VLAN = vlan.Name
	local, _ := vlan.SelfIP(addr.Is4())
	nb.Local = local.Addr()
	if p, ok := vlan.SelfIP(true); ok {
		nb.NextHop4 = p.Addr()
	}
	if p, ok := vlan.SelfIP(false); ok {
		nb.NextHop6 = p.Addr()
	}
	if nb.IPv4 && !nb.NextHop4.IsValid() || nb.IPv6 && !nb.NextHop6.IsValid() {
		return nb, fmt.Errorf("VLAN %q has no self IP of every family neighbor %s accepts (a next hop to announce)", vlan.Name, addr)
	}
	return nb, nil
}

func vlanNamed(cfg *config.Config, name string) *config.VLAN {
	for i := range cfg.VLANs {
		if cfg.VLANs[i].Name == name {
			return &cfg.VLANs[i]
		}
	}
	return nil
}

// announcements are a replica's host routes: every VIP and its SNAT
// addresses, sorted and without repeats.
func announcements(cfg *config.Config) []netip.Prefix {
	var out []netip.Prefix
	for _, vs := range cfg.VirtualServers {
		out = append(out, netip.PrefixFrom(vs.Address, vs.Address.BitLen()))
	}
	for _, t := range cfg.Tenants {
		for _, a := range t.SNAT {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out)
}
