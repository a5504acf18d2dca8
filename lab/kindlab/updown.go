package kindlab

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/spklab/spklab/lab/steps"
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
			if !cerrdefs.IsNotFound(err) {
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
// entry the lab made, and nothing else.
func (l *Lab) Down(ctx context.Context, out io.Writer) ([]steps.Result, error) {
	return steps.Runner{Out: out}.Destroy(ctx, l.downSteps())
}
