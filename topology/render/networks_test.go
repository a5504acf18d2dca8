package render

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func TestDockerNetworksGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			nets := DockerNetworks(builtin(t, name))
			y, err := yaml.Marshal(nets)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "networks", name, "networks.yaml"), y)
			j, err := json.MarshalIndent(nets, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "networks", name, "networks.json"), append(j, '\n'))
		})
	}
}

func TestDockerNetworksDefault(t *testing.T) {
	nets := DockerNetworks(topology.Default())
	if len(nets) != 2 || nets[0].Name != "external-net" || nets[1].Name != "egress-net" {
		t.Fatalf("networks = %+v, want external-net and egress-net (client-net belongs to compose)", nets)
	}
	ext, egr := nets[0], nets[1]
	if len(ext.Attach) != 3 || ext.Attach[0] != (NodeAttachmentSpec{Node: "bnk-worker", Interface: "eth1", IPv4: "192.0.2.3", IPv6: "2001::192:0:2:3"}) {
		t.Errorf("external-net attachments = %+v", ext.Attach)
	}
	if a := egr.Attach[2]; a != (NodeAttachmentSpec{Node: "bnk-worker3", Interface: "eth2", IPv4: "198.18.100.5", IPv6: "2001::198:18:100:5", KeepAddress: true}) {
		t.Errorf("egress-net bnk-worker3 = %+v", a)
	}
	if !egr.EnableIPv6 || len(egr.IPAM) != 2 || egr.IPAM[1] != (IPAMPool{Subnet: "2001::198:18:100:0/112", Gateway: "2001::198:18:100:1"}) {
		t.Errorf("egress-net = %+v", egr)
	}
	if ext.Labels[LabelLab] != "bnk" || ext.Labels[LabelNetwork] != "external-net" || ext.Internal {
		t.Errorf("external-net = %+v", ext)
	}
}

// Safety rule (docs/architecture.md, "Network safety"): a macvlan network never names a parent, so it
// can never reach the machine's real NICs.
func TestDockerNetworksHaveNoParent(t *testing.T) {
	var topos []*topology.Topology
	for _, name := range topology.Builtins() {
		topos = append(topos, builtin(t, name))
	}
	allMacvlan := topology.Default()
	for i := range allMacvlan.Networks {
		allMacvlan.Networks[i].Driver = topology.DriverMacvlan
		if allMacvlan.Networks[i].Attach == nil {
			allMacvlan.Networks[i].Attach = &topology.NodeAttachment{Interface: "eth9"}
		}
	}
	topos = append(topos, allMacvlan)
	for _, topo := range topos {
		for _, n := range DockerNetworks(topo) {
			if _, ok := n.Options["parent"]; ok {
				t.Errorf("%s: network %s has a parent option: %v", topo.Base, n.Name, n.Options)
			}
			if n.Driver == topology.DriverMacvlan && n.Options["macvlan_mode"] != "bridge" {
				t.Errorf("%s: macvlan network %s options = %v", topo.Base, n.Name, n.Options)
			}
		}
	}
}

func TestDockerNetworksAttachedNodes(t *testing.T) {
	topo := topology.Default()
	topo.Networks[1].Attach.Nodes = []string{"bnk-worker2", "bnk-control-plane"}
	ext := DockerNetworks(topo)[0]
	if len(ext.Attach) != 2 || ext.Attach[0].IPv4 != "192.0.2.4" || ext.Attach[1] != (NodeAttachmentSpec{Node: "bnk-control-plane", Interface: "eth1"}) {
		t.Errorf("attachments = %+v", ext.Attach)
	}
}
