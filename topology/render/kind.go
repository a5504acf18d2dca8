package render

import (
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/topology"
)

// containerdOOMPatch overrides kind's base containerd config (which sets
// restrict_oom_score_adj = false in this section): on hosts whose capability
// bounding set lacks CAP_SYS_RESOURCE, runc inside a kind node cannot lower
// oom_score_adj and every pod sandbox fails ("can't get final child's PID
// from pipe: EOF"); with it, containerd clamps the value instead. Elsewhere
// it changes nothing the lab relies on.
const containerdOOMPatch = `[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
`

// KindConfig is the kind cluster config of the lab. TMM nodes are not
// labelled or tainted here: `spk install` does that, so re-running it on an
// existing cluster converges.
func KindConfig(t *topology.Topology) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Networking: v1alpha4.Networking{
			// Calico is installed by `cni deploy`.
			DisableDefaultCNI: true,
		},
		ContainerdConfigPatches: []string{containerdOOMPatch},
	}
	if t == nil {
		return cfg
	}
	cfg.Name = t.Cluster.Name
	cfg.Networking.PodSubnet = t.Cluster.PodSubnet
	cfg.Networking.ServiceSubnet = t.Cluster.ServiceSubnet
	for _, n := range t.Cluster.Nodes {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{
			Role:  v1alpha4.NodeRole(n.Role),
			Image: t.Images.Node,
		})
	}
	return cfg
}

// KindConfigYAML is KindConfig as the YAML `kind create cluster --config`
// reads.
func KindConfigYAML(t *topology.Topology) ([]byte, error) {
	return yaml.Marshal(KindConfig(t))
}
