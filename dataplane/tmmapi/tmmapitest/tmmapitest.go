// Package tmmapitest runs TMM API servers in a test process: the real
// gRPC service over a real engine whose two interfaces are in-memory ports,
// so a pushed config is validated and run exactly as in spk-tmm, with no
// root and no network namespace. Controller tests use one per replica.
package tmmapitest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/spklab/spklab/dataplane/bgp"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/fib"
	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/memport"
	"github.com/spklab/spklab/dataplane/tmmapi"
)

// TMM is one in-process replica serving the API on a loopback TCP port.
type TMM struct {
	// Addr is "127.0.0.1:PORT".
	Addr string

	eng     *engine.Engine
	applies atomic.Int64

	mu      sync.Mutex
	stop    context.CancelFunc
	serving chan struct{}
	log     *slog.Logger
	opts    []tmmapi.Option
}

// Start starts a replica on a free loopback port whose config starts
// empty (as spk-tmm without --config); it stops at test end.
func Start(t testing.TB) *TMM {
	t.Helper()
	return StartAt(t, "127.0.0.1:0")
}

// StartAt is Start on a given address: replicas on 127.0.0.2, 127.0.0.3, …
// with one port stand for TMM pods whose API port is the same on each pod
// IP, as in a cluster. Options (tmmapi.WithTLS) set the API's transport.
func StartAt(t testing.TB, addr string, opts ...tmmapi.Option) *TMM {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("tmmapitest: listen: %v", err)
	}
	ext, _ := memport.Pair("tmm-ext", "ext")
	egr, _ := memport.Pair("tmm-egr", "egr")
	eng, err := engine.New(engine.Options{Ports: []port.Port{ext, egr}, MaxFlows: 1024})
	if err != nil {
		t.Fatalf("tmmapitest: engine: %v", err)
	}
	empty := &config.Config{}
	empty.Seal()
	if err := eng.Apply(empty); err != nil {
		t.Fatalf("tmmapitest: empty config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = eng.Run(ctx); close(done) }()
	m := &TMM{eng: eng, log: slog.New(slog.DiscardHandler), opts: opts}
	m.Addr = l.Addr().String()
	m.serve(l)
	t.Cleanup(func() {
		m.Stop()
		cancel()
		eng.Close()
		<-done
	})
	return m
}

func (m *TMM) serve(l net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	serving := make(chan struct{})
	go func() {
		defer close(serving)
		_ = tmmapi.Serve(ctx, l, backend{m}, m.log, m.opts...)
	}()
	m.mu.Lock()
	m.stop, m.serving = cancel, serving
	m.mu.Unlock()
}

// Stop makes the replica stop answering (its listener closes); the
// engine keeps its config, as a TMM whose API is unreachable would.
func (m *TMM) Stop() {
	m.mu.Lock()
	stop, serving := m.stop, m.serving
	m.stop = nil
	m.mu.Unlock()
	if stop != nil {
		stop()
		<-serving
	}
}

// Resume serves the API again on the same address.
func (m *TMM) Resume() error {
	m.mu.Lock()
	running := m.stop != nil
	m.mu.Unlock()
	if running {
		return errors.New("tmmapitest: already serving")
	}
	l, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return err
	}
	m.serve(l)
	return nil
}

// Applies counts ApplyConfig calls that reached the replica (taken or
// refused).
func (m *TMM) Applies() int64 { return m.applies.Load() }

// Config is the config the engine runs.
func (m *TMM) Config() *config.Config { return m.eng.Config() }

// backend serves the engine and counts pushes.
type backend struct{ m *TMM }

func (b backend) Config() *config.Config            { return b.m.eng.Config() }
func (b backend) Stats() engine.Stats               { return b.m.eng.Stats() }
func (b backend) Flows(limit int) []engine.FlowInfo { return b.m.eng.Flows(limit) }
func (b backend) FIB() *fib.Table                   { return b.m.eng.FIB() }
func (b backend) BGP(context.Context) (bgp.Status, error) {
	return bgp.Status{}, nil
}

func (b backend) Apply(c *config.Config) error {
	b.m.applies.Add(1)
	return b.m.eng.Apply(c)
}
