package kind

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/spk"
)

// CollectLogs gathers the lab's evidence into dir: kind's node logs (which
// hold every pod's logs), the cluster's objects and events, the CRs with
// their status, the router's BGP and routes, each TMM's stats and flows,
// the infra containers' logs and the status. What a partly made lab does
// not have yet (no CRDs, no running TMM) is listed in skipped.txt with the
// reason; what should be readable but is not is noted in errors.txt and
// makes the result an error. The rest is written either way.
func (l *Lab) CollectLogs(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	status := l.Status(ctx)
	var problems, skipped []string
	skip := func(what, why string) { skipped = append(skipped, what+": "+why) }
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
		kubectl("endpointslices.yaml", "get", "endpointslices", "-A", "-o", "yaml")
		if resources, err := l.installedCRDs(ctx); err != nil {
			note("crs.yaml", err)
		} else if len(resources) == 0 {
			skip("crs.yaml", "the SPK CRDs are not installed (step spk not done)")
		} else {
			kubectl("crs.yaml", "get", strings.Join(resources, ","), "-A", "-o", "yaml")
		}
		if out, err := l.Kubectl(ctx, nil, "get", "namespace", l.Topo.SPK.Namespace, "--ignore-not-found", "-o", "name"); err != nil {
			note("spk-objects.yaml", err)
		} else if strings.TrimSpace(out) == "" {
			skip("spk-objects.yaml", "namespace "+l.Topo.SPK.Namespace+" does not exist (step spk not done)")
		} else {
			kubectl("spk-objects.yaml", "-n", l.Topo.SPK.Namespace, "get", "all,configmaps,network-attachment-definitions", "-o", "yaml")
		}
		for _, t := range status.TMMs {
			pod := t.Pod
			if t.Phase != "Running" {
				skip(pod+"-stats.json", "the pod is "+t.Phase)
				continue
			}
			// The pod's own unix socket: the API's TCP addresses demand the
			// controller's certificate.
			out, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "exec", pod, "--", "spk-tmm", "stats",
				"--api", TMMLocalAPI, "-o", "json", "--flows", "1000")
			note(pod+" stats", err)
			write(pod+"-stats.json", []byte(out))
		}
	}
	if c, err := l.docker.ContainerInspect(ctx, l.Topo.RouterContainer()); docker.IsNotFound(err) {
		skip("router-*", "container "+l.Topo.RouterContainer()+" does not exist (step infra not done)")
	} else if err != nil {
		note("router-*", err)
	} else if c.State == nil || !c.State.Running {
		skip("router-*", "container "+l.Topo.RouterContainer()+" is not running")
	} else {
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
	st, err := json.MarshalIndent(status, "", "  ")
	note("status", err)
	write("status.json", st)
	if len(skipped) > 0 {
		write("skipped.txt", []byte(strings.Join(skipped, "\n")+"\n"))
	}
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

// installedCRDs lists which of the SPK CRDs the cluster has: a lab stopped
// before the spk step has none, and kubectl refuses a get that names an
// unknown resource type.
func (l *Lab) installedCRDs(ctx context.Context) ([]string, error) {
	out, err := l.Kubectl(ctx, nil, "get", "crd", "-o", "name")
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		have[strings.TrimPrefix(strings.TrimSpace(line), "customresourcedefinition.apiextensions.k8s.io/")] = true
	}
	var resources []string
	for _, k := range spk.APIKinds() {
		if have[k.CRDName()] {
			resources = append(resources, k.CRDName())
		}
	}
	return resources, nil
}
