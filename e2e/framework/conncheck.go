package framework

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Connection is one expected connection: an HTTP request from an executor
// to a URL that must succeed (and match) or must fail.
type Connection struct {
	// Name says what is checked ("red VIP from the client").
	Name string
	From Executor
	URL  string
	// WantFailure: the connection must not be made (refused, unreachable,
	// timed out); any HTTP answer is a failure of the check.
	WantFailure bool
	// Status is the wanted HTTP status; 0 means 200.
	Status int
	// Body, when set, must match the answer's body.
	Body *regexp.Regexp
	// Header, when set, must match one header line ("X-Pod: red-0").
	Header *regexp.Regexp
}

// Result is what a Connection's attempts found; the answer fields are the
// last attempt's.
type Result struct {
	Connection Connection
	OK         bool
	Attempts   int
	Took       time.Duration
	// ExitCode is curl's exit status (0 when an HTTP answer came; 7 refused,
	// 28 timed out…); Stderr is what curl said.
	ExitCode int
	Stderr   string
	Status   int
	Headers  []string
	Body     string
	// Pod is who answered, from the X-Pod header (empty if none).
	Pod string
	// Problem says why the last attempt did not meet the expectation.
	Problem string
}

// String is one line of diagnostics.
func (r Result) String() string {
	want := "answer"
	if r.Connection.WantFailure {
		want = "no connection"
	}
	verdict := "ok"
	if !r.OK {
		verdict = "FAILED: " + r.Problem
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s → %s, want %s): %s; %d attempt(s) in %s; curl exit %d",
		r.Connection.Name, r.Connection.From.Name(), r.Connection.URL, want, verdict, r.Attempts, r.Took.Round(time.Millisecond), r.ExitCode)
	if r.Status != 0 {
		fmt.Fprintf(&b, ", HTTP %d", r.Status)
	}
	if r.Pod != "" {
		fmt.Fprintf(&b, ", answered by pod %s", r.Pod)
	}
	if r.Body != "" && !r.OK {
		fmt.Fprintf(&b, ", body %q", clip(r.Body, 200))
	}
	if s := strings.TrimSpace(r.Stderr); s != "" && !r.OK {
		fmt.Fprintf(&b, ", curl said %q", clip(s, 300))
	}
	return b.String()
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Report is every result of one run, in the order the connections were
// given.
type Report []Result

// Failed lists the results that did not meet their expectation.
func (r Report) Failed() []Result {
	var out []Result
	for _, x := range r {
		if !x.OK {
			out = append(out, x)
		}
	}
	return out
}

// Err is nil when every connection met its expectation; otherwise it
// lists the failed ones with their diagnostics.
func (r Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	lines := make([]string, 0, len(failed))
	for _, f := range failed {
		lines = append(lines, "  "+f.String())
	}
	return fmt.Errorf("%d of %d connection(s) failed:\n%s", len(failed), len(r), strings.Join(lines, "\n"))
}

// Pods counts the answers per pod.
func (r Report) Pods() map[string]int {
	out := map[string]int{}
	for _, x := range r {
		if x.Pod != "" {
			out[x.Pod]++
		}
	}
	return out
}

// Checker runs connections in parallel with bounded retries: each one is
// tried until it meets its expectation, up to Attempts times, and the whole
// run ends by Timeout.
type Checker struct {
	// Attempts per connection; default 5.
	Attempts int
	// Interval between a connection's attempts; default 200 ms.
	Interval time.Duration
	// MaxTime bounds one attempt (curl --max-time); default 3 s.
	MaxTime time.Duration
	// Timeout bounds the whole run; default 30 s.
	Timeout time.Duration
	// Parallel is how many connections run at once; default 8.
	Parallel int
}

func (c Checker) withDefaults() Checker {
	if c.Attempts <= 0 {
		c.Attempts = 5
	}
	if c.Interval <= 0 {
		c.Interval = 200 * time.Millisecond
	}
	if c.MaxTime <= 0 {
		c.MaxTime = 3 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Parallel <= 0 {
		c.Parallel = 8
	}
	return c
}

// Run checks every connection and reports on each.
func (c Checker) Run(ctx context.Context, conns []Connection) Report {
	c = c.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	out := make(Report, len(conns))
	sem := make(chan struct{}, c.Parallel)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
				out[i] = c.check(ctx, conn)
			case <-ctx.Done():
				out[i] = Result{Connection: conn, Problem: "not tried: " + ctx.Err().Error()}
			}
		}()
	}
	wg.Wait()
	return out
}

// check tries one connection until it meets its expectation.
func (c Checker) check(ctx context.Context, conn Connection) Result {
	start := time.Now()
	var r Result
	for attempt := 1; attempt <= c.Attempts; attempt++ {
		r = c.attempt(ctx, conn)
		r.Attempts = attempt
		if r.OK || ctx.Err() != nil {
			break
		}
		if attempt < c.Attempts {
			select {
			case <-ctx.Done():
			case <-time.After(c.Interval):
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	r.Took = time.Since(start)
	return r
}

// attempt runs curl once and judges the answer.
func (c Checker) attempt(ctx context.Context, conn Connection) Result {
	r := Result{Connection: conn}
	out, err := conn.From.Exec(ctx, CurlArgv(conn.URL, c.MaxTime)...)
	if err != nil {
		r.ExitCode = ExitCode(err)
		var ee *ExecError
		if errors.As(err, &ee) {
			r.Stderr = ee.Stderr
		} else {
			r.Stderr = err.Error()
		}
		if conn.WantFailure && connectFailure(r.ExitCode) {
			r.OK = true
			return r
		}
		r.Problem = fmt.Sprintf("no answer (curl exit %d)", r.ExitCode)
		if conn.WantFailure {
			r.Problem = fmt.Sprintf("curl exit %d is not a failed connection", r.ExitCode)
		}
		if ctx.Err() != nil {
			r.Problem += ": " + ctx.Err().Error()
		}
		return r
	}
	ans, perr := ParseHTTP(out)
	if perr != nil {
		r.Problem = perr.Error()
		r.Body = string(out)
		return r
	}
	r.Status, r.Headers, r.Body = ans.Status, ans.Headers, ans.Body
	r.Pod = ans.Header("X-Pod")
	r.Problem = judge(conn, ans)
	r.OK = r.Problem == ""
	return r
}

// connectFailure are curl's exit codes for a connection that was not
// made or got no HTTP answer: could not connect (refused, unreachable), timed
// out, empty reply, reset. Anything else (curl missing, the executor
// failing) is not the failure a check can want.
func connectFailure(curlExit int) bool {
	switch curlExit {
	case 7, 28, 52, 56:
		return true
	}
	return false
}

// judge says what is wrong with an answer, or "".
func judge(conn Connection, ans HTTPAnswer) string {
	if conn.WantFailure {
		return fmt.Sprintf("connected and got HTTP %d, want no connection", ans.Status)
	}
	want := conn.Status
	if want == 0 {
		want = 200
	}
	if ans.Status != want {
		return fmt.Sprintf("HTTP %d, want %d", ans.Status, want)
	}
	if conn.Body != nil && !conn.Body.MatchString(ans.Body) {
		return fmt.Sprintf("body %q does not match %s", clip(ans.Body, 200), conn.Body)
	}
	if conn.Header != nil {
		matched := false
		for _, h := range ans.Headers {
			if conn.Header.MatchString(h) {
				matched = true
				break
			}
		}
		if !matched {
			return fmt.Sprintf("no header matches %s (got %q)", conn.Header, ans.Headers)
		}
	}
	return ""
}

// CurlArgv is the curl command an attempt runs: silent but with errors,
// headers included in the output (-i), literal IPv6 brackets (-g), one
// attempt bounded by maxTime.
func CurlArgv(url string, maxTime time.Duration) []string {
	secs := strconv.FormatFloat(maxTime.Seconds(), 'f', -1, 64)
	return []string{"curl", "-sS", "-g", "-i", "--max-time", secs, url}
}

// HTTPAnswer is curl -i's output split up.
type HTTPAnswer struct {
	Status int
	// Headers are the header lines ("Name: value"), without the status line.
	Headers []string
	Body    string
}

// Header returns the value of the first header with that name
// (case-insensitive), or "".
func (a HTTPAnswer) Header(name string) string {
	for _, h := range a.Headers {
		k, v, ok := strings.Cut(h, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ParseHTTP splits curl -i output (HTTP/1.x) into status, headers and body.
// Interim 1xx answers before the final one are skipped.
func ParseHTTP(out []byte) (HTTPAnswer, error) {
	s := string(out)
	for {
		head, body, ok := strings.Cut(s, "\r\n\r\n")
		if !ok {
			return HTTPAnswer{}, fmt.Errorf("answer has no end of headers: %q", clip(s, 200))
		}
		lines := strings.Split(head, "\r\n")
		f := strings.Fields(lines[0])
		if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
			return HTTPAnswer{}, fmt.Errorf("answer does not start with an HTTP status line: %q", clip(lines[0], 100))
		}
		code, err := strconv.Atoi(f[1])
		if err != nil {
			return HTTPAnswer{}, fmt.Errorf("status %q: %w", f[1], err)
		}
		if code >= 100 && code < 200 {
			s = body
			continue
		}
		return HTTPAnswer{Status: code, Headers: lines[1:], Body: body}, nil
	}
}
