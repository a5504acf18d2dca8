package lab

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/topology"
)

// Runtime is one way of running the lab: what `spklab up`, `down`,
// `status`, `test` and `logs` do, whatever builds the lab. The CLI holds a
// Runtime and never asks which one it is.
type Runtime interface {
	// Name names the lab in messages ("kind lab bnk").
	Name() string
	// Up builds the lab or converges a partly built one, writing its
	// progress to out, and returns a one-line hint for what to try next.
	Up(ctx context.Context, out io.Writer) (hint string, err error)
	// Down removes everything the lab made, and nothing else.
	Down(ctx context.Context, out io.Writer) error
	// Status says where the lab stands.
	Status(ctx context.Context) (Status, error)
	// Target is the running lab as the e2e suites' target, and what
	// releases it; an error when the lab is not (fully) up.
	Target(ctx context.Context) (framework.Target, func(), error)
	// CollectLogs writes the lab's evidence (logs, state) into dir.
	CollectLogs(ctx context.Context, dir string) error
	Close() error
}

// Status is a runtime's status report.
type Status interface {
	// Up reports whether the lab is fully up.
	Up() bool
	WriteTable(io.Writer) error
}

// Options are the settings of every runtime; each reads its own.
type Options struct {
	// Kubeconfig (kind) is the kubeconfig file of the cluster's context.
	Kubeconfig string
	// RunDir (netns) holds the lab's configs, pid files and logs.
	RunDir string
	// TMMBinary (netns) is the spk-tmm program.
	TMMBinary string
	// Offloads (netns) keeps the veths' offloads on.
	Offloads bool
	Logger   *slog.Logger
}

// Runtime names.
const (
	Kind  = "kind"
	Netns = "netns"
)

// runtimes are the ways the lab runs, by name: the one table the CLI's
// --runtime flag resolves through.
func runtimes() map[string]func(*topology.Topology, Options) (Runtime, error) {
	return map[string]func(*topology.Topology, Options) (Runtime, error){
		Kind:  openKind,
		Netns: openNetns,
	}
}

// Runtimes lists the runtime names, sorted.
func Runtimes() []string {
	var names []string
	for n := range runtimes() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// UnknownRuntimeError is Open's error for a name no runtime has.
type UnknownRuntimeError struct{ Name string }

func (e *UnknownRuntimeError) Error() string {
	return fmt.Sprintf("--runtime %q: supported runtimes are %s", e.Name, strings.Join(Runtimes(), ", "))
}

// Open returns the named runtime for a validated topology.
func Open(name string, topo *topology.Topology, o Options) (Runtime, error) {
	open, ok := runtimes()[name]
	if !ok {
		return nil, &UnknownRuntimeError{Name: name}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return open(topo, o)
}
