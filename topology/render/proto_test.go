package render

import (
	"fmt"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestProto(t *testing.T) {
	v6 := true
	var s types.ServiceConfig
	s.Name = "frr"
	s.Image = "spklab/frr:8.4"
	s.Hostname = "infra-frr-1"
	s.CapAdd = []string{"NET_ADMIN"}
	s.Sysctls = types.Mapping{"net.ipv4.ip_forward": "1"}
	s.Volumes = []types.ServiceVolumeConfig{{Type: "bind", Source: "./frr", Target: "/etc/frr"}}
	s.Labels = types.Labels{"io.spklab.lab": "bnk"}
	s.Networks = map[string]*types.ServiceNetworkConfig{"client-net": {Ipv4Address: "198.51.100.250"}}
	s.Environment = types.NewMappingWithEquals([]string{"A=b"})
	p := &types.Project{
		Name:     "infra",
		Services: types.Services{"frr": s},
		Networks: types.Networks{
			"client-net":   types.NetworkConfig{Driver: "bridge", EnableIPv6: &v6, Ipam: types.IPAMConfig{Config: []*types.IPAMPool{{Subnet: "198.51.100.0/24", Gateway: "198.51.100.1"}}}},
			"external-net": types.NetworkConfig{Name: "external-net", External: true},
		},
	}
	b, err := p.MarshalYAML()
	fmt.Println(string(b), err)
}
