package kind

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
	composeapi "github.com/docker/compose/v2/pkg/api"
	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/topology/render"
)

// The infra step creates the compose project's own networks (those that
// are not external) itself, labelled as compose would label them but
// without compose's config-hash label.
//
// Why: compose compares a network's config-hash label with the hash of the
// network's configuration, labels included, and testcontainers puts its
// session ID (derived from the parent process) in those labels. So a
// compose up run from another shell than the one that made the network
// finds it "diverged", removes it, makes it again and reconnects the
// containers without their pinned addresses: the client came up on
// 198.51.100.3 instead of .100. A network without the hash label is taken
// as it is; spklab checks it against the topology itself.

// composeNetworkName is the docker network of the project's network key:
// its name when the compose file sets one, else compose's <project>_<key>.
func composeNetworkName(p *types.Project, key string) string {
	if n := p.Networks[key].Name; n != "" {
		return n
	}
	return p.Name + "_" + key
}

// infraNetwork is one network of the compose project as spklab makes it.
type infraNetwork struct {
	key  string // the compose file's key, e.g. "client-net"
	name string // the docker network, e.g. "infra_client-net"
	opts network.CreateOptions
}

// wantedInfraNetworks derives the project's own networks from the rendered
// compose project.
func wantedInfraNetworks(p *types.Project) []infraNetwork {
	var out []infraNetwork
	for _, key := range slices.Sorted(maps.Keys(p.Networks)) {
		n := p.Networks[key]
		if bool(n.External) {
			continue
		}
		name := composeNetworkName(p, key)
		labels := map[string]string{
			composeProjectLabel:     p.Name,
			composeapi.NetworkLabel: key,
		}
		maps.Copy(labels, n.Labels)
		opts := network.CreateOptions{
			Driver:     n.Driver,
			Options:    n.DriverOpts,
			Internal:   n.Internal,
			Attachable: n.Attachable,
			EnableIPv6: n.EnableIPv6,
			EnableIPv4: n.EnableIPv4,
			Labels:     labels,
		}
		if n.Ipam.Driver != "" || len(n.Ipam.Config) > 0 {
			opts.IPAM = &network.IPAM{Driver: n.Ipam.Driver}
			for _, pool := range n.Ipam.Config {
				opts.IPAM.Config = append(opts.IPAM.Config, network.IPAMConfig{
					Subnet: pool.Subnet, IPRange: pool.IPRange, Gateway: pool.Gateway, AuxAddress: pool.AuxiliaryAddresses,
				})
			}
		}
		out = append(out, infraNetwork{key: key, name: name, opts: opts})
	}
	return out
}

// netProblem is an existing network that is not the one spklab would make.
type netProblem struct {
	name    string
	why     string
	foreign bool // another lab's: never removed by this one
}

// infraNetworkProblem says why an existing network is not the one spklab
// would make for want (nil when it is): another lab's, made by compose
// (config-hash label), other labels or other subnets than the topology's.
func infraNetworkProblem(lab string, want infraNetwork, got network.Inspect) *netProblem {
	bad := func(format string, a ...any) *netProblem {
		return &netProblem{name: want.name, why: fmt.Sprintf(format, a...)}
	}
	if owner := got.Labels[render.LabelLab]; owner != "" && owner != lab {
		return &netProblem{name: want.name, why: fmt.Sprintf("network %s belongs to lab %s", want.name, owner), foreign: true}
	}
	if h := got.Labels[composeapi.ConfigHashLabel]; h != "" {
		return bad("network %s was made by compose (label %s): a compose up from another shell would remake it and drop the pinned addresses", want.name, composeapi.ConfigHashLabel)
	}
	for _, k := range slices.Sorted(maps.Keys(want.opts.Labels)) {
		if v := want.opts.Labels[k]; got.Labels[k] != v {
			return bad("network %s has label %s=%q, the lab makes it with %q", want.name, k, got.Labels[k], v)
		}
	}
	var wantSubnets, gotSubnets []string
	if want.opts.IPAM != nil {
		for _, c := range want.opts.IPAM.Config {
			wantSubnets = append(wantSubnets, c.Subnet)
		}
	}
	for _, c := range got.IPAM.Config {
		gotSubnets = append(gotSubnets, c.Subnet)
	}
	slices.Sort(wantSubnets)
	slices.Sort(gotSubnets)
	if !slices.Equal(wantSubnets, gotSubnets) {
		return bad("network %s has subnets %v, the topology wants %v", want.name, gotSubnets, wantSubnets)
	}
	return nil
}

// infraNetworkProblems checks the project's own networks that exist; a
// missing one is no problem (Apply makes it).
func (l *Lab) infraNetworkProblems(ctx context.Context) ([]netProblem, error) {
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return nil, err
	}
	var problems []netProblem
	for _, want := range wantedInfraNetworks(p) {
		got, err := l.docker.NetworkInspect(ctx, want.name, network.InspectOptions{})
		if docker.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspecting network %s: %w", want.name, err)
		}
		if pr := infraNetworkProblem(l.Topo.Cluster.Name, want, got); pr != nil {
			problems = append(problems, *pr)
		}
	}
	return problems, nil
}

// ensureInfraNetworks makes the project's own networks that are missing,
// after removing the ones named in remake (the containers on them are
// gone: compose down ran first).
func (l *Lab) ensureInfraNetworks(ctx context.Context, remake []netProblem) error {
	for _, pr := range remake {
		if pr.foreign {
			return fmt.Errorf("%s: take that lab down first", pr.why)
		}
		if err := l.docker.NetworkRemove(ctx, pr.name); err != nil && !docker.IsNotFound(err) {
			return fmt.Errorf("removing network %s (%s): %w", pr.name, pr.why, err)
		}
	}
	p, err := render.ComposeProject(l.Topo)
	if err != nil {
		return err
	}
	for _, want := range wantedInfraNetworks(p) {
		_, err := l.docker.NetworkInspect(ctx, want.name, network.InspectOptions{})
		if err == nil {
			continue
		}
		if !docker.IsNotFound(err) {
			return fmt.Errorf("inspecting network %s: %w", want.name, err)
		}
		if _, err := l.docker.NetworkCreate(ctx, want.name, want.opts); err != nil {
			return fmt.Errorf("creating network %s: %w", want.name, err)
		}
	}
	return nil
}
