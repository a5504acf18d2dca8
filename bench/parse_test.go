package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

// The testdata outputs were captured from wrk 4 and iperf3 3.12 running in
// the netns lab (see the file names).

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWrk(t *testing.T) {
	for _, tc := range []struct {
		file     string
		requests int64
		elapsed  time.Duration
		rate     float64
		p50, p99 time.Duration
		errors   int64
	}{
		{"wrk-keepalive.txt", 159142, 2 * time.Second, 79406.71, 260 * time.Microsecond, 4670 * time.Microsecond, 0},
		{"wrk-close.txt", 44495, 2 * time.Second, 22210.59, 860 * time.Microsecond, 2950 * time.Microsecond, 0},
		{"wrk-close-tmm.txt", 20035, 2100 * time.Millisecond, 9540.59, 1800 * time.Microsecond, 3250 * time.Microsecond, 0},
		{"wrk-errors.txt", 64245, 2100 * time.Millisecond, 30588.12, 93 * time.Microsecond, 2750 * time.Microsecond, 142951},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := ParseWrk(string(readFile(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			near := func(a, b time.Duration) bool { return (a - b).Abs() < time.Microsecond }
			if r.Requests != tc.requests || !near(r.Elapsed, tc.elapsed) || r.RequestsSec != tc.rate ||
				!near(r.P50, tc.p50) || !near(r.P99, tc.p99) || r.Errors() != tc.errors {
				t.Errorf("got %+v", r)
			}
			if r.P75 < r.P50 || r.P90 < r.P75 || r.P99 < r.P90 {
				t.Errorf("percentiles out of order: %+v", r)
			}
		})
	}
	r, _ := ParseWrk(string(readFile(t, "wrk-errors.txt")))
	if r.ErrRead != 29 || r.ErrWrite != 142922 || r.ErrConnect != 0 || r.ErrTimeout != 0 {
		t.Errorf("socket errors %+v", r)
	}
	if txt := wrkErrorText(r); !strings.Contains(txt, "142951 failed requests besides 64245 answered") {
		t.Errorf("error text %q", txt)
	}

	// wrk's own failure, output without --latency, and junk are errors.
	if _, err := ParseWrk(string(readFile(t, "wrk-unreachable.txt"))); err == nil || !strings.Contains(err.Error(), "Network is unreachable") {
		t.Errorf("unreachable: %v", err)
	}
	keep := string(readFile(t, "wrk-keepalive.txt"))
	noLatency := keep[:strings.Index(keep, "  Latency Distribution")] + keep[strings.Index(keep, "  159142 requests"):]
	if _, err := ParseWrk(noLatency); err == nil || !strings.Contains(err.Error(), "--latency") {
		t.Errorf("without --latency: %v", err)
	}
	bad := strings.Replace(keep, "260.00us", "260.00xs", 1)
	if _, err := ParseWrk(bad); err == nil || !strings.Contains(err.Error(), "50%") {
		t.Errorf("bad latency unit: %v", err)
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"260.00us": 260 * time.Microsecond, "1.29ms": 1290 * time.Microsecond, "2.00s": 2 * time.Second,
		"1.50m": 90 * time.Second, "1.00h": time.Hour, "0.00us": 0,
	} {
		if got, err := parseWrkDuration(in); err != nil || (got-want).Abs() > time.Nanosecond {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12", "ms", "-1ms", "1.2.3s"} {
		if _, err := parseWrkDuration(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestParseIperf3(t *testing.T) {
	r, err := ParseIperf3(readFile(t, "iperf3-ok.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.BitsPerSecond != 1950455184.2702463 || r.Bytes != 490113792 || r.Retransmits != 3652 || r.Seconds != 2.010254 {
		t.Errorf("got %+v", r)
	}
	for file, want := range map[string]string{
		"iperf3-refused.json": "iperf3: unable to connect to server: Network is unreachable",
		"iperf3-timeout.json": "iperf3: unable to connect to server: Connection timed out",
	} {
		if _, err := ParseIperf3(readFile(t, file)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
	if _, err := ParseIperf3([]byte("iperf3: error - unable to connect\n")); err == nil || !strings.Contains(err.Error(), "not its JSON") {
		t.Errorf("text output: %v", err)
	}
	if _, err := ParseIperf3([]byte(`{"end":{"sum_received":{"bytes":0,"seconds":1}}}`)); err == nil || !strings.Contains(err.Error(), "no data") {
		t.Errorf("no data: %v", err)
	}
}

func TestParseSlabinfo(t *testing.T) {
	v, err := KernelConntrackBytes("testdata/slabinfo.txt")
	if err != nil || v != 256 {
		t.Errorf("nf_conntrack object size %v, %v", v, err)
	}
	f := strings.NewReader(string(readFile(t, "slabinfo.txt")))
	if v, err := parseSlabObjSize(f, "slabinfo.txt", "TCP"); err != nil || v != 2368 {
		t.Errorf("TCP object size %v, %v", v, err)
	}
	f = strings.NewReader(string(readFile(t, "slabinfo.txt")))
	if _, err := parseSlabObjSize(f, "slabinfo.txt", "nf_conntrack_expect"); err == nil || !strings.Contains(err.Error(), "no nf_conntrack_expect cache") {
		t.Errorf("missing cache: %v", err)
	}
	if _, err := KernelConntrackBytes("testdata/none"); err == nil {
		t.Error("a missing slabinfo file gave no error")
	}
}

func TestTableBytesPerFlow(t *testing.T) {
	per, err := TableBytesPerFlow(50_000)
	if err != nil {
		t.Fatal(err)
	}
	// A flow holds two keys, a value and map entries: well over 100 bytes,
	// and a table of them nowhere near 10 kB per flow.
	if per < 100 || per > 10_000 {
		t.Errorf("%.0f bytes per flow", per)
	}
	t.Logf("%.0f bytes per flow", per)
	if _, err := TableBytesPerFlow(0); err == nil {
		t.Error("0 flows measured")
	}
}
