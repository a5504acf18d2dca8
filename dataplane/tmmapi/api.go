// Package tmmapi is the TMM's config and stats API: the gRPC service of
// tmmv1/tmm.proto on a unix socket or TCP. The controller pushes each
// replica's config with ApplyConfig and reads back the version the TMM runs;
// `spk-tmm stats`, the e2e evidence dump and the benchmarks read the
// counters, flows, routes and BGP state. The standard grpc.health.v1 service
// answers too, for the kubelet's gRPC readiness probe.
package tmmapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/spklab/spklab/dataplane/bgp"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/fib"
	"github.com/spklab/spklab/dataplane/tmmapi/tmmv1"
)

// MaxMessageBytes bounds a message either way: a config with thousands of
// pool members is a few MiB of JSON; a full flow list can be larger.
const MaxMessageBytes = 64 << 20

// Backend is what the API serves: the engine, in spk-tmm.
type Backend interface {
	Config() *config.Config
	Apply(*config.Config) error
	Stats() engine.Stats
	Flows(limit int) []engine.FlowInfo
	FIB() *fib.Table
	BGP(ctx context.Context) (bgp.Status, error)
}

// Route is a FIB entry as the API shows it.
type Route struct {
	Prefix   string   `json:"prefix"`
	Source   string   `json:"source"`
	NextHops []string `json:"nextHops"`
}

// server implements tmmv1.TMMServer over a Backend.
type server struct {
	tmmv1.UnimplementedTMMServer
	b   Backend
	log *slog.Logger
}

// Option says how the API travels, on the server and the client alike.
type Option func(*transport)

type transport struct{ tls *tls.Config }

// WithTLS carries the API over TLS with cfg: on the server
// apicerts.ServerConfig (it demands a client certificate its CA signed),
// on the client apicerts.ClientConfig. Without it the API is in the clear:
// for a unix socket (0600) or a test's loopback.
func WithTLS(cfg *tls.Config) Option { return func(t *transport) { t.tls = cfg } }

func transportOf(opts []Option) transport {
	var t transport
	for _, o := range opts {
		o(&t)
	}
	return t
}

// NewServer returns a gRPC server with the TMM and health services
// registered; the caller serves it on a listener.
func NewServer(b Backend, log *slog.Logger, opts ...Option) *grpc.Server {
	if log == nil {
		log = slog.Default()
	}
	sopts := []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}
	if t := transportOf(opts); t.tls != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(t.tls)))
	}
	s := grpc.NewServer(sopts...)
	tmmv1.RegisterTMMServer(s, &server{b: b, log: log})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(tmmv1.TMM_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return s
}

func (s *server) ApplyConfig(_ context.Context, req *tmmv1.ApplyConfigRequest) (*tmmv1.ApplyConfigResponse, error) {
	var c config.Config
	dec := json.NewDecoder(bytes.NewReader(req.GetConfigJson()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decoding config_json: %v", err)
	}
	if c.BGP != nil {
		for _, n := range c.BGP.Neighbors {
			if n.Password == config.RedactedPassword {
				return nil, status.Errorf(codes.InvalidArgument, "bgp neighbor %s: password is the placeholder GetConfig shows, not a password", n.Address)
			}
		}
	}
	// The version is what the content hashes to, whatever the sender
	// claims: a config pushed with a forged version runs under its own, so
	// the controller's next resync sees a version it did not make and
	// pushes its config again.
	claimed := c.Version
	c.Seal()
	if claimed != "" && claimed != c.Version {
		s.log.Warn("config version does not match its content", "claimed", claimed, "content", c.Version)
	}
	if err := s.b.Apply(&c); err != nil {
		s.log.Warn("config refused", "version", c.Version, "err", err)
		return nil, status.Errorf(codes.FailedPrecondition, "config %s refused: %v", c.Version, err)
	}
	run := s.b.Config()
	return &tmmv1.ApplyConfigResponse{Version: run.Version, Replica: int32(run.Replica)}, nil
}

func (s *server) GetConfig(context.Context, *tmmv1.GetConfigRequest) (*tmmv1.GetConfigResponse, error) {
	run := s.b.Config()
	doc, err := marshal(run.Redacted())
	if err != nil {
		return nil, err
	}
	return &tmmv1.GetConfigResponse{Version: run.Version, Replica: int32(run.Replica), ConfigJson: doc}, nil
}

func (s *server) GetStats(context.Context, *tmmv1.GetStatsRequest) (*tmmv1.GetStatsResponse, error) {
	st := s.b.Stats()
	doc, err := marshal(st)
	if err != nil {
		return nil, err
	}
	return &tmmv1.GetStatsResponse{Version: st.Version, Replica: int32(st.Replica), StatsJson: doc}, nil
}

func (s *server) ListFlows(_ context.Context, req *tmmv1.ListFlowsRequest) (*tmmv1.ListFlowsResponse, error) {
	doc, err := marshal(s.b.Flows(int(req.GetLimit())))
	if err != nil {
		return nil, err
	}
	return &tmmv1.ListFlowsResponse{FlowsJson: doc}, nil
}

func (s *server) ListRoutes(context.Context, *tmmv1.ListRoutesRequest) (*tmmv1.ListRoutesResponse, error) {
	out := &tmmv1.ListRoutesResponse{}
	for _, r := range s.b.FIB().Routes() {
		rt := &tmmv1.Route{Prefix: r.Prefix.String(), Source: r.Source.String()}
		for _, h := range r.NextHops {
			rt.NextHops = append(rt.NextHops, h.String())
		}
		out.Routes = append(out.Routes, rt)
	}
	return out, nil
}

func (s *server) GetBGP(ctx context.Context, _ *tmmv1.GetBGPRequest) (*tmmv1.GetBGPResponse, error) {
	st, err := s.b.BGP(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "reading the BGP speaker: %v", err)
	}
	doc, err := marshal(st)
	if err != nil {
		return nil, err
	}
	return &tmmv1.GetBGPResponse{StatusJson: doc}, nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encoding answer: %v", err)
	}
	return b, nil
}

// Listen opens an API address: "unix:/path" (a stale socket file is
// replaced; the new one is 0600) or "host:port".
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing stale socket %s: %w", path, err)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		// Only the socket's owner (root, who runs the lab) may drive the
		// TMM: connecting needs write permission on the socket file.
		if err := os.Chmod(path, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("restricting %s to its owner: %w", path, err)
		}
		return l, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return l, nil
}

// Serve serves the API on l until ctx ends; in-flight calls get two
// seconds to finish.
func Serve(ctx context.Context, l net.Listener, b Backend, log *slog.Logger, opts ...Option) error {
	srv := NewServer(b, log, opts...)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			srv.Stop()
		}
	}()
	err := srv.Serve(l)
	if ctx.Err() != nil {
		<-stopped
		return nil
	}
	if err != nil {
		return fmt.Errorf("serving the TMM API on %s: %w", l.Addr(), err)
	}
	return nil
}

// Client talks to a TMM's API. It connects lazily; Close releases it.
type Client struct {
	addr string
	conn *grpc.ClientConn
	err  error
	tmm  tmmv1.TMMClient
}

// NewClient returns a client for "unix:/path" or "host:port".
func NewClient(addr string, opts ...Option) *Client {
	c := &Client{addr: addr}
	target := addr
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		target = "unix://" + path
	} else {
		target = "passthrough:///" + addr
	}
	creds := insecure.NewCredentials()
	if t := transportOf(opts); t.tls != nil {
		creds = credentials.NewTLS(t.tls)
	}
	c.conn, c.err = grpc.NewClient(target,
		grpc.WithTransportCredentials(creds),
		// A restarted TMM must be reached within seconds, not after
		// gRPC's default backoff of up to two minutes.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)))
	if c.err == nil {
		c.tmm = tmmv1.NewTMMClient(c.conn)
	}
	return c
}

// Addr is the address the client talks to.
func (c *Client) Addr() string { return c.addr }

// Close releases the connection.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// callTimeout bounds a call whose context has no deadline.
const callTimeout = 10 * time.Second

func (c *Client) call(ctx context.Context, what string, fn func(context.Context) error) error {
	if c.err != nil {
		return fmt.Errorf("TMM API at %s: %w", c.addr, c.err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	if err := fn(ctx); err != nil {
		if st, ok := status.FromError(err); ok {
			return fmt.Errorf("TMM API at %s: %s: %s (%s)", c.addr, what, st.Message(), st.Code())
		}
		return fmt.Errorf("TMM API at %s: %s: %w", c.addr, what, err)
	}
	return nil
}

func decode(what string, doc []byte, out any) error {
	if err := json.Unmarshal(doc, out); err != nil {
		return fmt.Errorf("TMM API: decoding %s: %w", what, err)
	}
	return nil
}

// Stats reads the counters.
func (c *Client) Stats(ctx context.Context) (*engine.Stats, error) {
	var s engine.Stats
	err := c.call(ctx, "GetStats", func(ctx context.Context) error {
		r, err := c.tmm.GetStats(ctx, &tmmv1.GetStatsRequest{})
		if err != nil {
			return err
		}
		return decode("stats", r.GetStatsJson(), &s)
	})
	return &s, err
}

// Flows reads up to limit flows (0 = all).
func (c *Client) Flows(ctx context.Context, limit int) ([]engine.FlowInfo, error) {
	var f []engine.FlowInfo
	err := c.call(ctx, "ListFlows", func(ctx context.Context) error {
		r, err := c.tmm.ListFlows(ctx, &tmmv1.ListFlowsRequest{Limit: uint32(max(limit, 0))})
		if err != nil {
			return err
		}
		return decode("flows", r.GetFlowsJson(), &f)
	})
	return f, err
}

// Routes reads the FIB.
func (c *Client) Routes(ctx context.Context) ([]Route, error) {
	var out []Route
	err := c.call(ctx, "ListRoutes", func(ctx context.Context) error {
		r, err := c.tmm.ListRoutes(ctx, &tmmv1.ListRoutesRequest{})
		if err != nil {
			return err
		}
		for _, rt := range r.GetRoutes() {
			out = append(out, Route{Prefix: rt.GetPrefix(), Source: rt.GetSource(), NextHops: rt.GetNextHops()})
		}
		return nil
	})
	return out, err
}

// BGP reads the speaker's sessions, announced and learned routes.
func (c *Client) BGP(ctx context.Context) (*bgp.Status, error) {
	var st bgp.Status
	err := c.call(ctx, "GetBGP", func(ctx context.Context) error {
		r, err := c.tmm.GetBGP(ctx, &tmmv1.GetBGPRequest{})
		if err != nil {
			return err
		}
		return decode("BGP status", r.GetStatusJson(), &st)
	})
	return &st, err
}

// Config reads the running config.
func (c *Client) Config(ctx context.Context) (*config.Config, error) {
	var cfg config.Config
	err := c.call(ctx, "GetConfig", func(ctx context.Context) error {
		r, err := c.tmm.GetConfig(ctx, &tmmv1.GetConfigRequest{})
		if err != nil {
			return err
		}
		return decode("config", r.GetConfigJson(), &cfg)
	})
	return &cfg, err
}

// Apply pushes a config and returns the version the TMM then runs.
func (c *Client) Apply(ctx context.Context, cfg *config.Config) (string, error) {
	doc, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encoding config %s: %w", cfg.Version, err)
	}
	var version string
	err = c.call(ctx, "ApplyConfig", func(ctx context.Context) error {
		r, err := c.tmm.ApplyConfig(ctx, &tmmv1.ApplyConfigRequest{ConfigJson: doc})
		if err != nil {
			return err
		}
		version = r.GetVersion()
		return nil
	})
	return version, err
}

// Running is the version and replica a TMM runs (GetConfig's envelope).
type Running struct {
	Version string
	Replica int
}

// Running returns what the TMM runs without decoding the config document.
func (c *Client) Running(ctx context.Context) (Running, error) {
	var run Running
	err := c.call(ctx, "GetConfig", func(ctx context.Context) error {
		r, err := c.tmm.GetConfig(ctx, &tmmv1.GetConfigRequest{})
		if err != nil {
			return err
		}
		run = Running{Version: r.GetVersion(), Replica: int(r.GetReplica())}
		return nil
	})
	return run, err
}

// Health returns the running version once the API answers.
func (c *Client) Health(ctx context.Context) (string, error) {
	run, err := c.Running(ctx)
	return run.Version, err
}
