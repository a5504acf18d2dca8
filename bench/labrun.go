package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/spklab/spklab/internal/cmdrun"
	"math"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// IperfPort is the port of the iperf3 virtual server and of its member.
const IperfPort = 5201

// iperfName names the iperf3 virtual server's CR and Service.
const iperfName = "bench-iperf3"

// iperfCRs adds the iperf3 virtual server: the first IPv4 VIP of the lab,
// port IperfPort, whose only member is the first endpoint of that VIP's
// Service. One member, because iperf3's control and data connections must
// reach the same server, and round robin would split them.
func iperfCRs(env *Env) netns.ExtraCRsFunc {
	return func(lab *spk.Objects) (*spk.Objects, error) {
		for _, in := range lab.Ingresses {
			if in.Spec.DestinationAddress == "" {
				continue
			}
			var ep *spk.StaticEndpoint
			for _, se := range lab.Endpoints {
				if se.Namespace == in.Namespace && se.Name == in.Service.Name && len(se.Endpoints) > 0 {
					first := se.Endpoints[0]
					ep = &first
				}
			}
			if ep == nil {
				continue
			}
			vip, err := netip.ParseAddr(in.Spec.DestinationAddress)
			if err != nil {
				return nil, fmt.Errorf("iperf3 virtual server: %w", err)
			}
			pod, err := netip.ParseAddr(ep.IP)
			if err != nil {
				return nil, fmt.Errorf("iperf3 member: %w", err)
			}
			env.Iperf = netip.AddrPortFrom(vip, IperfPort)
			env.IperfPod = netns.Pod{IP: pod}
			meta := metav1.ObjectMeta{Name: iperfName, Namespace: in.Namespace, Labels: map[string]string{spk.LabelManagedBy: spk.ManagedBySPKLab}}
			ep.Port = IperfPort
			return &spk.Objects{
				Ingresses: []spk.F5SPKIngressTCP{{
					TypeMeta:   in.TypeMeta,
					ObjectMeta: meta,
					Service:    spk.ServiceRef{Name: iperfName, Port: IperfPort},
					Spec: spk.F5SPKIngressTCPSpec{
						DestinationAddress:  in.Spec.DestinationAddress,
						DestinationPort:     IperfPort,
						LoadBalancingMethod: spk.RoundRobin,
						SNAT:                spk.SNATAutomap,
					},
				}},
				Endpoints: []spk.StaticEndpoints{{
					TypeMeta:   metav1.TypeMeta{APIVersion: spk.APIVersionStaticEndpoints, Kind: spk.KindStaticEndpoints},
					ObjectMeta: meta,
					Endpoints:  []spk.StaticEndpoint{*ep},
				}},
			}, nil
		}
		return nil, errors.New("no IPv4 virtual server with endpoints to put the iperf3 server behind")
	}
}

// tmmAddrs are the TMM replicas' IPv4 self IPs on the VLAN the router
// routes the VIPs through.
func tmmAddrs(t *topology.Topology) []netip.Addr {
	v := t.BGPVLAN()
	if v == nil {
		return nil
	}
	var out []netip.Addr
	for i := 0; i < t.TMM.Replicas && i < len(v.SelfIPs); i++ {
		if a, err := netip.ParseAddr(v.SelfIPs[i].IPv4); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// bringUp builds the lab from scratch (a previous run's is removed first,
// so the step times are a fresh bring-up's) and waits until it carries
// traffic: the router reaches every TMM (so that both ECMP next hops are
// resolved before a flow starts, as BGP peering makes sure in the full
// lab) and the HTTP VIP answers 200.
func bringUp(ctx context.Context, lab *netns.Lab, env *Env) error {
	if err := lab.Down(ctx); err != nil {
		return fmt.Errorf("removing a previous run's lab: %w", err)
	}
	if err := lab.Up(ctx); err != nil {
		return err
	}
	start := time.Now()
	for _, a := range env.tmmAddrs {
		if err := netns.Ping(ctx, lab.RouterNS(), a, 15*time.Second); err != nil {
			return fmt.Errorf("the router does not reach TMM self IP %s: %w", a, err)
		}
	}
	url := "http://" + env.HTTP.String() + "/"
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := lab.Exec(ctx, lab.ClientNS(), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", url)
		if err == nil && string(out) == "200" {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never answered 200 from the client: %q %v", url, out, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	env.ready = time.Since(start)
	env.Log.Info("bench: lab answers", "cluster", lab.Cluster(), "after", env.ready.Round(time.Millisecond))
	// Warm every path up (router → each TMM → each node and pod, and
	// back) with new connections before anything is timed: a first
	// packet that waits on ARP costs a one-second SYN retransmission,
	// which would be most of a short measurement.
	for i := range warmUpRequests {
		out, err := lab.Exec(ctx, lab.ClientNS(), "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url)
		if err != nil || string(out) != "200" {
			return fmt.Errorf("warm-up request %d of %d to %s: %q %v", i+1, warmUpRequests, url, out, err)
		}
	}
	return nil
}

// warmUpRequests are the new connections bringUp makes before measuring:
// enough for round robin and the router's ECMP hash to use every path.
const warmUpRequests = 16

// seconds rounds a duration up to whole seconds (wrk and iperf3 take them).
func seconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// runIperf measures TCP throughput from the client through the iperf3
// virtual server. A failed run is tried once more; the value then says
// what the first attempt met.
func runIperf(ctx context.Context, env *Env, name string) Result {
	r := iperfOnce(ctx, env, name)
	if r.OK() || ctx.Err() != nil {
		return r
	}
	env.Log.Warn("bench: iperf3 failed, trying once more", "err", r.Err)
	again := iperfOnce(ctx, env, name)
	if again.OK() {
		again.Detail = "the first attempt failed: " + r.Err
		return again
	}
	again.Err = "failed twice: " + r.Err + "; then " + again.Err
	return again
}

// iperfOnce runs one iperf3 test with a fresh one-shot server in the
// member pod.
func iperfOnce(ctx context.Context, env *Env, name string) Result {
	stop, err := startIperfServer(ctx, env)
	if err != nil {
		return Failed(err)
	}
	defer stop()
	secs := seconds(env.Duration)
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	out, err := cmdrun.Netns(env.Lab.ClientNS()).Run(cctx, "iperf3", "-c", env.Iperf.Addr().String(), "-p", strconv.Itoa(int(env.Iperf.Port())),
		"-t", strconv.Itoa(secs), "-J", "--connect-timeout", "3000")
	env.keep(name+".json", out)
	r, perr := ParseIperf3(out)
	if perr != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			return Result{Err: fmt.Sprintf("iperf3 did not finish within %s of its %d s", 30*time.Second, secs)}
		}
		if err != nil && len(out) == 0 {
			return Failed(err)
		}
		return Failed(perr)
	}
	return Result{Value: r.BitsPerSecond / 1e9}
}

// startIperfServer starts iperf3 -s in the member pod and waits until it
// listens. stop kills it (it also ends by itself after one test).
func startIperfServer(ctx context.Context, env *Env) (stop func(), err error) {
	pod := env.IperfPod
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", pod.Namespace,
		"iperf3", "-s", "-1", "-B", pod.IP.String(), "-p", strconv.Itoa(IperfPort), "--forceflush")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("iperf3 server: %w", err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("iperf3 server (Debian package iperf3) in %s: %w", pod.Namespace, err)
	}
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			if !said && strings.Contains(sc.Text(), "Server listening") {
				listening <- true
				said = true
			}
		}
		if !said {
			listening <- false
		}
	}()
	stop = func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	}
	select {
	case ok := <-listening:
		if ok {
			return stop, nil
		}
		stop()
		return nil, fmt.Errorf("iperf3 server in %s ended before listening: %s", pod.Namespace, firstLines(stderr.String(), 3))
	case <-time.After(10 * time.Second):
		stop()
		return nil, fmt.Errorf("iperf3 server in %s did not listen within 10s", pod.Namespace)
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// runWrk loads the HTTP VIP from the client with wrk --latency, keeping
// connections alive or (closeEach) with Connection: close. More than 1 %
// failed requests make the numbers meaningless: that is an error.
func runWrk(ctx context.Context, env *Env, name string, closeEach bool) (WrkResult, error) {
	secs := seconds(env.Duration)
	argv := []string{"wrk", "-t", strconv.Itoa(min(2, env.Connections)), "-c", strconv.Itoa(env.Connections),
		"-d", strconv.Itoa(secs) + "s", "--latency", "--timeout", "2s"}
	if closeEach {
		argv = append(argv, "-H", "Connection: close")
	}
	argv = append(argv, "http://"+env.HTTP.String()+"/")
	cctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	out, err := cmdrun.Netns(env.Lab.ClientNS()).Run(cctx, argv...)
	env.keep(name+".txt", out)
	if err != nil {
		return WrkResult{}, err
	}
	r, err := ParseWrk(string(out))
	if err != nil {
		return r, err
	}
	if r.Requests == 0 {
		return r, errors.New("wrk: no request was answered")
	}
	if r.Errors()*100 > r.Requests {
		return r, errors.New("wrk: " + wrkErrorText(r))
	}
	return r, nil
}

// offloadFeatures are the features netns turns off on every lab veth
// (netns.Options.Offloads false); setOffloads turns them back on or off.
func offloadFeatures() []string { return []string{"rx", "tx", "tso", "gso", "gro"} }

// setOffloads switches the offloads of every veth of the lab, both ends.
func setOffloads(ctx context.Context, lab *netns.Lab, on bool) error {
	st, err := lab.Status(ctx)
	if err != nil {
		return fmt.Errorf("offloads: %w", err)
	}
	state := "off"
	if on {
		state = "on"
	}
	n := 0
	for _, ns := range st.Namespaces {
		for _, lk := range ns.Links {
			if lk.Type != "veth" {
				continue
			}
			argv := []string{"ethtool", "-K", lk.Name}
			for _, f := range offloadFeatures() {
				argv = append(argv, f, state)
			}
			if _, err := lab.Exec(ctx, ns.Name, argv...); err != nil {
				return fmt.Errorf("turning offloads %s (Debian package ethtool): %w", state, err)
			}
			n++
		}
	}
	if n == 0 {
		return errors.New("offloads: the lab has no veth")
	}
	return nil
}
