package framework

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
)

// The checker runs the real curl on this host against an in-process HTTP
// server on the loopback address.

func podServer(t *testing.T, failFirst int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		if k <= failFirst {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		pod := fmt.Sprintf("red-%d", k%2)
		w.Header().Set("X-Pod", pod)
		fmt.Fprintf(w, "pod %s node w1\n", pod)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

func TestCheckerMatchesAnswersAndRetries(t *testing.T) {
	testenv.RequireTool(t, "curl", "curl")
	ctx := context.Background()
	srv, hits := podServer(t, 2)
	body := regexp.MustCompile(`^pod red-[01] node w1\n$`)
	report := Checker{Interval: 10 * time.Millisecond}.Run(ctx, []Connection{
		{Name: "pod answer", From: Host(), URL: srv.URL, Body: body, Header: regexp.MustCompile(`(?i)^x-pod: red-[01]$`)},
	})
	r := report[0]
	if !r.OK || report.Err() != nil {
		t.Fatalf("%v", report.Err())
	}
	// The first two answers are 503: the third attempt passes.
	if r.Attempts != 3 || hits.Load() != 3 || r.Status != 200 || r.ExitCode != 0 {
		t.Errorf("attempts %d, hits %d, status %d, exit %d", r.Attempts, hits.Load(), r.Status, r.ExitCode)
	}
	if r.Pod != "red-1" || !strings.HasPrefix(r.Body, "pod red-1 ") {
		t.Errorf("answered by %q with %q", r.Pod, r.Body)
	}
}

func TestCheckerReportsWhatWentWrong(t *testing.T) {
	testenv.RequireTool(t, "curl", "curl")
	ctx := context.Background()
	srv, _ := podServer(t, 0)
	closed := closedPort(t)
	conns := []Connection{
		{Name: "wrong tenant", From: Host(), URL: srv.URL, Body: regexp.MustCompile(`^pod blue-`)},
		{Name: "no such header", From: Host(), URL: srv.URL, Header: regexp.MustCompile(`^X-Tenant: `)},
		{Name: "wrong status", From: Host(), URL: srv.URL, Status: 404},
		{Name: "refused", From: Host(), URL: closed},
		{Name: "must fail but answers", From: Host(), URL: srv.URL, WantFailure: true},
		{Name: "must fail and does", From: Host(), URL: closed, WantFailure: true},
	}
	report := Checker{Attempts: 2, Interval: 10 * time.Millisecond}.Run(ctx, conns)
	if len(report) != len(conns) {
		t.Fatalf("%d results for %d connections", len(report), len(conns))
	}
	for i, want := range []struct {
		ok      bool
		problem string
		exit    int
	}{
		{false, `does not match ^pod blue-`, 0},
		{false, "no header matches", 0},
		{false, "HTTP 200, want 404", 0},
		{false, "no answer (curl exit 7)", 7},
		{false, "connected and got HTTP 200", 0},
		{true, "", 7},
	} {
		r := report[i]
		if r.Connection.Name != conns[i].Name {
			t.Fatalf("result %d is for %q, want %q (order kept)", i, r.Connection.Name, conns[i].Name)
		}
		if r.OK != want.ok || !strings.Contains(r.Problem, want.problem) || r.ExitCode != want.exit {
			t.Errorf("%s: ok %v problem %q exit %d; want ok %v, %q, exit %d", r.Connection.Name, r.OK, r.Problem, r.ExitCode, want.ok, want.problem, want.exit)
		}
		// Failed connections are retried up to Attempts; a met
		// expectation stops at once.
		if wantAttempts := map[bool]int{true: 1, false: 2}[want.ok]; r.Attempts != wantAttempts {
			t.Errorf("%s: %d attempts, want %d", r.Connection.Name, r.Attempts, wantAttempts)
		}
	}
	err := report.Err()
	if err == nil || !strings.HasPrefix(err.Error(), "5 of 6 connection(s) failed") {
		t.Fatalf("report error: %v", err)
	}
	for _, s := range []string{"refused (host → " + closed, "curl exit 7", "curl said", "answered by pod red-", `body "pod red-`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("diagnostics lack %q:\n%v", s, err)
		}
	}
	if len(report.Failed()) != 5 {
		t.Errorf("%d failed", len(report.Failed()))
	}
}

func TestCheckerRunsInParallelWithinItsTimeout(t *testing.T) {
	testenv.RequireTool(t, "curl", "curl")
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(300 * time.Millisecond)
		w.Header().Set("X-Pod", "blue-0")
		fmt.Fprintln(w, "pod blue-0 node w2")
	}))
	t.Cleanup(srv.Close)
	conns := make([]Connection, 8)
	for i := range conns {
		conns[i] = Connection{Name: fmt.Sprint("c", i), From: Host(), URL: srv.URL}
	}
	start := time.Now()
	report := Checker{Parallel: 4}.Run(context.Background(), conns)
	took := time.Since(start)
	if err := report.Err(); err != nil {
		t.Fatal(err)
	}
	if m := most.Load(); m < 2 || m > 4 {
		t.Errorf("%d requests in flight at most, want 2..4", m)
	}
	if took > 2*time.Second {
		t.Errorf("8 requests of 300 ms, 4 at a time, took %s", took)
	}
	if p := report.Pods(); p["blue-0"] != 8 {
		t.Errorf("pods %v", p)
	}

	// The whole run is bounded: a server that never answers in time.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	start = time.Now()
	report = Checker{Attempts: 10, MaxTime: 2 * time.Second, Timeout: 500 * time.Millisecond}.Run(context.Background(), []Connection{{Name: "slow", From: Host(), URL: slow.URL}})
	if took := time.Since(start); took > 2*time.Second || report[0].OK || report[0].Attempts != 1 {
		t.Errorf("bounded run took %s: %+v", took, report[0])
	}
}

func TestParseHTTP(t *testing.T) {
	a, err := ParseHTTP([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nServer: nginx\r\nX-Pod: red-0\r\n\r\npod red-0 node w\n"))
	if err != nil || a.Status != 200 || a.Header("x-pod") != "red-0" || a.Header("Missing") != "" || a.Body != "pod red-0 node w\n" || len(a.Headers) != 2 {
		t.Errorf("%+v %v", a, err)
	}
	for _, bad := range []string{"", "garbage", "HTTP/1.1 200 OK\r\nX: y", "SSH-2.0\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n"} {
		if _, err := ParseHTTP([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseHTTP(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nX-Pod: red-0\r\n\r\nbody"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseHTTP(data)
		if err == nil && (a.Status < 200 && a.Status >= 100) {
			t.Errorf("interim status %d returned as final", a.Status)
		}
	})
}
