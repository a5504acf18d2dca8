package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// BGPCycles bounds the convergence workload: each cycle deletes a
// tenant's F5SPKIngressTCP and applies it again.
const BGPCycles = 10

// bgpPoll is how often the router's RIB is read while waiting; one vtysh
// call itself takes about 10 ms, which is the figures' resolution.
const bgpPoll = 5 * time.Millisecond

// bgpWait bounds one wait for the router.
const bgpWait = 10 * time.Second

func bgpSpecs() (withdrawP50, withdrawP99, announceP50, announceP99 Spec) {
	note := "CR change pushed to the TMMs → the router's RIB (vtysh) without / with the VIP via every TMM; " +
		fmt.Sprint(BGPCycles) + " cycles; the kernel data plane has static routes"
	return Spec{Name: "BGP withdraw p50 (CR deleted → VIP gone)", Unit: "ms", Better: Lower, Note: note},
		Spec{Name: "BGP withdraw p99", Unit: "ms", Better: Lower},
		Spec{Name: "BGP announce p50 (CR applied → VIP via all TMMs)", Unit: "ms", Better: Lower},
		Spec{Name: "BGP announce p99", Unit: "ms", Better: Lower}
}

// runBGP measures how fast a CR change reaches the router's RIB.
func runBGP(ctx context.Context, env *Env, specs ...Spec) []Sample {
	fail := func(err error) []Sample {
		out := make([]Sample, len(specs))
		for i, s := range specs {
			out[i] = Sample{s, Failed(err)}
		}
		return out
	}
	if env.Dataplane == netns.DataplaneKernel || !env.Lab.UsesBGP() {
		return fail(errors.New("not applicable: this data plane has static routes, no BGP"))
	}
	withdraw, announce, err := bgpCycles(ctx, env.Lab, env.Lab.Topology(), env.Iperf.Addr())
	if err != nil {
		return fail(err)
	}
	return []Sample{
		{specs[0], Result{Value: ms(percentile(withdraw, 50))}},
		{specs[1], Result{Value: ms(percentile(withdraw, 99))}},
		{specs[2], Result{Value: ms(percentile(announce, 50))}},
		{specs[3], Result{Value: ms(percentile(announce, 99))}},
	}
}

// bgpCycles withdraws and re-announces the VIP of a tenant whose VIP no
// other virtual server shares (shared is the iperf3 one's): a VIP stays
// announced while any virtual server uses it.
func bgpCycles(ctx context.Context, l *netns.Lab, t *topology.Topology, shared netip.Addr) (withdraw, announce []time.Duration, err error) {
	vty, err := l.RouterVTY()
	if err != nil {
		return nil, nil, err
	}
	var tenant *topology.Tenant
	for i := range t.Tenants {
		if in := t.Tenants[i].Ingress; in != nil && in.IPv4 != "" && in.IPv4 != shared.String() {
			tenant = &t.Tenants[i]
			break
		}
	}
	if tenant == nil {
		return nil, nil, errors.New("the topology has no IPv4 ingress of its own to withdraw")
	}
	vip := netip.PrefixFrom(netip.MustParseAddr(tenant.Ingress.IPv4), 32)
	i := slices.IndexFunc(t.ExpectedRouterRoutes(), func(r topology.RouterRoute) bool { return r.Prefix == vip })
	if i < 0 {
		return nil, nil, fmt.Errorf("the router is not expected to learn %s from any TMM", vip)
	}
	want := t.ExpectedRouterRoutes()[i]
	// Always leave the lab as it was, whatever happens mid-cycle.
	defer func() {
		if rerr := l.ReapplyCRs(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = fmt.Errorf("restoring the CRs: %w", rerr)
		}
	}()
	for range BGPCycles {
		t0 := time.Now()
		if err := l.DeleteCR(ctx, spk.KindIngressTCP, tenant.Namespace, tenant.Ingress.Name); err != nil {
			return nil, nil, err
		}
		if err := waitRouter(ctx, vty, vip, nil); err != nil {
			return nil, nil, fmt.Errorf("withdraw: %w", err)
		}
		withdraw = append(withdraw, time.Since(t0))
		t0 = time.Now()
		if err := l.ReapplyCRs(ctx); err != nil {
			return nil, nil, err
		}
		if err := waitRouter(ctx, vty, vip, &want); err != nil {
			return nil, nil, fmt.Errorf("announce: %w", err)
		}
		announce = append(announce, time.Since(t0))
	}
	return withdraw, announce, nil
}

// waitRouter waits until the router's RIB has want (frr.Mismatches finds
// nothing), or, with want nil, no route to vip at all.
func waitRouter(ctx context.Context, vty *frr.VTY, vip netip.Prefix, want *topology.RouterRoute) error {
	deadline := time.Now().Add(bgpWait)
	for {
		rib, err := vty.RIB(ctx, frr.IPv4)
		if err != nil {
			return err
		}
		var problems []string
		if want != nil {
			problems = frr.Mismatches(rib, []topology.RouterRoute{*want})
		} else if r, ok := frr.SelectedRoute(rib, vip); ok {
			problems = []string{fmt.Sprintf("%s still routed (%s)", vip, r.Protocol)}
		}
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %s", bgpWait, strings.Join(problems, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(bgpPoll):
		}
	}
}

// percentile is the nearest-rank p-th percentile of ds (p in 0–100).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
