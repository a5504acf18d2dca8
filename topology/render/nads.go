package render

import (
	"bytes"
	"encoding/json"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/spklab/spklab/topology"
)

// macvlanConf is the CNI config of a TMM attachment. IPAM is empty: TMM
// owns its addresses (self IPs), the kernel of the pod gets none.
type macvlanConf struct {
	CNIVersion string   `json:"cniVersion"`
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Master     string   `json:"master,omitempty"`
	Mode       string   `json:"mode"`
	IPAM       struct{} `json:"ipam"`
}

// NADs are the NetworkAttachmentDefinitions of the TMM pod, one per TMM
// interface in interface order ("1.N" is the N-th attachment), each named
// after its network and bridged (macvlan) onto the node interface of that
// network.
func NADs(t *topology.Topology) []nadv1.NetworkAttachmentDefinition {
	if t == nil {
		return nil
	}
	out := make([]nadv1.NetworkAttachmentDefinition, 0, len(t.TMM.Interfaces))
	for _, ifc := range t.TMM.Interfaces {
		conf := macvlanConf{CNIVersion: "0.3.1", Name: ifc.Network, Type: "macvlan", Mode: "bridge"}
		if n := t.Network(ifc.Network); n != nil && n.Attach != nil {
			conf.Master = n.Attach.Interface
		}
		config, _ := json.Marshal(conf) // strings and a struct{}: cannot fail
		out = append(out, nadv1.NetworkAttachmentDefinition{
			TypeMeta: metav1.TypeMeta{APIVersion: "k8s.cni.cncf.io/v1", Kind: "NetworkAttachmentDefinition"},
			ObjectMeta: metav1.ObjectMeta{
				Name:      ifc.Network,
				Namespace: t.SPK.Namespace,
				Labels:    map[string]string{LabelLab: t.Cluster.Name},
			},
			Spec: nadv1.NetworkAttachmentDefinitionSpec{Config: string(config)},
		})
	}
	return out
}

// NADsYAML is NADs as a multi-document YAML stream for kubectl apply.
func NADsYAML(t *topology.Topology) ([]byte, error) {
	var buf bytes.Buffer
	for i, nad := range NADs(t) {
		doc, err := k8sManifestYAML(nad)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	return buf.Bytes(), nil
}

// MultusAnnotation is the value of the TMM pod's k8s.v1.cni.cncf.io/networks
// annotation: the NAD names in interface order (the pod's namespace).
func MultusAnnotation(t *topology.Topology) string {
	var names []string
	for _, nad := range NADs(t) {
		names = append(names, nad.Name)
	}
	return strings.Join(names, ",")
}

// k8sManifestYAML marshals a Kubernetes object without the fields a client
// never sets (metadata.creationTimestamp: null, empty status), which would
// only be noise in a manifest.
func k8sManifestYAML(obj any) ([]byte, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, err
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
	}
	if st, ok := m["status"].(map[string]any); ok && len(st) == 0 {
		delete(m, "status")
	}
	return yaml.Marshal(m)
}
