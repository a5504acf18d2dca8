package docker

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/docker/docker/api/types/network"
)

// Network is a docker network as the lab sees it.
type Network struct {
	ID, Name, Driver string
	Subnets          []netip.Prefix
	Labels           map[string]string
	// Bridge is the host interface of a bridge network ("" for others).
	Bridge string
}

// Networks lists the daemon's networks.
func (c *Client) Networks(ctx context.Context) ([]Network, error) {
	list, err := c.api.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing docker networks: %w", err)
	}
	out := make([]Network, 0, len(list))
	for _, n := range list {
		nw := Network{ID: n.ID, Name: n.Name, Driver: n.Driver, Labels: n.Labels}
		for _, cfg := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(cfg.Subnet); err == nil {
				nw.Subnets = append(nw.Subnets, p.Masked())
			}
		}
		if n.Driver == "bridge" {
			nw.Bridge = bridgeName(n.Name, n.ID, n.Options)
		}
		out = append(out, nw)
	}
	return out, nil
}

// NetworkSpec describes a bridge network to create.
type NetworkSpec struct {
	Name    string
	Subnet  netip.Prefix // zero lets docker pick one
	Gateway netip.Addr   // zero lets docker pick one
	Labels  map[string]string
	// Internal networks have no route out of the host.
	Internal bool
	// Options are the bridge driver's options.
	Options map[string]string
}

// NetworkCreate creates a bridge network and returns its ID.
func (c *Client) NetworkCreate(ctx context.Context, s NetworkSpec) (string, error) {
	opts := network.CreateOptions{Driver: "bridge", Labels: s.Labels, Internal: s.Internal, Options: s.Options}
	if s.Subnet.IsValid() {
		cfg := network.IPAMConfig{Subnet: s.Subnet.String()}
		if s.Gateway.IsValid() {
			cfg.Gateway = s.Gateway.String()
		}
		opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{cfg}}
	}
	r, err := c.api.NetworkCreate(ctx, s.Name, opts)
	if err != nil {
		return "", fmt.Errorf("creating docker network %s: %w", s.Name, err)
	}
	return r.ID, nil
}

// NetworkRemove removes a network; a missing one is not an error.
func (c *Client) NetworkRemove(ctx context.Context, nameOrID string) error {
	if err := c.api.NetworkRemove(ctx, nameOrID); err != nil && !IsNotFound(err) {
		return fmt.Errorf("removing docker network %s: %w", nameOrID, err)
	}
	return nil
}

// bridgeName is the host interface docker gives a bridge network: the
// option when set, docker0 for the default network, else br-<12 hex of ID>.
func bridgeName(name, id string, options map[string]string) string {
	if b := options["com.docker.network.bridge.name"]; b != "" {
		return b
	}
	if name == "bridge" {
		return "docker0"
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return "br-" + id
}
