package netns

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/spklab/spklab/host/proc"
)

// Down removes the lab: the processes running in its namespaces, the
// namespaces (their links go with them) and the run dir. It touches nothing
// else, and succeeds on a lab that is already gone.
func (l *Lab) Down(ctx context.Context) error {
	names, err := l.ownNamespaces()
	if err != nil {
		return err
	}
	var errs []error
	if err := l.stopProcesses(ctx, names); err != nil {
		errs = append(errs, err)
	}
	// The switch last: until then every veth still has its peer there.
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == l.plan.sw:
			return 1
		case b == l.plan.sw:
			return -1
		}
		return 0
	})
	for _, ns := range names {
		if err := deleteNamespace(ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.removeRunDir(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		l.log.Info("netns lab down", "cluster", l.plan.cluster, "namespaces", len(names))
	}
	return errors.Join(errs...)
}

// ownNamespaces lists the existing namespaces of this lab: those named with
// its prefix, except those of another lab whose cluster name merely starts
// with this one's ("bnk" and "bnk-x": spklab-bnk-x-sw marks the latter).
func (l *Lab) ownNamespaces() ([]string, error) {
	all, err := listNamespaces(l.plan.prefix)
	if err != nil {
		return nil, err
	}
	var others []string
	for _, ns := range all {
		rest := strings.TrimPrefix(ns, l.plan.prefix)
		if ns == l.plan.sw || !strings.HasSuffix(rest, "-"+RoleSwitch) {
			continue
		}
		others = append(others, NamespacePrefix+l.plan.cluster+"-"+strings.TrimSuffix(rest, "-"+RoleSwitch)+"-")
	}
	planned := map[string]bool{}
	for _, ns := range l.Namespaces() {
		planned[ns] = true
	}
	var out []string
	for _, ns := range all {
		foreign := false
		for _, o := range others {
			if strings.HasPrefix(ns, o) && !planned[ns] {
				foreign = true
			}
		}
		if !foreign {
			out = append(out, ns)
		}
	}
	return out, nil
}

// stopProcesses stops every process running in one of the namespaces.
func (l *Lab) stopProcesses(ctx context.Context, names []string) error {
	inodes := map[uint64]bool{}
	for _, ns := range names {
		ino, err := namespaceInode(ns)
		if err != nil {
			continue // already gone
		}
		inodes[ino] = true
	}
	if len(inodes) == 0 {
		return nil
	}
	// The pid files first, then anything else found in the namespaces.
	seen := map[int]bool{}
	var pids []int
	for _, p := range l.processes() {
		pid, err := proc.ReadPIDFile(p.pidFile)
		if err != nil || pid == 0 || !proc.Alive(pid) {
			continue
		}
		if ino, err := proc.NetnsInode(pid); err == nil && inodes[ino] {
			seen[pid] = true
			pids = append(pids, pid)
		}
	}
	procs, err := proc.InNetns(inodes)
	if err != nil {
		return err
	}
	for pid := range procs {
		if !seen[pid] {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil
	}
	l.log.Debug("stopping lab processes", "cluster", l.plan.cluster, "pids", pids)
	return proc.Stop(ctx, pids, 5*time.Second)
}
