package topology

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// InitFile returns the named built-in lab as a commented spklab.yaml that a
// lab author edits: every field is written out, with what it means.
func InitFile(base string) ([]byte, error) {
	t, err := Builtin(base)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := doc.Encode(t); err != nil {
		return nil, fmt.Errorf("encoding topology: %w", err)
	}
	docs := fieldDocs(t)
	annotate(&doc, "", docs)
	doc.HeadComment = strings.TrimSpace(fmt.Sprintf(`
spklab.yaml — the lab topology (written by "spklab init --topology %s").

Every value below is the built-in %q lab; change what you need and run
"spklab validate" to see every problem at once as "path: reason".
A field you delete falls back to the built-in value; a list you set
replaces the built-in list whole. Unknown fields are errors.
Lab addresses must stay inside the lab: macvlan networks have no parent.`, t.Base, t.Base))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("writing topology: %w", err)
	}
	return buf.Bytes(), nil
}

// annotate puts docs[path] above each mapping key; list items extend the
// path with "[]" and only the first item is annotated, to keep it readable.
func annotate(n *yaml.Node, path string, docs map[string]string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			annotate(c, path, docs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := key.Value
			if path != "" {
				p = path + "." + key.Value
			}
			if d, ok := docs[p]; ok {
				key.HeadComment = d
			}
			annotate(val, p, docs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if i == 0 {
				annotate(c, path+"[]", docs)
			} else {
				annotate(c, path+"[]", nil)
			}
		}
	}
}

// fieldDocs explains the fields of spklab.yaml, keyed by path.
func fieldDocs(t *Topology) map[string]string {
	return map[string]string{
		"base":                                  "Built-in lab this file starts from: default | seed-example.",
		"cluster":                               "The kind cluster.",
		"cluster.name":                          "Cluster name; kind names the nodes <name>-control-plane, <name>-worker, <name>-worker2, …",
		"cluster.kubernetesVersion":             "Kubernetes version of the node image.",
		"cluster.podSubnet":                     "Pod CIDR (Calico's IP pool, without outgoing NAT so pod sources reach TMM).",
		"cluster.serviceSubnet":                 "Service CIDR.",
		"cluster.nodes":                         fmt.Sprintf("Nodes in order; role is control-plane or worker. These are: %s.", strings.Join(t.Cluster.NodeNames(), ", ")),
		"cluster.tmmNodes":                      "Workers that stand for DPU hosts: labelled and tainted so only TMM runs there.",
		"cluster.tmmNodeLabel":                  "Label put on TMM nodes (key=value); TMM pods select it.",
		"cluster.tmmNodeTaint":                  "Taint put on TMM nodes (key=value:Effect); TMM pods tolerate it.",
		"cni":                                   "Versions of Calico (VXLAN), the Multus thin plugin and the reference CNI plugins.",
		"images":                                "Images the lab runs; spklab builds them locally when no registry is reachable.",
		"networks":                              "Docker networks. Networks with attach are created by spklab and joined by kind nodes;\nthe others belong to the compose project (docker names them <project>_<name>).",
		"networks[].driver":                     "bridge or macvlan (macvlan never has a parent: it stays inside this machine).",
		"networks[].attach":                     "How kind nodes join the network.",
		"networks[].attach.nodes":               "Nodes that join; empty means every worker.",
		"networks[].attach.interface":           "Interface name inside each node (eth1, eth2, …; eth0 is kind's own network).",
		"networks[].attach.keepAddress":         "false flushes the node's address so only TMM uses the wire.",
		"networks[].attach.vlan":                "Put the node addresses on <interface>.<vlan> (a tagged TMM VLAN on this network).",
		"networks[].attach.addresses":           "Pinned node addresses; nodes left out get one from docker.",
		"networks[].attach.annotation":          "Node annotation recording the address as {\"ipv4\":\"a/len\",\"ipv6\":\"b/len\"}.",
		"infra":                                 "The docker compose project holding router, client and syslog.",
		"router":                                "The external FRR router (container <project>-<service>-1).",
		"router.asn":                            "The router's AS; it peers with TMMs as remote-as external.",
		"router.routerID":                       "BGP router-id (an IPv4 address).",
		"router.interfaces":                     "The router's addresses per network; vlan puts them on a tagged sub-interface.",
		"router.listenRanges":                   "Prefixes dynamic BGP peers may come from; empty means the external TMM VLAN subnets.",
		"router.announce":                       "Prefixes the router originates (TMM learns how to reach the client this way).",
		"router.maximumPaths":                   "ECMP width: every TMM advertises every VIP.",
		"router.multipathHashPolicy":            "Linux fib_multipath_hash_policy (1 = L4 hashing, spreads flows over TMMs).",
		"client":                                "The nginx client (container <project>-<service>-1); its default route is the router.",
		"syslog":                                "The rsyslog server TMM logs to.",
		"spk":                                   "Where the SPK controller, TMM and NADs live.",
		"tmm":                                   "The emulated TMM data plane.",
		"tmm.replicas":                          "TMM pods; replica i uses entry i of every selfIPs list and row i of every SNAT pool.",
		"tmm.interfaces":                        "TMM interface 1.N is the pod's N-th network attachment (Multus annotation order).",
		"tmm.vlans":                             "F5SPKVlan objects: tag 0 = untagged (one per interface); a tagged VLAN has its own subnets.",
		"tmm.vlans[].internal":                  "The VLAN facing the cluster (egress from pods arrives here).",
		"tmm.vlans[].selfIPs":                   "Self IPs, entry i for replica i.",
		"tmm.bgp":                               "BGP of every TMM replica (Helm values tmm.dynamicRouting.tmmRouting.config.bgp);\neach replica's router-id is its IPv4 self IP on the neighbors' VLAN.",
		"tenants":                               "Application namespaces, each behind its own VIP and leaving through its own SNAT pool.",
		"tenants[].ingress":                     "F5SPKIngressTCP: VIP (v4 and/or v6) and port (0 = every port) → the Service's endpoints.",
		"tenants[].ingress.loadBalancingMethod": "ROUND_ROBIN or RATIO_LEAST_CONN_MEMBER.",
		"tenants[].ingress.idleTimeout":         "Seconds an idle flow is kept.",
		"tenants[].snatPool":                    "F5SPKSnatpool used by the tenant's F5SPKEgress: row i for replica i.",
		"tenants[].vxlanKey":                    "VNI of the tenant's egress tunnel from nodes to TMM (1–16777215, unique).",
	}
}
