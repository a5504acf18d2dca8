// Package tmmapi is the TMM's config and stats API: JSON over HTTP on a unix
// socket (or TCP). The controller pushes a replica's config with PUT
// /v1/config and reads back the version the TMM runs; `spk-tmm stats`, the
// e2e evidence dump and the benchmarks read /v1/stats, /v1/flows and
// /v1/bgp.
package tmmapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spklab/spklab/dataplane/bgp"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/fib"
)

// Backend is what the API serves: the engine, in spk-tmm.
type Backend interface {
	Config() *config.Config
	Apply(*config.Config) error
	Stats() engine.Stats
	Flows(limit int) []engine.FlowInfo
	FIB() *fib.Table
	BGP(ctx context.Context) (bgp.Status, error)
}

// Applied is the answer to a config push: the version now running.
type Applied struct {
	Version string `json:"version"`
}

// Route is a FIB entry as the API shows it.
type Route struct {
	Prefix   string   `json:"prefix"`
	Source   string   `json:"source"`
	NextHops []string `json:"nextHops"`
}

// Handler serves the API for a backend.
func Handler(b Backend, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, Applied{Version: b.Config().Version})
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Config())
	})
	mux.HandleFunc("PUT /v1/config", func(w http.ResponseWriter, r *http.Request) {
		var c config.Config
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("decoding config: %w", err))
			return
		}
		if err := b.Apply(&c); err != nil {
			log.Warn("config refused", "version", c.Version, "err", err)
			writeError(w, http.StatusUnprocessableEntity, err)
			return
		}
		writeJSON(w, http.StatusOK, Applied{Version: b.Config().Version})
	})
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Stats())
	})
	mux.HandleFunc("GET /v1/flows", func(w http.ResponseWriter, r *http.Request) {
		limit := 0
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want a non-negative integer", s))
				return
			}
			limit = n
		}
		writeJSON(w, http.StatusOK, b.Flows(limit))
	})
	mux.HandleFunc("GET /v1/bgp", func(w http.ResponseWriter, r *http.Request) {
		st, err := b.BGP(r.Context())
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, _ *http.Request) {
		var out []Route
		for _, r := range b.FIB().Routes() {
			rt := Route{Prefix: r.Prefix.String(), Source: r.Source.String()}
			for _, h := range r.NextHops {
				rt.NextHops = append(rt.NextHops, h.String())
			}
			out = append(out, rt)
		}
		writeJSON(w, http.StatusOK, out)
	})
	return mux
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, apiError{Error: err.Error()})
}

// Listen opens an API address: "unix:/path" (a stale socket file is
// replaced) or "host:port".
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		return l, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves the API on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger) error {
	srv := &http.Server{Handler: Handler(b, log), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the TMM API: %w", err)
	}
	return nil
}

// Client talks to a TMM's API.
type Client struct {
	addr string
	http *http.Client
	base string
}

// NewClient returns a client for "unix:/path" or "host:port".
func NewClient(addr string) *Client {
	c := &Client{addr: addr, base: "http://" + addr}
	tr := &http.Transport{}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		c.base = "http://tmm"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	c.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return c
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("TMM API %s %s: %w", method, path, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("TMM API at %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("TMM API %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("TMM API %s %s: %s", method, path, e.Error)
		}
		return fmt.Errorf("TMM API %s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("TMM API %s %s: decoding answer: %w", method, path, err)
	}
	return nil
}

// Stats reads the counters.
func (c *Client) Stats(ctx context.Context) (*engine.Stats, error) {
	var s engine.Stats
	return &s, c.do(ctx, http.MethodGet, "/v1/stats", nil, &s)
}

// Flows reads up to limit flows (0 = all).
func (c *Client) Flows(ctx context.Context, limit int) ([]engine.FlowInfo, error) {
	var f []engine.FlowInfo
	return f, c.do(ctx, http.MethodGet, "/v1/flows?limit="+strconv.Itoa(limit), nil, &f)
}

// Routes reads the FIB.
func (c *Client) Routes(ctx context.Context) ([]Route, error) {
	var r []Route
	return r, c.do(ctx, http.MethodGet, "/v1/routes", nil, &r)
}

// BGP reads the speaker's sessions, announced and learned routes.
func (c *Client) BGP(ctx context.Context) (*bgp.Status, error) {
	var st bgp.Status
	return &st, c.do(ctx, http.MethodGet, "/v1/bgp", nil, &st)
}

// Config reads the running config.
func (c *Client) Config(ctx context.Context) (*config.Config, error) {
	var cfg config.Config
	return &cfg, c.do(ctx, http.MethodGet, "/v1/config", nil, &cfg)
}

// Apply pushes a config and returns the version the TMM then runs.
func (c *Client) Apply(ctx context.Context, cfg *config.Config) (string, error) {
	var a Applied
	err := c.do(ctx, http.MethodPut, "/v1/config", cfg, &a)
	return a.Version, err
}

// Health returns the running version once the API answers.
func (c *Client) Health(ctx context.Context) (string, error) {
	var a Applied
	err := c.do(ctx, http.MethodGet, "/healthz", nil, &a)
	return a.Version, err
}
