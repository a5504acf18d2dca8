package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func frrFiles(t *testing.T, topo *topology.Topology) map[string]File {
	t.Helper()
	files, err := FRRFiles(topo)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]File{}
	var names []string
	for _, f := range files {
		out[f.Name] = f
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, " "), "daemons frr.conf network.sh vtysh.conf"; got != want {
		t.Errorf("files = %s, want %s", got, want)
	}
	return out
}

func TestFRRGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			for _, f := range frrFiles(t, builtin(t, name)) {
				golden.Check(t, filepath.Join("testdata", "frr", name, f.Name), f.Data)
				want := os.FileMode(0o644)
				if f.Name == "network.sh" {
					want = 0o755
				}
				if f.Mode != want {
					t.Errorf("%s mode = %v, want %v", f.Name, f.Mode, want)
				}
			}
		})
	}
}

// The committed frr/ is what the default lab's router mounts.
func TestFRRDirMatchesDefault(t *testing.T) {
	for _, f := range frrFiles(t, topology.Default()) {
		checkArtifact(t, filepath.Join("..", "..", "frr", f.Name), f.Data, f.Mode, "go run ./cmd/spklab render frr")
	}
}

func TestFRRConfDefaultLab(t *testing.T) {
	conf := frrFiles(t, topology.Default())["frr.conf"].Data
	mustContain(t, conf,
		"\nhostname infra-frr-1\n",
		"\nrouter bgp 65500\n",
		"\n bgp router-id 192.0.2.250\n",
		"\n bgp graceful-restart restart-time 120\n",
		"\n bgp listen range 192.0.2.0/24 peer-group TMM\n",
		"\n bgp listen range 2001::192:0:2:0/112 peer-group TMM\n",
		"\n address-family ipv4 unicast\n  network 198.51.100.0/24\n  neighbor TMM activate\n  maximum-paths 8\n",
		"\n address-family ipv6 unicast\n  network 2001::198:51:100:0/112\n  neighbor TMM activate\n  maximum-paths 8\n",
	)
	for _, no := range []string{"password", "ebgp-multihop"} {
		if strings.Contains(string(conf), no) {
			t.Errorf("default frr.conf has %s:\n%s", no, conf)
		}
	}
	script := frrFiles(t, topology.Default())["network.sh"].Data
	if strings.Contains(string(script), "vlan_up") {
		t.Errorf("default network.sh makes VLANs, but the default router has no tagged interface:\n%s", script)
	}
}

func TestFRRConfOptions(t *testing.T) {
	topo := topology.SeedExample()
	topo.TMM.BGP.Neighbors[0].Password = "s3cret"
	topo.TMM.BGP.GracefulRestart.Enabled = false
	topo.Router.ListenRanges = []string{"10.10.10.0/24", "10.10.10.0/24"}
	topo.Router.Announce = []string{"198.51.100.0/24"}
	conf := string(frrFiles(t, topo)["frr.conf"].Data)
	mustContain(t, []byte(conf),
		"\n neighbor TMM password s3cret\n",
		"\n neighbor TMM ebgp-multihop 10\n",
		"\n bgp listen range 10.10.10.0/24 peer-group TMM\n",
	)
	if strings.Count(conf, "bgp listen range") != 1 {
		t.Errorf("duplicate listen range not merged:\n%s", conf)
	}
	if strings.Contains(conf, "graceful-restart") || strings.Contains(conf, "ipv6 unicast") {
		t.Errorf("graceful restart off and no IPv6 range or prefix, yet:\n%s", conf)
	}
}

func TestFRRErrors(t *testing.T) {
	for name, mutate := range map[string]func(*topology.Topology){
		"bad router-id":      func(t *topology.Topology) { t.Router.RouterID = "2001::1" },
		"bad asn":            func(t *topology.Topology) { t.Router.ASN = 0 },
		"bad announce":       func(t *topology.Topology) { t.Router.Announce = []string{"198.51.100.1/24"} },
		"bad listen range":   func(t *topology.Topology) { t.Router.ListenRanges = []string{"nope"} },
		"no maximum-paths":   func(t *topology.Topology) { t.Router.MaximumPaths = 0 },
		"bad hash policy":    func(t *topology.Topology) { t.Router.MultipathHashPolicy = 7 },
		"hostname injection": func(t *topology.Topology) { t.Router.Service = "frr\nrouter bgp 1" },
		"password injection": func(t *topology.Topology) { t.TMM.BGP.Neighbors[0].Password = "x\n!" },
		"passwords differ": func(t *topology.Topology) {
			t.TMM.BGP.Neighbors = append(t.TMM.BGP.Neighbors, topology.BGPNeighbor{IP: "10.10.10.201", ASN: 200, Password: "x"})
		},
		"multihop too far":     func(t *topology.Topology) { t.TMM.BGP.Neighbors[0].EBGPMultihop = 256 },
		"restart-time too big": func(t *topology.Topology) { t.TMM.BGP.GracefulRestart.RestartTime = 5000 },
		"vlan without untagged interface": func(t *topology.Topology) {
			t.Router.Interfaces = []topology.RouterInterface{{Network: "external-net", VLAN: 3334, IPv4: "10.10.10.200"}}
		},
		"vlan without TMM vlan": func(t *topology.Topology) {
			t.Router.Interfaces = append(t.Router.Interfaces, topology.RouterInterface{Network: "external-net", VLAN: 99, IPv4: "10.99.0.1"})
		},
		"vlan bad address": func(t *topology.Topology) { t.Router.Interfaces[2].IPv4 = "10.10.10.300" },
		"vlan network injection": func(t *topology.Topology) {
			t.Router.Interfaces = append(t.Router.Interfaces, topology.RouterInterface{Network: "x;reboot", VLAN: 5, IPv4: "10.0.0.1"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			topo := topology.SeedExample()
			mutate(topo)
			if _, err := FRRFiles(topo); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

// FRR's own parser accepts the rendered config (syntax only; no daemons).
func TestFRRConfParsesWithVtysh(t *testing.T) {
	vtysh := requireTool(t, "vtysh", "Debian package frr")
	dryrun := func(dir string) (string, error) {
		out, err := exec.Command(vtysh, "--dryrun", "--config_dir", dir, "-f", filepath.Join(dir, "frr.conf")).CombinedOutput()
		return string(out), err
	}
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range frrFiles(t, builtin(t, name)) {
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, f.Mode); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := dryrun(dir); err != nil {
				t.Errorf("vtysh --dryrun rejects frr.conf: %v\n%s", err, out)
			}
			// The check must be able to fail: a bad line is rejected.
			bad := filepath.Join(dir, "frr.conf")
			conf, _ := os.ReadFile(bad)
			conf = []byte(strings.Replace(string(conf), "  maximum-paths", "  maximum-pathz", 1))
			if err := os.WriteFile(bad, conf, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := dryrun(dir); err == nil {
				t.Errorf("vtysh --dryrun accepted a broken frr.conf:\n%s", out)
			}
		})
	}
}

func TestNetworkScriptSyntax(t *testing.T) {
	sh := requireTool(t, "sh", "POSIX shell")
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "network.sh")
			if err := os.WriteFile(path, frrFiles(t, builtin(t, name))["network.sh"].Data, 0o755); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
				t.Errorf("sh -n network.sh: %v\n%s", err, out)
			}
		})
	}
}

// fakeVLANIP wraps ip: it logs every call and, because not every kernel
// has 802.1Q (this project's CI VM has none), makes a veth in place of a
// VLAN device so the rest of network.sh runs for real.
const fakeVLANIP = `#!/bin/sh
echo "$*" >>"$IPLOG"
if [ "$1 $2 $3" = "link add link" ] && [ "$7 $8" = "type vlan" ]; then
	exec "$REALIP" link add "$6" type veth peer name "p${10}"
fi
exec "$REALIP" "$@"
`

// TestNetworkScriptRuns runs network.sh twice (it must be re-runnable) in a
// fresh network namespace whose only interface stands in for the router's
// external-net one, then checks the sysctls and the VLAN interface.
func TestNetworkScriptRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to make a network namespace; CI runs as root")
		}
		t.Skip("needs root to make a network namespace")
	}
	unshare := requireTool(t, "unshare", "Debian package util-linux")
	realIP := requireTool(t, "ip", "Debian package iproute2")
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			script := filepath.Join(dir, "network.sh")
			if err := os.WriteFile(script, frrFiles(t, builtin(t, name))["network.sh"].Data, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ip"), []byte(fakeVLANIP), 0o755); err != nil {
				t.Fatal(err)
			}
			// Everything happens inside the new namespace and dies with it.
			setup := `set -eu
ip link add eth1 type veth peer name eth1p
ip addr add 192.0.2.250/24 dev eth1
ip addr add 2001::192:0:2:250/112 dev eth1 nodad
ip link set eth1 up
sh "$1"
sh "$1"
cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding \
	/proc/sys/net/ipv4/fib_multipath_hash_policy /proc/sys/net/ipv6/fib_multipath_hash_policy
ip -o addr show
`
			cmd := exec.Command(unshare, "--net", "sh", "-c", setup, "sh", script)
			log := filepath.Join(dir, "ip.log")
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "REALIP="+realIP, "IPLOG="+log)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("network.sh in a fresh netns: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "\n1\n1\n1\n1\n") && !strings.HasPrefix(string(out), "1\n1\n1\n1\n") {
				t.Errorf("sysctls not set:\n%s", out)
			}
			calls, _ := os.ReadFile(log)
			adds := strings.Count(string(calls), "link add link eth1 name eth1.3334 type vlan id 3334\n")
			if name == topology.BuiltinDefault {
				if adds != 0 || strings.Contains(string(out), "eth1.3334") {
					t.Errorf("default lab made a VLAN:\n%s", out)
				}
				return
			}
			if adds != 1 {
				t.Errorf("VLAN device created %d times over two runs, want 1; ip calls:\n%s", adds, calls)
			}
			for _, want := range []string{"eth1.3334    inet 10.10.10.200/24", "eth1.3334    inet6 2002::198:51:100:200/112"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
		})
	}
}
