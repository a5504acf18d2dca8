package netns

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/conntrack"
	"github.com/spklab/spklab/spk"
)

// Data planes a lab's TMM namespaces can run (Options.Dataplane).
const (
	// DataplaneTMM runs spk-tmm on the raw interfaces (the default).
	DataplaneTMM = "spk-tmm"
	// DataplaneKernel is the reference the benchmark compares spk-tmm
	// with: the self IPs on the TMM namespace's own interfaces, IP
	// forwarding, and nftables DNAT of each virtual server to its members
	// (round robin) with SNAT to the replica's internal self IP.
	DataplaneKernel = "kernel"
)

// KernelTable is the nftables table the kernel data plane programs.
const KernelTable = "spklab_tmm"

// kernelTMM is what the kernel data plane programs in one TMM namespace.
type kernelTMM struct {
	ns      string
	replica int
	ruleset string
}

// planKernelDataplane turns the plan's TMM namespaces into kernel routers
// programmed from the compiled config, as spk-tmm would run it: the VLANs'
// self IPs on net1, net2 … (802.1Q links for tagged VLANs), forwarding,
// routes to each member via its node's address and the config's static
// routes, and an nftables ruleset. No spk-tmm process is started.
func (l *Lab) planKernelDataplane(all *spk.Objects) error {
	compiled := spk.Compile(all, l.topo.TMM.Replicas)
	if len(compiled.Problems) > 0 {
		return fmt.Errorf("compiling the lab's CRs for the kernel data plane:\n%w", compiled.Problems)
	}
	for _, t := range l.plan.tmms {
		var h *host
		for _, c := range l.plan.hosts {
			if c.ns == t.ns {
				h = c
			}
		}
		if h == nil || t.replica >= len(compiled.Configs) {
			return fmt.Errorf("TMM replica %d: no namespace or config planned", t.replica)
		}
		k, err := kernelHost(h, t.replica, compiled.Configs[t.replica])
		if err != nil {
			return fmt.Errorf("kernel data plane of TMM replica %d: %w", t.replica, err)
		}
		l.kernel = append(l.kernel, k)
	}
	l.plan.tmms = nil
	return nil
}

// kernelHost rewrites one TMM host of the plan and renders its ruleset.
func kernelHost(h *host, replica int, cfg *config.Config) (kernelTMM, error) {
	// The kernel owns the wire here: forwarding on, ARP and IPv6 as usual.
	h.sysctls = []sysctl{{"net/ipv4/ip_forward", "1"}, {"net/ipv6/conf/all/forwarding", "1"}}
	for _, lk := range h.links {
		h.sysctls = append(h.sysctls,
			sysctl{"net/ipv6/conf/" + lk.name + "/disable_ipv6", "0"},
			sysctl{"net/ipv4/conf/" + lk.name + "/arp_ignore", "0"})
	}
	devs := map[string]string{} // VLAN name → kernel device
	var internal []netip.Prefix
	internalDev := ""
	for _, v := range cfg.VLANs {
		num, ok := strings.CutPrefix(v.Interface, "1.")
		if !ok {
			return kernelTMM{}, fmt.Errorf("VLAN %s: interface %q is not 1.N", v.Name, v.Interface)
		}
		i := slices.IndexFunc(h.links, func(lk link) bool { return lk.name == "net"+num })
		if i < 0 {
			return kernelTMM{}, fmt.Errorf("VLAN %s: interface %s is not planned", v.Name, v.Interface)
		}
		lk := &h.links[i]
		dev := lk.name
		if v.Tag == 0 {
			lk.addrs = append(lk.addrs, v.SelfIPs...)
		} else {
			dev = lk.name + "." + strconv.Itoa(int(v.Tag))
			lk.vlans = append(lk.vlans, vlanLink{name: dev, tag: int(v.Tag), addrs: v.SelfIPs,
				what: fmt.Sprintf("the kernel data plane of TMM replica %d (VLAN %s, tag %d)", replica, v.Name, v.Tag)})
		}
		devs[v.Name] = dev
		if v.Internal && internalDev == "" {
			internalDev, internal = dev, v.SelfIPs
		}
	}
	seen := map[netip.Prefix]bool{}
	addRoute := func(r route) {
		if !seen[r.dst] {
			seen[r.dst] = true
			h.routes = append(h.routes, r)
		}
	}
	h.routes = nil
	for _, vs := range cfg.VirtualServers {
		for _, m := range vs.Members {
			a := m.Address.Addr()
			if m.NodeAddress.IsValid() && m.NodeAddress.Is4() == a.Is4() {
				addRoute(route{dst: netip.PrefixFrom(a, a.BitLen()), gws: []netip.Addr{m.NodeAddress}})
			}
		}
	}
	for _, r := range cfg.Routes {
		addRoute(route{dst: r.Prefix.Masked(), gws: []netip.Addr{r.Gateway}})
	}
	return kernelTMM{ns: h.ns, replica: replica, ruleset: kernelRuleset(cfg, devs, internalDev, internal)}, nil
}

// kernelRuleset renders the nftables ruleset of one replica. It replaces
// the table in one transaction, so applying it again converges. Virtual
// servers the kernel cannot carry (NAT46: an IPv6 VIP with IPv4 members)
// and RATIO_LEAST_CONN_MEMBER (done as round robin) are spk-tmm features
// the kernel reference lacks; they are left as comments.
func kernelRuleset(cfg *config.Config, devs map[string]string, internalDev string, internal []netip.Prefix) string {
	var pre, post []string
	snat := map[bool][]string{} // is4 → members to SNAT
	for _, vs := range cfg.VirtualServers {
		fam := family(vs.Address)
		var members []netip.AddrPort
		for _, m := range vs.Members {
			if m.Address.Addr().Is4() == vs.Address.Is4() {
				members = append(members, m.Address)
			}
		}
		if len(members) == 0 {
			pre = append(pre, fmt.Sprintf("# %s %s: no %s member the kernel can reach without NAT46", vs.Name, netip.AddrPortFrom(vs.Address, vs.Port), fam))
			continue
		}
		var ifs []string
		if len(vs.VLANs) > 0 {
			for _, n := range vs.VLANs {
				if d, ok := devs[n]; ok {
					ifs = append(ifs, strconv.Quote(d))
				}
			}
		} else {
			for _, v := range cfg.VLANs {
				if !v.Internal {
					ifs = append(ifs, strconv.Quote(devs[v.Name]))
				}
			}
		}
		slices.Sort(ifs)
		var elems []string
		for i, m := range members {
			elems = append(elems, fmt.Sprintf("%d : %s . %d", i, m.Addr(), m.Port()))
			snat[vs.Address.Is4()] = append(snat[vs.Address.Is4()], m.Addr().String())
		}
		match := fmt.Sprintf("iifname { %s } %s daddr %s tcp dport %d", strings.Join(ifs, ", "), fam, vs.Address, vs.Port)
		if vs.Port == 0 {
			match = fmt.Sprintf("iifname { %s } %s daddr %s meta l4proto tcp", strings.Join(ifs, ", "), fam, vs.Address)
		}
		pre = append(pre, fmt.Sprintf("%s dnat %s addr . port to numgen inc mod %d map { %s } comment %q",
			match, fam, len(members), strings.Join(elems, ", "), vs.Name))
	}
	for _, is4 := range []bool{true, false} {
		addrs := snat[is4]
		if len(addrs) == 0 || internalDev == "" {
			continue
		}
		var self netip.Addr
		for _, p := range internal {
			if p.Addr().Is4() == is4 {
				self = p.Addr()
			}
		}
		fam := family(netip.IPv4Unspecified())
		if !is4 {
			fam = family(netip.IPv6Unspecified())
		}
		if !self.IsValid() {
			post = append(post, fmt.Sprintf("# no %s self IP on the internal VLAN to SNAT to", fam))
			continue
		}
		slices.Sort(addrs)
		addrs = slices.Compact(addrs)
		post = append(post, fmt.Sprintf("oifname %q ct status dnat %s daddr { %s } snat %s to %s comment \"automap\"",
			internalDev, fam, strings.Join(addrs, ", "), fam, self))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by spklab: the kernel data plane of TMM replica %d (config %s).\n", cfg.Replica, cfg.Version)
	fmt.Fprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", KernelTable, KernelTable, KernelTable)
	fmt.Fprintf(&b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	for _, r := range pre {
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	fmt.Fprintf(&b, "\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	for _, r := range post {
		fmt.Fprintf(&b, "\t\t%s\n", r)
	}
	fmt.Fprintf(&b, "\t}\n}\n")
	return b.String()
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "ip"
	}
	return "ip6"
}

// upKernel applies each replica's ruleset with nft (Debian package
// nftables), keeping a copy in the run dir.
func (l *Lab) upKernel(ctx context.Context) error {
	for _, k := range l.kernel {
		path := filepath.Join(l.opts.RunDir, "tmm"+strconv.Itoa(k.replica)+".nft")
		if err := os.WriteFile(path, []byte(k.ruleset), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		if _, err := l.Exec(ctx, k.ns, "nft", "-f", path); err != nil {
			return fmt.Errorf("kernel data plane (Debian package nftables): %w", err)
		}
		// spk-tmm forgets a TIME_WAIT flow after 2 s; Linux keeps it 120 s,
		// which would fill the shared conntrack table under a connection
		// benchmark. The sysctl exists once nft has loaded conntrack.
		timeWait := strconv.Itoa(int(conntrack.DefaultTimeouts().TimeWait / time.Second))
		if err := setSysctls(k.ns, []sysctl{{"net/netfilter/nf_conntrack_tcp_timeout_time_wait", timeWait}}); err != nil {
			return err
		}
	}
	return nil
}

// KernelRuleset is the nftables ruleset the kernel data plane gives TMM
// replica i ("" when the lab runs spk-tmm).
func (l *Lab) KernelRuleset(i int) string {
	for _, k := range l.kernel {
		if k.replica == i {
			return k.ruleset
		}
	}
	return ""
}

// Dataplane is what forwards in the lab's TMM namespaces.
func (l *Lab) Dataplane() string {
	if l.opts.Dataplane == "" {
		return DataplaneTMM
	}
	return l.opts.Dataplane
}
