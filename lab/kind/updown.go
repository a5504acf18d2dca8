package kind

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// Images are every image the lab runs, as docker must hold them.
func (l *Lab) Images() []string {
	im := l.Topo.Images
	refs := []string{im.Node}
	refs = append(refs, CNIImages()...)
	refs = append(refs, im.Router, im.Client, im.Syslog, im.TMM, im.Controller, im.NodeAgent, im.App)
	slices.Sort(refs)
	return slices.Compact(refs)
}

// MissingImages lists the lab's images docker lacks.
func (l *Lab) MissingImages(ctx context.Context) ([]string, error) {
	var missing []string
	for _, r := range l.Images() {
		if _, err := l.docker.ImageInspect(ctx, r); err != nil {
			if !docker.IsNotFound(err) {
				return nil, fmt.Errorf("inspecting image %s: %w", r, err)
			}
			missing = append(missing, r)
		}
	}
	return missing, nil
}

// Up applies every step in order after checking that the images exist;
// out gets one line per step and, at the end, the time of each.
func (l *Lab) Up(ctx context.Context, out io.Writer) ([]steps.Result, error) {
	missing, err := l.MissingImages(ctx)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("images missing from docker: %s (build them with: spklab images build)", strings.Join(missing, ", "))
	}
	start := time.Now()
	res, err := steps.Runner{Out: out}.Apply(ctx, l.Steps())
	WriteTimes(out, res, time.Since(start))
	return res, err
}

// WriteTimes prints each step's action and time, and the total.
func WriteTimes(out io.Writer, res []steps.Result, total time.Duration) {
	if out == nil || len(res) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTEP\tRESULT\tTIME")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Step, r.Action, r.Duration.Round(100*time.Millisecond))
	}
	fmt.Fprintf(tw, "total\t\t%s\n", total.Round(100*time.Millisecond))
	tw.Flush()
}

// downSteps are the steps down destroys, in reverse: the infra containers,
// then the cluster (which takes the CNI, the NADs, the chart and the
// tenants with it, and its kubeconfig entry), then the networks.
func (l *Lab) downSteps() []steps.Step {
	return []steps.Step{NetworksStep{l}, ClusterStep{l}, InfraStep{l}}
}

// Down removes every container, network, volume, bridge and kubeconfig
// entry the lab made, and nothing else, then checks that nothing is left.
func (l *Lab) Down(ctx context.Context, out io.Writer) ([]steps.Result, error) {
	res, err := steps.Runner{Out: out}.Destroy(ctx, l.downSteps())
	if err != nil {
		return res, err
	}
	left, err := l.Leftovers(ctx)
	if err != nil {
		return res, err
	}
	if len(left) > 0 {
		return res, fmt.Errorf("left after down: %s", strings.Join(left, "; "))
	}
	return res, nil
}

// Leftovers lists what of this lab exists: containers (kind's cluster
// label, the lab label), docker networks and volumes with those labels, the host's fallback bridges, the
// kubeconfig context and the rendered infra directory. Docker's "kind"
// network is kind's, shared by every kind cluster, and is not listed.
func (l *Lab) Leftovers(ctx context.Context) ([]string, error) {
	var left []string
	seen := map[string]bool{}
	for _, label := range []string{
		"io.x-k8s.kind.cluster=" + l.Topo.Cluster.Name,
		// The compose file labels its containers and networks with the
		// lab too; the project name alone is shared by every lab.
		render.LabelLab + "=" + l.Topo.Cluster.Name,
	} {
		cs, err := l.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
		if err != nil {
			return nil, fmt.Errorf("listing containers: %w", err)
		}
		for _, c := range cs {
			if !seen[c.ID] {
				seen[c.ID] = true
				left = append(left, "container "+strings.TrimPrefix(strings.Join(c.Names, ","), "/"))
			}
		}
		nets, err := l.docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("label", label))})
		if err != nil {
			return nil, fmt.Errorf("listing networks: %w", err)
		}
		for _, n := range nets {
			if !seen[n.ID] {
				seen[n.ID] = true
				left = append(left, "network "+n.Name)
			}
		}
		vols, err := l.docker.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", label))})
		if err != nil {
			return nil, fmt.Errorf("listing volumes: %w", err)
		}
		for _, v := range vols.Volumes {
			if !seen["volume "+v.Name] {
				seen["volume "+v.Name] = true
				left = append(left, "volume "+v.Name)
			}
		}
	}
	nets, err := l.infraNetworks(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if !seen[n.ID] {
			left = append(left, "network "+n.Name)
		}
	}
	bridges, err := l.LabBridges()
	if err != nil {
		return nil, err
	}
	for _, b := range bridges {
		left = append(left, "host link "+b.Attrs().Name)
	}
	if ok, err := l.HasKubeContext(); err != nil {
		return nil, err
	} else if ok {
		left = append(left, "kubeconfig context "+l.KubeContext()+" in "+l.KubeconfigPath())
	}
	if dir, err := l.InfraDir(); err == nil {
		if _, err := os.Stat(dir); err == nil {
			left = append(left, "directory "+dir)
		}
	}
	return left, nil
}
