package framework

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/topology"
)

// Bounds of the evidence capture: a short look at the wire, never a load.
const (
	CaptureDuration = 2 * time.Second
	CapturePackets  = 200
)

// Evidence file names in a dump directory (TMM files are prefixed with the
// replica's name, e.g. "tmm0-stats.json").
const (
	FailureFile = "failure.txt"
	PcapFile    = "router.pcap"
	CaptureFile = "capture.txt"
	ErrorsFile  = "errors.txt"
)

// RouterDumps are the vtysh commands an evidence dump runs, by file name.
func RouterDumps() []struct{ File, Command string } {
	return []struct{ File, Command string }{
		{"router-bgp-summary.json", "show bgp summary json"},
		{"router-bgp-neighbors.json", "show bgp neighbors json"},
		{"router-bgp-ipv4.json", "show bgp ipv4 unicast json"},
		{"router-bgp-ipv6.json", "show bgp ipv6 unicast json"},
		{"router-ip-route.json", "show ip route json"},
		{"router-ipv6-route.json", "show ipv6 route json"},
	}
}

// DumpEvidence writes what a failed check needs to be understood into dir:
// note (the failure) as failure.txt, the router's BGP and RIB as vtysh JSON,
// each TMM's stats, flow table and BGP status, and a bounded pcap of the
// router's interfaces (≤ 2 s, ≤ 200 packets) taken while the client sends
// one request to each VIP. Whatever cannot be read is listed in errors.txt
// and the rest is still written; the error says what was missing.
func DumpEvidence(ctx context.Context, t Target, dir, note string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("evidence: %w", err)
	}
	d := &dump{dir: dir}
	if note != "" {
		d.write(FailureFile, []byte(note), nil)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.capture(ctx, t)
	}()
	for _, c := range RouterDumps() {
		out, err := t.RouterVTY().Run(ctx, c.Command)
		d.write(c.File, out, err)
	}
	for _, tmm := range t.TMMs() {
		for _, doc := range []struct {
			what string
			read func(context.Context) ([]byte, error)
		}{{"stats", tmm.Stats}, {"flows", tmm.Flows}, {"bgp", tmm.BGP}} {
			out, err := doc.read(ctx)
			d.write(tmm.Name()+"-"+doc.what+".json", out, err)
		}
	}
	wg.Wait()
	return d.finish()
}

// dump collects the files of one evidence directory and what failed.
type dump struct {
	dir    string
	mu     sync.Mutex
	errors []string
}

// write stores data as file; a read error is noted instead (with the data
// when there is some).
func (d *dump) write(file string, data []byte, readErr error) {
	if readErr != nil {
		d.fail(fmt.Sprintf("%s: %v", file, readErr))
		if len(data) == 0 {
			return
		}
	}
	if err := os.WriteFile(filepath.Join(d.dir, file), data, 0o644); err != nil {
		d.fail(fmt.Sprintf("%s: %v", file, err))
	}
}

func (d *dump) fail(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errors = append(d.errors, msg)
}

func (d *dump) finish() error {
	if len(d.errors) == 0 {
		return nil
	}
	text := strings.Join(d.errors, "\n") + "\n"
	_ = os.WriteFile(filepath.Join(d.dir, ErrorsFile), []byte(text), 0o644)
	return fmt.Errorf("evidence in %s is incomplete:\n  %s", d.dir, strings.Join(d.errors, "\n  "))
}

// capture runs tcpdump at the router for CaptureDuration while the client
// probes every VIP once, and writes the pcap and a text summary.
func (d *dump) capture(ctx context.Context, t Target) {
	argv := CaptureArgv(CaptureDuration, CapturePackets)
	type result struct {
		pcap []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		out, err := t.Router().Exec(ctx, argv...)
		done <- result{out, err}
	}()
	// tcpdump needs a moment to open its socket; the probes must be seen.
	time.Sleep(300 * time.Millisecond)
	var probes []Connection
	for _, f := range []frr.Family{frr.IPv4, frr.IPv6} {
		for tenant := range VIPs(t.Topology(), f) {
			url, _ := IngressURL(t.Topology(), tenant, f)
			probes = append(probes, Connection{Name: "probe " + tenant + " VIP " + string(f), From: t.Client(), URL: url})
		}
	}
	report := Checker{Attempts: 1, MaxTime: time.Second, Timeout: CaptureDuration}.Run(ctx, probes)
	res := <-done
	var summary strings.Builder
	fmt.Fprintf(&summary, "router capture: %s on %s\n", strings.Join(argv, " "), t.Router().Name())
	// timeout(1) ends tcpdump with SIGINT (exit 124); -c ends it with 0.
	if res.err != nil && ExitCode(res.err) != 124 {
		d.fail(fmt.Sprintf("%s: %v", PcapFile, res.err))
	}
	var ee *ExecError
	if errors.As(res.err, &ee) {
		fmt.Fprintf(&summary, "tcpdump said:\n%s\n", strings.TrimSpace(ee.Stderr))
	}
	// The pcap names interfaces by index; a reader elsewhere would resolve
	// them against its own interfaces, so list the router's.
	if links, err := t.Router().Exec(ctx, "ip", "-o", "link", "show"); err == nil {
		fmt.Fprintf(&summary, "router interfaces (the pcap's interface indexes):\n%s", links)
	}
	fmt.Fprintf(&summary, "pcap: %d bytes\nprobes during the capture:\n", len(res.pcap))
	for _, r := range report {
		fmt.Fprintf(&summary, "  %s\n", r)
	}
	d.write(CaptureFile, []byte(summary.String()), nil)
	if len(res.pcap) > 0 {
		d.write(PcapFile, res.pcap, nil)
	} else {
		d.fail(PcapFile + ": tcpdump wrote nothing")
	}
}

// CaptureArgv is the bounded capture command: every interface of the
// router (its lab interfaces), pcap on stdout, at most d and n packets.
func CaptureArgv(d time.Duration, n int) []string {
	return []string{"timeout", "-s", "INT", fmt.Sprintf("%g", d.Seconds()), "tcpdump", "-i", "any", "-n", "-U", "-c", fmt.Sprint(n), "-w", "-"}
}

// IngressURL is the HTTP URL of a tenant's VIP in one family (no port when
// the virtual server is on 80 or every port); false when there is none.
func IngressURL(t *topology.Topology, tenant string, f frr.Family) (string, bool) {
	vip, ok := VIPs(t, f)[tenant]
	if !ok {
		return "", false
	}
	port := 0
	for _, tn := range t.Tenants {
		if tn.Namespace == tenant && tn.Ingress != nil {
			port = tn.Ingress.Port
		}
	}
	return HTTPURL(vip, port, "/"), true
}

// HTTPURL is http://addr[:port]path, brackets around IPv6, no port for 0
// or 80.
func HTTPURL(a netip.Addr, port int, path string) string {
	host := a.String()
	if a.Is6() {
		host = "[" + host + "]"
	}
	if port != 0 && port != 80 {
		host += ":" + strconv.Itoa(port)
	}
	return "http://" + host + path
}
