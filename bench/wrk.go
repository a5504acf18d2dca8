package bench

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what wrk --latency reports.
type WrkResult struct {
	Requests    int64
	Elapsed     time.Duration
	RequestsSec float64
	// Latency percentiles: 50, 75, 90, 99.
	P50, P75, P90, P99 time.Duration
	// Socket errors by kind, and answers that were not 2xx/3xx.
	ErrConnect, ErrRead, ErrWrite, ErrTimeout, Non2xx int64
}

// Errors is every failed request wrk counted.
func (r WrkResult) Errors() int64 {
	return r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrTimeout + r.Non2xx
}

// ParseWrk reads the text wrk --latency prints. It needs the request count,
// Requests/sec and the 50% and 99% latency lines; anything else is optional.
func ParseWrk(out string) (WrkResult, error) {
	var r WrkResult
	var haveCount, haveRate, inDist bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case line == "Latency Distribution":
			inDist = true
			continue
		case inDist && len(f) == 2 && strings.HasSuffix(f[0], "%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk latency %s: %w", f[0], err)
			}
			switch f[0] {
			case "50%":
				r.P50 = d
			case "75%":
				r.P75 = d
			case "90%":
				r.P90 = d
			case "99%":
				r.P99 = d
			}
			continue
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			// "44495 requests in 2.00s, 7.98MB read"
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk request count %q: %w", f[0], err)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return r, fmt.Errorf("wrk elapsed time: %w", err)
			}
			r.Requests, r.Elapsed, haveCount = n, d, true
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk Requests/sec %q: %w", f[1], err)
			}
			r.RequestsSec, haveRate = v, true
		case strings.HasPrefix(line, "Socket errors:"):
			// "Socket errors: connect 0, read 29, write 142922, timeout 0"
			rest := strings.TrimPrefix(line, "Socket errors:")
			for _, part := range strings.Split(rest, ",") {
				kv := strings.Fields(part)
				if len(kv) != 2 {
					return r, fmt.Errorf("wrk socket errors %q", line)
				}
				n, err := strconv.ParseInt(kv[1], 10, 64)
				if err != nil {
					return r, fmt.Errorf("wrk socket errors %q: %w", line, err)
				}
				switch kv[0] {
				case "connect":
					r.ErrConnect = n
				case "read":
					r.ErrRead = n
				case "write":
					r.ErrWrite = n
				case "timeout":
					r.ErrTimeout = n
				}
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			n, err := strconv.ParseInt(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk non-2xx count %q: %w", f[4], err)
			}
			r.Non2xx = n
		}
		inDist = false
	}
	var missing []string
	if !haveCount {
		missing = append(missing, "request count")
	}
	if !haveRate {
		missing = append(missing, "Requests/sec")
	}
	if r.P50 == 0 || r.P99 == 0 {
		missing = append(missing, "latency distribution (--latency)")
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("wrk output lacks %s: %q", strings.Join(missing, ", "), firstLines(out, 3))
	}
	return r, nil
}

// parseWrkDuration reads wrk's times: "260.00us", "1.29ms", "2.00s",
// "1.00m", "1.00h".
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("time %q", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, errors.New("time " + strconv.Quote(s) + " has no unit")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
