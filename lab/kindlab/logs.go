package kindlab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spklab/spklab/lab/docker"
	"github.com/spklab/spklab/spk"
)

// CollectLogs gathers the lab's evidence into dir: kind's node logs (which
// hold every pod's logs), the cluster's objects and events, the CRs with
// their status, the router's BGP and routes, each TMM's stats and flows,
// the infra containers' logs and the status. What cannot be read is noted
// in errors.txt; the rest is still written.
func (l *Lab) CollectLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	var problems []string
	note := func(what string, err error) {
		if err != nil {
			problems = append(problems, what+": "+err.Error())
		}
	}
	write := func(name string, data []byte) {
		note(name, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	if ns, _ := l.Nodes(); len(ns) > 0 {
		note("kind logs", withoutCrictl(l.provider.CollectLogs(l.Topo.Cluster.Name, filepath.Join(dir, "kind"))))
	}
	if _, err := l.controlPlane(); err == nil {
		kubectl := func(name string, args ...string) {
			out, err := l.Kubectl(ctx, nil, args...)
			note(name, err)
			write(name, []byte(out))
		}
		kubectl("pods.txt", "get", "pods", "-A", "-o", "wide")
		kubectl("nodes.yaml", "get", "nodes", "-o", "yaml")
		kubectl("events.txt", "get", "events", "-A", "--sort-by=.lastTimestamp")
		var resources []string
		for _, k := range spk.APIKinds() {
			resources = append(resources, k.CRDName())
		}
		kubectl("crs.yaml", "get", strings.Join(resources, ","), "-A", "-o", "yaml")
		kubectl("spk-objects.yaml", "-n", l.Topo.SPK.Namespace, "get", "all,configmaps,network-attachment-definitions", "-o", "yaml")
		kubectl("endpointslices.yaml", "get", "endpointslices", "-A", "-o", "yaml")
		for i := range l.Topo.TMM.Replicas {
			pod := TMMPod(i)
			out, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "exec", pod, "--", "spk-tmm", "stats",
				"--api", "127.0.0.1:"+strconv.Itoa(TMMAPIPort), "-o", "json", "--flows", "1000")
			note(pod+" stats", err)
			write(pod+"-stats.json", []byte(out))
		}
	}
	if _, err := l.docker.ContainerInspect(ctx, l.Topo.RouterContainer()); err == nil {
		vty := l.RouterVTY()
		for name, cmd := range map[string]string{
			"router-bgp-summary.json": "show bgp summary json",
			"router-routes-v4.json":   "show ip route json",
			"router-routes-v6.json":   "show ipv6 route json",
			"router-running.conf":     "show running-config",
		} {
			out, err := vty.Run(ctx, cmd)
			note(name, err)
			write(name, out)
		}
	}
	if cs, err := l.InfraContainers(); err == nil {
		for _, c := range cs {
			out, err := docker.Wrap(l.docker).ContainerLogs(ctx, c.Name)
			if err == nil {
				write("container-"+c.Name+".log", []byte(out))
			}
		}
	}
	st, err := json.MarshalIndent(l.Status(ctx), "", "  ")
	note("status", err)
	write("status.json", st)
	if len(problems) > 0 {
		write("errors.txt", []byte(strings.Join(problems, "\n")+"\n"))
		return fmt.Errorf("collected into %s, with %d problems (see errors.txt): %w", dir, len(problems), errors.New(problems[0]))
	}
	return nil
}

// withoutCrictl drops kind's failures to run crictl (our node image has
// none: images are loaded with ctr); every other file kind collects is
// there all the same.
func withoutCrictl(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if strings.Count(s, "command \"") > 0 && strings.Count(s, "command \"") == strings.Count(s, " crictl ") {
		return nil
	}
	return err
}
