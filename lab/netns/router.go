package netns

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spklab/spklab/host/frr"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology/render"
)

// ValuesFile is the Helm values file (tmm.dynamicRouting) the TMMs read
// their BGP from, in the run dir.
const ValuesFile = "values.yaml"

// UsesBGP reports whether the router runs FRR and the TMMs peer with it;
// otherwise (kernel data plane, or a topology without BGP neighbors) the
// router has static routes.
func (l *Lab) UsesBGP() bool { return !l.plan.staticRouting }

// ValuesPath is the values file spk-tmm gets with --values.
func (l *Lab) ValuesPath() string { return filepath.Join(l.opts.RunDir, ValuesFile) }

// Router is the router namespace's FRR; nil when the router has static
// routes.
func (l *Lab) Router() (*frr.Instance, error) {
	if !l.UsesBGP() {
		return nil, nil
	}
	rendered, err := render.FRRFiles(l.topo)
	if err != nil {
		return nil, fmt.Errorf("rendering the router's FRR files: %w", err)
	}
	files, err := frr.FilesFrom(rendered)
	if err != nil {
		return nil, err
	}
	return frr.New(frr.Options{Netns: l.RouterNS(), RunDir: filepath.Join(l.opts.RunDir, RoleRouter), Files: files, Logger: l.log})
}

// RouterVTY queries the router's FRR; nil when the router has static
// routes.
func (l *Lab) RouterVTY() (*frr.VTY, error) {
	r, err := l.Router()
	if r == nil || err != nil {
		return nil, err
	}
	return r.VTY(), nil
}

// writeValues writes the TMMs' BGP values (only when the lab uses BGP).
func (l *Lab) writeValues() error {
	if !l.UsesBGP() {
		return nil
	}
	data, err := spk.ValuesYAML(spk.ValuesFromTopology(l.topo))
	if err != nil {
		return err
	}
	return writeIfChanged(l.ValuesPath(), data)
}

// upRouter starts (or leaves running) the router's FRR.
func (l *Lab) upRouter(ctx context.Context) error {
	r, err := l.Router()
	if r == nil || err != nil {
		return err
	}
	return r.Start(ctx)
}

// convergeTimeout bounds the wait for BGP at the end of Up: the sessions
// come up within seconds (connect retry 1 s).
const convergeTimeout = 30 * time.Second

// WaitConverged waits until the router has every VIP and SNAT route the
// topology expects, with exactly the expected TMM next hops; on timeout the
// error lists what is still missing or wrong.
func (l *Lab) WaitConverged(ctx context.Context, timeout time.Duration) error {
	vty, err := l.RouterVTY()
	if vty == nil || err != nil {
		return err
	}
	want := l.topo.ExpectedRouterRoutes()
	deadline := time.Now().Add(timeout)
	for {
		rib, err := vty.RIB(ctx, frr.IPv4, frr.IPv6)
		problems := frr.Mismatches(rib, want)
		if err != nil {
			problems = []string{err.Error()}
		}
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("BGP did not converge at the router within %s:\n  %s", timeout, strings.Join(problems, "\n  "))
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// upConverged waits for BGP when the TMMs speak it.
func (l *Lab) upConverged(ctx context.Context) error {
	if !l.UsesBGP() || l.opts.NoConvergenceWait {
		return nil
	}
	return l.WaitConverged(ctx, convergeTimeout)
}
