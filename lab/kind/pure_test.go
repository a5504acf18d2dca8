package kind

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

func TestAnnotationValue(t *testing.T) {
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", IPPrefixLen: 24, GlobalIPv6Address: "2001::198:18:100:3", GlobalIPv6PrefixLen: 112}
	var got map[string]string
	if err := json.Unmarshal([]byte(annotationValue(ep)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ipv4"] != "198.18.100.3/24" || got["ipv6"] != "2001::198:18:100:3/112" {
		t.Fatalf("annotation %v", got)
	}
	if v := annotationValue(&network.EndpointSettings{IPAddress: "192.0.2.3", IPPrefixLen: 24}); v != `{"ipv4":"192.0.2.3/24"}` {
		t.Fatalf("v4 only: %s", v)
	}
}

func TestPinnedMismatch(t *testing.T) {
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", GlobalIPv6Address: "2001::198:18:100:3"}
	for _, c := range []struct {
		a     render.NodeAttachmentSpec
		wrong bool
	}{
		{render.NodeAttachmentSpec{}, false},
		{render.NodeAttachmentSpec{IPv4: "198.18.100.3", IPv6: "2001:0:0:0:198:18:100:3"}, false}, // same address, other spelling
		{render.NodeAttachmentSpec{IPv4: "198.18.100.4"}, true},
		{render.NodeAttachmentSpec{IPv6: "2001::198:18:100:4"}, true},
	} {
		if got := pinnedMismatch(c.a, ep); (got != "") != c.wrong {
			t.Errorf("%+v: %q", c.a, got)
		}
	}
}

func TestMissingAddrs(t *testing.T) {
	var ifc ifaceInfo
	if err := json.Unmarshal([]byte(`{"ifname":"eth2","address":"02:42:c6:12:64:03","addr_info":[
		{"family":"inet","local":"198.18.100.3","scope":"global"},
		{"family":"inet6","local":"fe80::42:c6ff:fe12:6403","scope":"link"}]}`), &ifc); err != nil {
		t.Fatal(err)
	}
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", IPPrefixLen: 24, GlobalIPv6Address: "2001::198:18:100:3", GlobalIPv6PrefixLen: 112}
	got := missingAddrs(ifc, ep)
	if len(got) != 1 || got[0] != "2001::198:18:100:3/112" {
		t.Fatalf("missing %v, want the IPv6 address only (link-local does not count)", got)
	}
}

func TestTMMNodeProblems(t *testing.T) {
	topo := topology.Default()
	ok := []nodeInfo{
		{Name: "bnk-worker2", Labels: map[string]string{"app": "f5-tmm"}, Taints: []string{"dpu=true:NoSchedule"}},
		{Name: "bnk-worker3", Labels: map[string]string{"app": "f5-tmm"}, Taints: []string{"dpu=true:NoSchedule"}},
	}
	if p := tmmNodeProblems(topo, ok); len(p) != 0 {
		t.Errorf("marked nodes: %v", p)
	}
	bad := []nodeInfo{
		{Name: "bnk-worker2", Labels: map[string]string{"app": "other"}, Taints: []string{"dpu=true:NoSchedule"}},
		{Name: "bnk-worker3", Labels: map[string]string{"app": "f5-tmm"}},
	}
	p := tmmNodeProblems(topo, bad)
	want := []string{"bnk-worker2 lacks label app=f5-tmm", "bnk-worker3 lacks taint dpu=true:NoSchedule"}
	if !slices.Equal(p, want) {
		t.Errorf("problems %q, want %q", p, want)
	}
	if p := tmmNodeProblems(topo, nil); len(p) != 2 || !strings.Contains(p[0], "not registered") {
		t.Errorf("no nodes: %q", p)
	}
}

func TestStaleImages(t *testing.T) {
	missing := []staleImage{{Node: "n1", Ref: "a:dev", Missing: true}}
	if rebuilt(missing) {
		t.Error("a missing image is not a rebuilt one: no restart needed")
	}
	both := append(missing, staleImage{Node: "n2", Ref: "a:dev"})
	if !rebuilt(both) {
		t.Error("an older build needs a restart")
	}
	if got := staleText(both); got != "n1 lacks a:dev; n2 has an older a:dev" {
		t.Errorf("text %q", got)
	}
}

func TestInPool(t *testing.T) {
	rows := [][]string{{"192.0.2.100", "2001::192:0:2:100"}, {"192.0.2.101"}}
	for addr, want := range map[string]bool{"192.0.2.101": true, "2001::192:0:2:100": true, "192.0.2.110": false, "": false, "x": false} {
		if got := inPool(addr, rows); got != want {
			t.Errorf("inPool(%q) = %v", addr, got)
		}
	}
}

func TestWithoutCrictl(t *testing.T) {
	only := errors.New(`[command "docker exec --privileged n1 crictl images" failed with error: exit status 126, command "docker exec --privileged n2 crictl images" failed with error: exit status 126]`)
	if withoutCrictl(only) != nil {
		t.Error("crictl-only failures are expected (no crictl in the node image)")
	}
	mixed := errors.New(`[command "docker exec --privileged n1 crictl images" failed, command "docker logs n1" failed]`)
	if withoutCrictl(mixed) == nil {
		t.Error("other failures must stay")
	}
	if withoutCrictl(nil) != nil {
		t.Error("nil")
	}
}

func TestCRCondition(t *testing.T) {
	var c crState
	if err := json.Unmarshal([]byte(`{"kind":"F5SPKIngressTCP","metadata":{"name":"red-ingress","namespace":"red"},
		"status":{"conditions":[{"type":"Accepted","status":"True"},{"type":"Programmed","status":"False","message":"replica 1 did not confirm"}]}}`), &c); err != nil {
		t.Fatal(err)
	}
	if st, msg := c.condition("Programmed"); st != "False" || msg != "replica 1 did not confirm" {
		t.Errorf("Programmed %q %q", st, msg)
	}
	if st, _ := c.condition("Ready"); st != "" {
		t.Errorf("absent condition %q", st)
	}
	if c.String() != "F5SPKIngressTCP red/red-ingress" {
		t.Errorf("String %q", c)
	}
}

func TestStatusUp(t *testing.T) {
	s := &Status{}
	if s.Up() {
		t.Error("no steps is not up")
	}
	s.Steps = []StepStatus{{Step: "cluster", State: "done"}, {Step: "cni", State: "broken"}}
	if s.Up() {
		t.Error("a broken step is not up")
	}
	s.Steps[1].State = "done"
	if !s.Up() {
		t.Error("every step done is up")
	}
}

func TestStaleLabels(t *testing.T) {
	want := map[string]string{render.LabelLab: "bnk", render.LabelFRRConfig: "aaaa"}
	if why := staleLabels("infra-frr-1", want, map[string]string{render.LabelLab: "bnk", render.LabelFRRConfig: "aaaa", "other": "x"}); why != "" {
		t.Errorf("same labels (and an extra one) are stale: %s", why)
	}
	why := staleLabels("infra-frr-1", want, map[string]string{render.LabelLab: "bnk", render.LabelFRRConfig: "bbbb"})
	if !strings.Contains(why, "router infra-frr-1 runs an older FRR configuration") || !strings.Contains(why, `"aaaa"`) {
		t.Errorf("changed FRR digest: %q", why)
	}
	if why := staleLabels("infra-client-1", want, map[string]string{render.LabelFRRConfig: "aaaa"}); !strings.Contains(why, "label io.spklab.lab") {
		t.Errorf("missing lab label: %q", why)
	}
}

func TestLastLine(t *testing.T) {
	in := "node: kubectl get nodes: exit status 1: E1122 memcache.go:265 couldn't get\nE1122 again\nError from server (Forbidden): unknown\n"
	if got := lastLine(in); got != "Error from server (Forbidden): unknown" {
		t.Errorf("lastLine = %q", got)
	}
	if got := lastLine("one line"); got != "one line" {
		t.Errorf("lastLine of one line = %q", got)
	}
}

func TestInfraNetworks(t *testing.T) {
	p, err := render.ComposeProject(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	nets := wantedInfraNetworks(p)
	if len(nets) != 1 || nets[0].name != "infra_client-net" || nets[0].key != "client-net" {
		t.Fatalf("project networks %+v, want only infra_client-net", nets)
	}
	want := nets[0]
	if want.opts.Labels[render.LabelLab] != "bnk" || want.opts.Labels["com.docker.compose.project"] != "infra" ||
		want.opts.Labels["com.docker.compose.network"] != "client-net" || want.opts.Labels["com.docker.compose.config-hash"] != "" {
		t.Errorf("labels %v: want the lab's and compose's project and network labels, no config hash", want.opts.Labels)
	}
	if want.opts.IPAM == nil || len(want.opts.IPAM.Config) != 2 || want.opts.IPAM.Config[0].Subnet != "198.51.100.0/24" {
		t.Errorf("IPAM %+v", want.opts.IPAM)
	}
	made := network.Inspect{Name: want.name, Labels: maps.Clone(want.opts.Labels)}
	for _, c := range want.opts.IPAM.Config {
		made.IPAM.Config = append(made.IPAM.Config, c)
	}
	if pr := infraNetworkProblem("bnk", want, made); pr != nil {
		t.Errorf("the network as spklab makes it: %+v", pr)
	}
	byCompose := made
	byCompose.Labels = maps.Clone(made.Labels)
	byCompose.Labels["com.docker.compose.config-hash"] = "abc"
	if pr := infraNetworkProblem("bnk", want, byCompose); pr == nil || pr.foreign || !strings.Contains(pr.why, "made by compose") {
		t.Errorf("compose-made network: %+v", pr)
	}
	other := made
	other.Labels = maps.Clone(made.Labels)
	other.Labels[render.LabelLab] = "other"
	if pr := infraNetworkProblem("bnk", want, other); pr == nil || !pr.foreign || !strings.Contains(pr.why, "belongs to lab other") {
		t.Errorf("another lab's network: %+v", pr)
	}
	moved := made
	moved.IPAM.Config = []network.IPAMConfig{{Subnet: "198.51.101.0/24"}}
	if pr := infraNetworkProblem("bnk", want, moved); pr == nil || !strings.Contains(pr.why, "subnets") {
		t.Errorf("network on other subnets: %+v", pr)
	}
}

// TestNetworkFactsJudgedOnce: the networks step's verdict and its
// checkpoint line come from the same facts, so a missing annotation is
// NotDone in both words.
func TestNetworkFactsJudgedOnce(t *testing.T) {
	ep := &network.EndpointSettings{MacAddress: "02:42:c6:12:64:03", IPAddress: "198.18.100.3", IPPrefixLen: 24}
	ifc := ifaceInfo{Name: "eth2", MAC: "02:42:c6:12:64:03"}
	ifc.AddrInfo = append(ifc.AddrInfo, struct {
		Family string `json:"family"`
		Local  string `json:"local"`
		Scope  string `json:"scope"`
	}{"inet", "198.18.100.3", "global"})
	a := render.NodeAttachmentSpec{Node: "bnk-worker", Interface: "eth2", KeepAddress: true}
	f := networkFacts{nets: []netFacts{{
		dn:            render.DockerNetwork{Name: "egress-net", Attach: []render.NodeAttachmentSpec{a}},
		annotationKey: "k8s.ovn.org/node-primary-ifaddr",
		attach:        []attachFacts{{a: a, ep: ep, ifc: &ifc}},
	}}}
	st := f.status()
	if st.State != steps.NotDone || !strings.Contains(st.Reason, "annotation k8s.ovn.org/node-primary-ifaddr") {
		t.Errorf("status = %+v, want NotDone for the missing annotation", st)
	}
	cp := &Checkpoint{}
	f.items(cp)
	if len(cp.Items) != 1 || cp.Items[0].OK || !strings.Contains(cp.Items[0].Hint, "annotation k8s.ovn.org/node-primary-ifaddr on 0 of 1 nodes") {
		t.Errorf("checkpoint items = %+v, want one failing line about the annotation", cp.Items)
	}
	f.nets[0].attach[0].annotation = annotationValue(ep)
	if st := f.status(); st.State != steps.Done {
		t.Errorf("with the annotation: %+v, want Done", st)
	}
	cp = &Checkpoint{}
	f.items(cp)
	if len(cp.Items) != 1 || !cp.Items[0].OK {
		t.Errorf("with the annotation: items %+v", cp.Items)
	}
}

func TestParseNodeImages(t *testing.T) {
	out := `spklab/spk-tmm:dev {"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:aaa"}}
docker.io/calico/node:v3.30.1 {"schemaVersion":2,"config":{"digest":"sha256:bbb"}}
spklab/index:dev not json
`
	got := parseNodeImages(out, []string{"spklab/spk-tmm:dev", "calico/node:v3.30.1", "spklab/index:dev", "spklab/absent:dev"})
	want := map[string]string{"spklab/spk-tmm:dev": "sha256:aaa", "calico/node:v3.30.1": "sha256:bbb", "spklab/index:dev": ""}
	if !maps.Equal(got, want) {
		t.Errorf("parseNodeImages = %v, want %v", got, want)
	}
}
