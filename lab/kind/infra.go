package kind

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	composeapi "github.com/docker/compose/v2/pkg/api"
	"github.com/docker/compose/v2/pkg/progress"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	tccompose "github.com/testcontainers/testcontainers-go/modules/compose"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// composeProjectLabel is the label docker compose puts on what it makes.
const composeProjectLabel = composeapi.ProjectLabel

// InfraStep is the router, client and syslog containers from the rendered
// compose project (testcontainers-go's compose module, which runs docker
// compose in-process). The compose file and ./frr are rendered into the
// lab's infra directory, because the router bind-mounts ./frr.
type InfraStep struct{ l *Lab }

// Name is the step's name.
func (InfraStep) Name() string { return "infra" }

// InfraDir is where the compose file and ./frr are rendered: derived from
// the topology on every apply, never read back as state.
func (l *Lab) InfraDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("infra directory: %w", err)
	}
	return filepath.Join(base, "spklab", l.Topo.Cluster.Name, "infra"), nil
}

// InfraContainer is one compose service's container as the lab names it.
type InfraContainer struct {
	Service, Name string
}

// InfraContainers lists the compose project's containers: container_name
// when set, else compose's <project>-<service>-1.
func (l *Lab) InfraContainers() ([]InfraContainer, error) {
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return nil, err
	}
	var out []InfraContainer
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		cn := s.ContainerName
		if cn == "" {
			cn = p.Name + "-" + name + "-1"
		}
		out = append(out, InfraContainer{Service: name, Name: cn})
	}
	return out, nil
}

// Check wants every service's container running, labelled with the lab
// and made by compose project infra, from the current image build and the
// current configuration (the service's labels, among them the digest of
// the router's FRR files), at the pinned addresses.
func (s InfraStep) Check(ctx context.Context) steps.Status {
	l := s.l
	want, err := l.InfraContainers()
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	}
	project := l.Topo.Infra.Project
	var running []string
	for _, c := range want {
		info, err := l.docker.ContainerInspect(ctx, c.Name)
		if err != nil {
			return steps.Status{State: steps.NotDone, Reason: "no container " + c.Name}
		}
		if info.Config.Labels[composeProjectLabel] != project || info.Config.Labels[render.LabelLab] != l.Topo.Cluster.Name {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("container %s exists but is not compose project %s of lab %s", c.Name, project, l.Topo.Cluster.Name)}
		}
		if info.State == nil || !info.State.Running {
			return steps.Status{State: steps.Broken, Reason: fmt.Sprintf("container %s is not running (%s)", c.Name, stateText(info.State))}
		}
		// A rebuilt image keeps its tag; compose up recreates the
		// container from the new one.
		if img, err := l.docker.ImageInspect(ctx, info.Config.Image); err == nil && img.ID != info.Image {
			return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf("container %s runs an older build of %s", c.Name, info.Config.Image)}
		}
		if why := staleLabels(c.Name, p.Services[c.Service].Labels, info.Config.Labels); why != "" {
			return steps.Status{State: steps.NotDone, Reason: why}
		}
		running = append(running, c.Name)
	}
	if wrong, err := l.infraAddressProblems(ctx); err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	} else if len(wrong) > 0 {
		return steps.Status{State: steps.Broken, Reason: strings.Join(wrong, "; ")}
	}
	if nets, err := l.infraNetworkProblems(ctx); err != nil {
		return steps.Status{State: steps.Broken, Reason: err.Error()}
	} else if len(nets) > 0 {
		if nets[0].foreign {
			return steps.Status{State: steps.Broken, Reason: nets[0].why}
		}
		return steps.Status{State: steps.NotDone, Reason: nets[0].why}
	}
	return steps.Status{State: steps.Done, Reason: "running: " + strings.Join(running, ", ")}
}

// infraAddressProblems compares each container's addresses with the ones
// the compose file pins (the guide's: client 198.51.100.100, router .250 …).
func (l *Lab) infraAddressProblems(ctx context.Context) ([]string, error) {
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return nil, err
	}
	cs, err := l.InfraContainers()
	if err != nil {
		return nil, err
	}
	var wrong []string
	for _, c := range cs {
		info, err := l.docker.ContainerInspect(ctx, c.Name)
		if err != nil || info.NetworkSettings == nil {
			continue // Check reports missing containers
		}
		for key, sn := range p.Services[c.Service].Networks {
			if sn == nil || sn.Ipv4Address == "" {
				continue
			}
			name := composeNetworkName(p, key)
			ep := info.NetworkSettings.Networks[name]
			if ep == nil {
				wrong = append(wrong, fmt.Sprintf("%s is not on %s", c.Name, name))
				continue
			}
			// A stopped container has no address, only the one it asks
			// for when it starts.
			got := ep.IPAddress
			if info.State == nil || !info.State.Running {
				got = ""
				if ep.IPAMConfig != nil {
					got = ep.IPAMConfig.IPv4Address
				}
			}
			if got != sn.Ipv4Address {
				wrong = append(wrong, fmt.Sprintf("%s has %q on %s, the topology pins %s", c.Name, got, name, sn.Ipv4Address))
			}
		}
	}
	return wrong, nil
}

// staleLabels says how a container's labels differ from its service's
// (empty when they do not): compose up recreates such a container.
func staleLabels(name string, want, got map[string]string) string {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] == want[k] {
			continue
		}
		if k == render.LabelFRRConfig {
			return fmt.Sprintf("router %s runs an older FRR configuration (%s %q, the topology renders %q)", name, k, got[k], want[k])
		}
		return fmt.Sprintf("container %s has label %s=%q, the topology wants %q", name, k, got[k], want[k])
	}
	return ""
}

func stateText(st *container.State) string {
	if st == nil {
		return "no state"
	}
	if st.ExitCode != 0 {
		return fmt.Sprintf("%s, exit code %d", st.Status, st.ExitCode)
	}
	return st.Status
}

// compose renders the project into the infra directory and opens it.
func (l *Lab) compose() (*tccompose.DockerCompose, error) {
	dir, err := l.InfraDir()
	if err != nil {
		return nil, err
	}
	yaml, err := render.ComposeYAML(l.Topo)
	if err != nil {
		return nil, err
	}
	frr, err := render.FRRFiles(l.Topo)
	if err != nil {
		return nil, err
	}
	files := []render.File{{Name: "docker-compose.yaml", Data: yaml}}
	if err := render.WriteFiles(dir, files); err != nil {
		return nil, err
	}
	if err := render.WriteFiles(filepath.Join(dir, "frr"), frr); err != nil {
		return nil, err
	}
	// Ryuk, testcontainers' reaper, would remove the stack when spklab
	// exits, and its image cannot be pulled offline; the lab outlives us.
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	// Compose's per-container progress lines would interleave with the
	// steps' own report (which says what was applied); its errors still
	// come back from Up and Down. Process-wide, like the variable above:
	// compose reads both from package state only.
	progress.Mode = progress.ModeQuiet
	c, err := tccompose.NewDockerComposeWith(
		tccompose.WithStackFiles(filepath.Join(dir, "docker-compose.yaml")),
		tccompose.StackIdentifier(l.Topo.Infra.Project),
		tccompose.WithLogger(composeLogger{l}),
	)
	if err != nil {
		return nil, fmt.Errorf("compose project %s: %w", l.Topo.Infra.Project, err)
	}
	return c, nil
}

// Apply brings the compose project up (recreating what changed) and waits
// for its containers to run.
func (s InfraStep) Apply(ctx context.Context) error {
	c, err := s.l.compose()
	if err != nil {
		return err
	}
	// Containers on other addresses than the pinned ones, and networks
	// that are not as spklab makes them (infranet.go says why), are made
	// again: compose up keeps a container whose configuration did not
	// change, and a network without its config-hash label.
	nets, err := s.l.infraNetworkProblems(ctx)
	if err != nil {
		return err
	}
	for _, pr := range nets {
		if pr.foreign {
			return fmt.Errorf("%s: take that lab down first", pr.why)
		}
	}
	wrong, err := s.l.infraAddressProblems(ctx)
	if err != nil {
		return err
	}
	for _, pr := range nets {
		wrong = append(wrong, pr.why)
	}
	if len(wrong) > 0 {
		s.l.Log.Warn("recreating the infra containers", "why", strings.Join(wrong, "; "))
		if err := c.Down(ctx, tccompose.RemoveOrphans(true)); err != nil {
			return fmt.Errorf("compose down of project %s: %w", s.l.Topo.Infra.Project, err)
		}
	}
	if err := s.l.ensureInfraNetworks(ctx, nets); err != nil {
		return err
	}
	if err := c.Up(ctx, tccompose.Wait(true), tccompose.RemoveOrphans(true)); err != nil {
		return fmt.Errorf("compose up of project %s: %w", s.l.Topo.Infra.Project, err)
	}
	return nil
}

// Destroy takes the compose project down with its volumes, then removes
// the rendered directory. Containers of the project that compose no longer
// knows (an older topology) go too.
func (s InfraStep) Destroy(ctx context.Context) error {
	l := s.l
	list, err := l.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", composeProjectLabel+"="+l.Topo.Infra.Project),
		filters.Arg("label", render.LabelLab+"="+l.Topo.Cluster.Name))})
	if err != nil {
		return fmt.Errorf("listing infra containers: %w", err)
	}
	nets, err := l.infraNetworks(ctx)
	if err != nil {
		return err
	}
	if len(list) > 0 || len(nets) > 0 {
		c, err := l.compose()
		if err != nil {
			return err
		}
		if err := c.Down(ctx, tccompose.RemoveOrphans(true), tccompose.RemoveVolumes(true)); err != nil {
			return fmt.Errorf("compose down of project %s: %w", l.Topo.Infra.Project, err)
		}
	}
	dir, err := l.InfraDir()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	// The lab's own cache directory goes too once nothing else is in it.
	_ = os.Remove(filepath.Dir(dir))
	return nil
}

// composeLogger sends testcontainers' messages to the lab log at debug.
type composeLogger struct{ l *Lab }

func (c composeLogger) Printf(format string, v ...any) { c.l.Log.Debug(fmt.Sprintf(format, v...)) }

// infraNetworks lists the project's own docker networks (not the external
// ones), found by the compose project label and name: spklab makes them
// with the lab label (infranet.go), but one made by compose itself (an
// older spklab, or `docker compose up` by hand) carries testcontainers'
// labels instead. The project name is the guide's ("infra") for every
// lab: while another lab's containers are in the project, its networks
// are that lab's.
func (l *Lab) infraNetworks(ctx context.Context) ([]network.Summary, error) {
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return nil, err
	}
	all, err := l.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(
		filters.Arg("label", composeProjectLabel+"="+l.Topo.Infra.Project))})
	if err != nil {
		return nil, fmt.Errorf("listing infra containers: %w", err)
	}
	for _, c := range all {
		if c.Labels[render.LabelLab] != l.Topo.Cluster.Name {
			return nil, nil
		}
	}
	names := map[string]bool{}
	for _, n := range wantedInfraNetworks(p) {
		names[n.name] = true
	}
	list, err := l.docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", composeProjectLabel+"="+l.Topo.Infra.Project))})
	if err != nil {
		return nil, fmt.Errorf("listing infra networks: %w", err)
	}
	var out []network.Summary
	for _, n := range list {
		if names[n.Name] {
			out = append(out, n)
		}
	}
	return out, nil
}
