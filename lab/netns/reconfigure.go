package netns

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/host/proc"
	"github.com/spklab/spklab/spk"
)

// TMMAPI is the config/stats API address of replica i ("unix:PATH").
func (l *Lab) TMMAPI(i int) string {
	return "unix:" + filepath.Join(l.opts.RunDir, "tmm"+strconv.Itoa(i)+".sock")
}

// TMMReplicas is how many TMM replicas the lab runs.
func (l *Lab) TMMReplicas() int { return len(l.plan.tmms) }

// DeleteCR removes one object (kind, namespace/name) from the lab's CR
// files — as `kubectl delete` would from the cluster — and pushes the new
// config to every TMM, returning once each runs it.
func (l *Lab) DeleteCR(ctx context.Context, kind, namespace, name string) error {
	base, err := spk.LoadFiles(filepath.Join(l.CRDir(), CRFile))
	if err != nil {
		return fmt.Errorf("reading %s: %w", CRFile, err)
	}
	if !base.Remove(kind, namespace, name) {
		return fmt.Errorf("no %s %s/%s in the lab's CRs", kind, namespace, name)
	}
	data, err := base.YAML()
	if err != nil {
		return err
	}
	if err := writeIfChanged(filepath.Join(l.CRDir(), CRFile), data); err != nil {
		return err
	}
	return l.PushConfig(ctx)
}

// ApplyCRFile adds CR documents to the lab as the CR file name (in the CR
// directory, next to the lab's own) and pushes the config to every TMM.
// Standalone mode compiles all or nothing: when any object has a problem
// (a VIP another object holds, a pool of another tenant) the file is taken
// away again, every TMM keeps what it ran, and the error lists the
// problems.
func (l *Lab) ApplyCRFile(ctx context.Context, name string, data []byte) error {
	if err := l.checkCRFileName(name); err != nil {
		return err
	}
	objs, err := spk.Parse(name, data)
	if err != nil {
		return err
	}
	// Added now, so newer than the lab's own objects (which carry no
	// creation time: the oldest): of two claimants the older keeps the
	// thing, as in a cluster.
	objs.StampCreation(time.Now().UTC().Truncate(time.Second))
	if data, err = objs.YAML(); err != nil {
		return err
	}
	path := filepath.Join(l.CRDir(), name)
	if err := writeIfChanged(path, data); err != nil {
		return err
	}
	err = l.PushConfig(ctx)
	if err == nil {
		return nil
	}
	if rerr := removeIfExists(path); rerr != nil {
		return errors.Join(err, rerr)
	}
	if perr := l.PushConfig(ctx); perr != nil {
		return errors.Join(err, fmt.Errorf("restoring the config without %s: %w", name, perr))
	}
	return err
}

// RemoveCRFile takes away what ApplyCRFile added and pushes the config.
func (l *Lab) RemoveCRFile(ctx context.Context, name string) error {
	if err := l.checkCRFileName(name); err != nil {
		return err
	}
	if err := removeIfExists(filepath.Join(l.CRDir(), name)); err != nil {
		return err
	}
	return l.PushConfig(ctx)
}

// checkCRFileName keeps added files apart from the lab's own.
func (l *Lab) checkCRFileName(name string) error {
	switch {
	case filepath.Base(name) != name || !strings.HasSuffix(name, ".yaml"):
		return fmt.Errorf("CR file %q: want a plain name ending in .yaml", name)
	case name == CRFile || name == EndpointsFile || name == NodesFile || name == RoutesFile || name == ExtraCRFile:
		return fmt.Errorf("CR file %q is one of the lab's own", name)
	}
	return nil
}

// ReapplyCRs writes the CR files from the topology again (undoing
// DeleteCR) and pushes the config to every TMM.
func (l *Lab) ReapplyCRs(ctx context.Context) error {
	if err := l.upRunDir(ctx); err != nil {
		return err
	}
	return l.PushConfig(ctx)
}

// PushConfig compiles the CR files for every replica and applies each
// config through its TMM's API (as the controller does in the kind lab).
func (l *Lab) PushConfig(ctx context.Context) error {
	if l.opts.Dataplane == DataplaneKernel {
		return errors.New("the kernel data plane has no config API")
	}
	values := ""
	if l.UsesBGP() {
		values = l.ValuesPath()
	}
	for i := range l.plan.tmms {
		cfg, err := spk.LoadTMMConfig(l.CRDir(), values, i)
		if err != nil {
			return err
		}
		c := tmmapi.NewClient(l.TMMAPI(i))
		v, err := c.Apply(ctx, cfg)
		c.Close()
		if err != nil {
			return fmt.Errorf("tmm%d: %w", i, err)
		}
		if v != cfg.Version {
			return fmt.Errorf("tmm%d runs config %s after the push of %s", i, v, cfg.Version)
		}
	}
	return nil
}

// StopTMM ends replica i's spk-tmm at once (SIGKILL: a crash, no clean
// shutdown) and waits until it is gone.
func (l *Lab) StopTMM(ctx context.Context, i int) error {
	if i < 0 || i >= len(l.plan.tmms) {
		return fmt.Errorf("no TMM replica %d (the lab has %d)", i, len(l.plan.tmms))
	}
	p := l.tmmProcess(l.plan.tmms[i])
	pid := p.running()
	if pid == 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing tmm%d (pid %d): %w", i, pid, err)
	}
	for proc.Alive(pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// StartTMMs starts every replica that does not run (after StopTMM) and
// waits until its API answers.
func (l *Lab) StartTMMs(ctx context.Context) error {
	if l.opts.Dataplane == DataplaneKernel {
		return nil
	}
	bin, err := l.tmmBinary()
	if err != nil {
		return err
	}
	if err := l.upTMM(ctx, bin); err != nil {
		return err
	}
	deadline := time.Now().Add(tmmAPITimeout)
	for i := range l.plan.tmms {
		if err := l.waitTMMAPI(ctx, i, deadline); err != nil {
			return err
		}
	}
	return nil
}

// waitTMMAPI waits until replica i's API answers, failing early when its
// process died.
func (l *Lab) waitTMMAPI(ctx context.Context, i int, deadline time.Time) error {
	c := tmmapi.NewClient(l.TMMAPI(i))
	defer c.Close()
	for {
		_, err := c.Health(ctx)
		if err == nil {
			return nil
		}
		if p := l.tmmProcess(l.plan.tmms[i]); p.running() == 0 {
			return p.died(strings.TrimSuffix(p.pidFile, ".pid") + ".log")
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("tmm%d API %s does not answer after %s: %w", i, l.TMMAPI(i), tmmAPITimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tmmAPITimeout bounds the wait for restarted TMMs' APIs.
const tmmAPITimeout = 10 * time.Second
