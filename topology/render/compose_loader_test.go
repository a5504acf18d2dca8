package render

// These tests load the rendered file with compose-go's loader, as docker
// compose does.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/spklab/spklab/topology"
)

// loadCompose parses the file the way docker compose does (offline).
func loadCompose(t *testing.T, data []byte) *types.Project {
	t.Helper()
	dir := t.TempDir()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yaml"), Content: data}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatalf("compose-go does not load the rendered file: %v\n%s", err, data)
	}
	return p
}

func TestComposeLoads(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := builtin(t, name)
			p := loadCompose(t, composeYAML(t, topo))
			if p.Name != "infra" {
				t.Errorf("project name = %q, want infra", p.Name)
			}
			if got := strings.Join(p.ServiceNames(), " "); got != "client frr syslog" {
				t.Errorf("services = %s", got)
			}

			router := p.Services["frr"]
			if router.Image != "spklab/frr:8.4" || router.Hostname != "infra-frr-1" {
				t.Errorf("router image %q hostname %q", router.Image, router.Hostname)
			}
			if router.Labels[LabelLab] != "bnk" {
				t.Errorf("router labels = %v", router.Labels)
			}
			for k, v := range map[string]string{
				"net.ipv4.ip_forward": "1", "net.ipv6.conf.all.forwarding": "1",
				"net.ipv4.fib_multipath_hash_policy": "1", "net.ipv6.fib_multipath_hash_policy": "1",
				"net.ipv6.conf.all.disable_ipv6": "0",
			} {
				if router.Sysctls[k] != v {
					t.Errorf("router sysctl %s = %q, want %q", k, router.Sysctls[k], v)
				}
			}
			if len(router.Volumes) != 1 || router.Volumes[0].Target != "/etc/frr" || router.Volumes[0].Source != filepath.Join(p.WorkingDir, "frr") {
				t.Errorf("router volumes = %+v", router.Volumes)
			}
			// Tagged router interfaces (the seed's VLAN 3334) are network.sh's job.
			wantNet(t, router, "client-net", "198.51.100.250", "2001::198:51:100:250")
			wantNet(t, router, "external-net", "192.0.2.250", "2001::192:0:2:250")
			if len(router.Networks) != 2 {
				t.Errorf("router networks = %v", router.Networks)
			}

			client := p.Services["client"]
			wantNet(t, client, "client-net", "198.51.100.100", "2001::198:51:100:100")
			if gw := client.Environment["SPKLAB_GATEWAY_V4"]; gw == nil || *gw != "198.51.100.250" {
				t.Errorf("client SPKLAB_GATEWAY_V4 = %v", gw)
			}
			if gw := client.Environment["SPKLAB_GATEWAY_V6"]; gw == nil || *gw != "2001::198:51:100:250" {
				t.Errorf("client SPKLAB_GATEWAY_V6 = %v", gw)
			}

			syslog := p.Services["syslog"]
			if syslog.ContainerName != "syslog-server" || syslog.Image != "spklab/rsyslog:8.2302" {
				t.Errorf("syslog container %q image %q", syslog.ContainerName, syslog.Image)
			}
			wantNet(t, syslog, "external-net", "192.0.2.200", "")

			if len(p.Networks) != 2 {
				t.Errorf("networks = %v (egress-net is used by no service)", p.Networks)
			}
			cn := p.Networks["client-net"]
			if cn.Name != "infra_client-net" || bool(cn.External) || cn.Driver != "bridge" ||
				cn.EnableIPv6 == nil || !*cn.EnableIPv6 || len(cn.Ipam.Config) != 2 ||
				cn.Ipam.Config[0].Subnet != "198.51.100.0/24" || cn.Ipam.Config[0].Gateway != "198.51.100.1" ||
				cn.Ipam.Config[1].Subnet != "2001::198:51:100:0/112" || cn.Ipam.Config[1].Gateway != "2001::198:51:100:1" {
				t.Errorf("client-net = %+v", cn)
			}
			if en := p.Networks["external-net"]; en.Name != "external-net" || !bool(en.External) {
				t.Errorf("external-net = %+v", en)
			}
		})
	}
}

func wantNet(t *testing.T, s types.ServiceConfig, network, ipv4, ipv6 string) {
	t.Helper()
	nc, ok := s.Networks[network]
	if !ok || nc == nil {
		t.Errorf("service %s is not on %s", s.Name, network)
		return
	}
	if nc.Ipv4Address != ipv4 || nc.Ipv6Address != ipv6 {
		t.Errorf("service %s on %s: %s %s, want %s %s", s.Name, network, nc.Ipv4Address, nc.Ipv6Address, ipv4, ipv6)
	}
}

// A compose-managed macvlan network gets no parent either.
func TestComposeMacvlanHasNoParent(t *testing.T) {
	topo := topology.Default()
	topo.Networks[0].Driver = topology.DriverMacvlan
	p := loadCompose(t, composeYAML(t, topo))
	opts := p.Networks["client-net"].DriverOpts
	if _, ok := opts["parent"]; ok || opts["macvlan_mode"] != "bridge" {
		t.Errorf("client-net driver_opts = %v", opts)
	}
}
