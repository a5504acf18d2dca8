package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spklab/spklab/e2e/framework"
	"github.com/spklab/spklab/lab/netns"
	"github.com/spklab/spklab/topology"
)

// netnsRuntime is the fast lab: network namespaces on this host.
type netnsRuntime struct {
	lab  *netns.Lab
	topo *topology.Topology
}

func openNetns(topo *topology.Topology, o Options) (Runtime, error) {
	l, err := netns.New(topo, netns.Options{RunDir: o.RunDir, TMMBinary: o.TMMBinary, Offloads: o.Offloads, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return netnsRuntime{lab: l, topo: topo}, nil
}

func (r netnsRuntime) Name() string { return "netns lab " + r.lab.Cluster() }

func (r netnsRuntime) Up(ctx context.Context, _ io.Writer) (string, error) {
	if err := r.lab.Up(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d namespaces, %d pods; run dir %s", len(r.lab.Namespaces()), len(r.lab.Pods()), r.lab.RunDir()), nil
}

func (r netnsRuntime) Down(ctx context.Context, _ io.Writer) error { return r.lab.Down(ctx) }

func (r netnsRuntime) Status(ctx context.Context) (Status, error) {
	s, err := r.lab.Status(ctx)
	if err != nil {
		return nil, err // not a nil *netns.Status inside a non-nil Status
	}
	return s, nil
}

func (r netnsRuntime) Target(ctx context.Context) (framework.Target, func(), error) {
	s, err := r.lab.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !s.Up() {
		return nil, nil, fmt.Errorf("%s is not up (see spklab status --runtime netns); bring it up with spklab up --runtime netns", r.Name())
	}
	t, err := netns.NewNetnsTarget(r.lab, r.topo)
	if err != nil {
		return nil, nil, err
	}
	return t, func() {}, nil
}

// CollectLogs copies the lab's run dir (every process's log, the configs
// and CRs it ran with) into dir/run and writes the status table to
// dir/status.txt.
func (r netnsRuntime) CollectLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	if s, err := r.lab.Status(ctx); err != nil {
		errs = append(errs, fmt.Errorf("status: %w", err))
	} else if f, err := os.Create(filepath.Join(dir, "status.txt")); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, s.WriteTable(f), f.Close())
	}
	errs = append(errs, copyRegularFiles(r.lab.RunDir(), filepath.Join(dir, "run")))
	return errors.Join(errs...)
}

// copyRegularFiles copies every regular file under src to the same path
// under dst (sockets and pid files' processes are not evidence).
func copyRegularFiles(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, data, 0o644)
	})
}

func (r netnsRuntime) Close() error { return nil }
