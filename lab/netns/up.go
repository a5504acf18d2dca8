package netns

import (
	"context"
	"fmt"
	"github.com/spklab/spklab/host/hosttools"
	"github.com/spklab/spklab/lab/steps"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/nodeagent/tenantnet"
)

// Up builds the lab, or converges a partly built or changed one: it creates
// what is missing and leaves what is right alone.
func (l *Lab) Up(ctx context.Context) error {
	start := time.Now()
	// A missing program is refused here, by package, before anything is
	// made: FRR without frr-reload.py, say, would otherwise restart (and
	// reset BGP) where it should reload.
	if err := hosttools.Require("the netns lab", hosttools.NetnsLab()); err != nil {
		return err
	}
	dataplane := struct {
		name string
		run  func(context.Context) error
	}{"kernel data plane", l.upKernel}
	if l.opts.Dataplane != DataplaneKernel {
		tmm, err := l.tmmBinary()
		if err != nil {
			return err
		}
		dataplane.name, dataplane.run = "spk-tmm", func(ctx context.Context) error { return l.upTMM(ctx, tmm) }
	}
	upSteps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"run dir and CRs", l.upRunDir},
		{"namespaces", l.upNamespaces},
		{"bridges", l.upBridges},
		{"links and addresses", l.upLinks},
		{"sysctls and routes", l.upRouting},
		{"tenant egress", l.upTenantNet},
		{"offloads", l.upOffloads},
		{"nginx", l.upNginx},
		{"router FRR", l.upRouter},
		dataplane,
		{"BGP converged", l.upConverged},
	}
	l.steps = nil
	for _, s := range upSteps {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("netns lab %s: %s: %w", l.plan.cluster, s.name, err)
		}
		l.steps = append(l.steps, steps.Result{Step: s.name, Action: steps.Applied, Duration: time.Since(t0)})
		l.log.Debug("netns lab step done", "cluster", l.plan.cluster, "step", s.name, "took", time.Since(t0))
	}
	l.log.Info("netns lab up", "cluster", l.plan.cluster, "namespaces", len(l.plan.hosts)+1, "pods", len(l.plan.pods), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (l *Lab) upRunDir(context.Context) error {
	if err := l.claimRunDir(); err != nil {
		return err
	}
	base, extra, err := crObjects(l.topo, l.plan.pods, l.plan.staticRouting)
	if err != nil {
		return err
	}
	if err := writeCRs(l.CRDir(), base, extra); err != nil {
		return err
	}
	if err := l.writeValues(); err != nil {
		return err
	}
	return l.writeExtraCRs()
}

// StepTimes are the steps of the last Up, in order, with their durations
// (only the steps that finished), as the step runner reports the kind
// lab's: one step result type for both runtimes.
func (l *Lab) StepTimes() []steps.Result { return append([]steps.Result(nil), l.steps...) }

func (l *Lab) upNamespaces(context.Context) error {
	if err := prepareNetnsDir(); err != nil {
		return err
	}
	for _, ns := range l.Namespaces() {
		created, err := ensureNamespace(ns)
		if err != nil {
			return err
		}
		if created {
			l.log.Debug("created netns", "name", ns)
		}
		h, err := handle(ns)
		if err != nil {
			return err
		}
		lo, err := h.LinkByName("lo")
		if err == nil {
			err = setUp(h, lo)
		}
		h.Close()
		if err != nil {
			return fmt.Errorf("loopback of %s: %w", ns, err)
		}
	}
	return nil
}

func (l *Lab) upBridges(context.Context) error {
	h, err := handle(l.plan.sw)
	if err != nil {
		return err
	}
	defer h.Close()
	for _, b := range l.plan.bridges {
		if err := ensureBridge(h, b.name); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) upLinks(context.Context) error {
	for _, host := range l.plan.hosts {
		for _, lk := range host.links {
			if err := ensureVeth(host.ns, lk.name, lk.peerNS, lk.peer); err != nil {
				return err
			}
			if err := l.upPeer(lk); err != nil {
				return err
			}
			if err := upHostSide(host.ns, lk); err != nil {
				return err
			}
		}
		if len(host.loAddrs) > 0 {
			if err := withLink(host.ns, "lo", func(h *netlink.Handle, lo netlink.Link) error {
				return ensureAddrs(h, lo, host.loAddrs, netlink.SCOPE_HOST)
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// upPeer plugs the peer end into its bridge and sets it up.
func (l *Lab) upPeer(lk link) error {
	return withLink(lk.peerNS, lk.peer, func(h *netlink.Handle, pl netlink.Link) error {
		if lk.bridge != "" {
			br, err := h.LinkByName(lk.bridge)
			if err != nil {
				return fmt.Errorf("bridge %s: %w", lk.bridge, err)
			}
			if pl.Attrs().MasterIndex != br.Attrs().Index {
				if err := h.LinkSetMaster(pl, br); err != nil {
					return fmt.Errorf("attaching %s to %s: %w", lk.peer, lk.bridge, err)
				}
			}
		}
		return setUp(h, pl)
	})
}

func upHostSide(ns string, lk link) error {
	return withLink(ns, lk.name, func(h *netlink.Handle, hl netlink.Link) error {
		if err := ensureAddrs(h, hl, lk.addrs, netlink.SCOPE_UNIVERSE); err != nil {
			return err
		}
		if err := setUp(h, hl); err != nil {
			return err
		}
		for _, v := range lk.vlans {
			vl, err := ensureVLAN(h, hl, v)
			if err != nil {
				return err
			}
			if err := ensureAddrs(h, vl, v.addrs, netlink.SCOPE_UNIVERSE); err != nil {
				return err
			}
			if err := setUp(h, vl); err != nil {
				return err
			}
		}
		return nil
	})
}

// withLink runs fn with a handle in ns and the named link.
func withLink(ns, name string, fn func(*netlink.Handle, netlink.Link) error) error {
	h, err := handle(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	lk, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", name, ns, err)
	}
	return fn(h, lk)
}

func (l *Lab) upRouting(context.Context) error {
	// Peer-side routes (a node's routes to its pods) are gathered per
	// namespace: ensureRoutes removes the lab's routes it is not given.
	routes := map[string][]route{}
	sysctls := map[string][]sysctl{}
	var order []string
	add := func(ns string) {
		if _, ok := routes[ns]; !ok {
			order = append(order, ns)
			routes[ns] = nil
		}
	}
	for _, host := range l.plan.hosts {
		add(host.ns)
		routes[host.ns] = append(routes[host.ns], host.routes...)
		sysctls[host.ns] = append(sysctls[host.ns], host.sysctls...)
		for _, lk := range host.links {
			add(lk.peerNS)
			routes[lk.peerNS] = append(routes[lk.peerNS], lk.peerRoutes...)
			sysctls[lk.peerNS] = append(sysctls[lk.peerNS], lk.peerSysctls...)
		}
	}
	for _, ns := range order {
		if err := setSysctls(ns, sysctls[ns]); err != nil {
			return err
		}
		h, err := handle(ns)
		if err != nil {
			return err
		}
		err = ensureRoutes(h, routes[ns])
		h.Close()
		if err != nil {
			return fmt.Errorf("routes in %s: %w", ns, err)
		}
	}
	return nil
}

func (l *Lab) upTenantNet(context.Context) error {
	for _, host := range l.plan.hosts {
		n, ok := l.plan.nodes[host.ns]
		if !ok {
			continue
		}
		if err := inNamespace(host.ns, func() error { return tenantnet.Apply(*n) }); err != nil {
			return fmt.Errorf("tenant egress in %s: %w", host.ns, err)
		}
	}
	return nil
}

// offloadFeatures are what ethtool -K turns off on every lab veth end.
var offloadFeatures = []string{"rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off"}

func (l *Lab) upOffloads(ctx context.Context) error {
	if l.opts.Offloads {
		return nil
	}
	for _, host := range l.plan.hosts {
		for _, lk := range host.links {
			for _, end := range [][2]string{{host.ns, lk.name}, {lk.peerNS, lk.peer}} {
				argv := append([]string{"ethtool", "-K", end[1]}, offloadFeatures...)
				if _, err := l.Exec(ctx, end[0], argv...); err != nil {
					return fmt.Errorf("turning offloads off (Debian package ethtool): %w", err)
				}
			}
		}
	}
	return nil
}
