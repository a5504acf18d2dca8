package kind

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

// testCluster is the test's own lab (never the default "bnk").
const testCluster = "spksteps"

// testTopology is the default lab renamed: its own cluster name and
// network names, so it never meets the lab's (the subnets stay; every
// network is project-created). The network names keep the lab's as
// prefix: docker picks a container's gateway network partly by name, and
// the lab's names sort before "kind", which the test must exercise.
func testTopology(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Builtin("default")
	if err != nil {
		t.Fatal(err)
	}
	topo.RenameCluster(testCluster)
	for _, n := range slices.Clone(topo.Networks) {
		if n.Attach != nil {
			topo.RenameNetwork(n.Name, n.Name+"-"+testCluster)
		}
	}
	return topo
}

func TestBridgeNameFitsAndDiffers(t *testing.T) {
	a, b := BridgeName("bnk", "external-net"), BridgeName("bnk", "egress-net")
	if a == b || len(a) > 15 || !strings.HasPrefix(a, "spk-") || a != BridgeName("bnk", "external-net") {
		t.Fatalf("bridge names %q %q", a, b)
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"spklab/cni-plugins:v1.6.2":     "docker.io/spklab/cni-plugins:v1.6.2",
		"docker.io/calico/node:v3.30.1": "docker.io/calico/node:v3.30.1",
		"ghcr.io/x/multus:v4":           "ghcr.io/x/multus:v4",
		"nginx:1":                       "docker.io/library/nginx:1",
		"localhost:5000/img:tag":        "localhost:5000/img:tag",
	} {
		if got := normalizeRef(in); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
}

// snapshot is what must not change when every step is re-run.
type snapshot struct {
	Containers, Networks []string
	NADVersions          map[string]string
	Annotations          map[string]string
}

func takeSnapshot(ctx context.Context, t *testing.T, l *Lab) snapshot {
	t.Helper()
	var s snapshot
	cs, err := l.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster="+testCluster))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		s.Containers = append(s.Containers, c.ID)
	}
	nets, err := l.LabNetworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		s.Networks = append(s.Networks, n.ID)
	}
	slices.Sort(s.Containers)
	slices.Sort(s.Networks)
	out, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "get", nadResource, "-o", "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}")
	if err != nil {
		t.Fatal(err)
	}
	s.NADVersions = map[string]string{}
	for _, line := range strings.Fields(out) {
		k, v, _ := strings.Cut(line, "=")
		s.NADVersions[k] = v
	}
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Annotations = map[string]string{}
	for _, n := range kn {
		s.Annotations[n.Name] = n.Annotations["k8s.ovn.org/node-primary-ifaddr"]
	}
	return s
}

// testLab opens the test topology's lab, closed when the test ends; it
// skips without a docker daemon (fails in CI).
func testLab(ctx context.Context, t *testing.T, topo *topology.Topology) *Lab {
	t.Helper()
	l, err := New(topo, filepath.Join(t.TempDir(), "kubeconfig"), slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if _, err := l.docker.Ping(ctx); err != nil {
		if testenv.InCI() {
			t.Fatalf("docker: %v", err)
		}
		t.Skipf("no docker daemon: %v", err)
	}
	return l
}

// TestKindLabSteps runs cluster → cni → networks → attachments on its own
// lab, checks the result, re-runs every step (all already done, nothing
// changed) and destroys in reverse, checking that nothing is left.
func TestKindLabSteps(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LockKindClusters(t)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Minute)
	defer cancel()
	topo := testTopology(t)
	l := testLab(ctx, t, topo)
	for _, ref := range append([]string{topo.Images.Node}, CNIImages()...) {
		if _, err := l.docker.ImageInspect(ctx, ref); err != nil {
			t.Fatalf("image %s missing (spklab images build): %v", ref, err)
		}
	}
	removeKindNetworkIfNew(ctx, t, l)
	all := clusterSteps(t, l)
	destroy := func() {
		if _, err := (steps.Runner{Out: testWriter{t}}).Destroy(context.Background(), all); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
	destroy() // whatever a killed run left
	t.Cleanup(destroy)

	res, err := steps.Runner{Out: testWriter{t}}.Apply(ctx, all)
	if err != nil {
		dumpState(t, l)
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != steps.Applied {
			t.Errorf("first run: step %s %s (%s), want applied", r.Step, r.Action, r.Before.Reason)
		}
		t.Logf("timing: %-12s %s", r.Step, r.Duration.Round(100*time.Millisecond))
	}

	// Every node Ready.
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kn) != 4 {
		t.Fatalf("%d nodes, want 4", len(kn))
	}
	for _, n := range kn {
		if !n.Ready {
			t.Errorf("node %s not Ready", n.Name)
		}
	}
	checkWorkers(ctx, t, l)
	got, err := l.nadConfigs(ctx, topo.SPK.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	for _, nad := range render.NADs(topo) {
		if got[nad.Name] != nad.Spec.Config {
			t.Errorf("NAD %s: config %q, want %q", nad.Name, got[nad.Name], nad.Spec.Config)
		}
	}
	if len(got) != 2 {
		t.Errorf("NADs %v, want 2", got)
	}

	// Re-run: every step already done, nothing changed.
	before := takeSnapshot(ctx, t, l)
	res, err = steps.Runner{Out: testWriter{t}}.Apply(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != steps.AlreadyDone {
			t.Errorf("second run: step %s %s, want already done", r.Step, r.Action)
		}
		t.Logf("re-run check: %-12s %s", r.Step, r.Duration.Round(time.Millisecond))
	}
	after := takeSnapshot(ctx, t, l)
	if b, a := mustJSON(before), mustJSON(after); b != a {
		t.Errorf("re-run changed the lab:\nbefore %s\nafter  %s", b, a)
	}
	if len(before.Containers) != 4 || len(before.Networks) != 2 || len(before.NADVersions) != 2 {
		t.Errorf("snapshot %s: want 4 containers, 2 networks, 2 NADs", mustJSON(before))
	}

	breakAndRepair(ctx, t, l)

	// Destroy in reverse: nothing of the lab left.
	start := time.Now()
	if _, err := (steps.Runner{Out: testWriter{t}}).Destroy(ctx, all); err != nil {
		t.Fatal(err)
	}
	t.Logf("timing: destroy %s", time.Since(start).Round(100*time.Millisecond))
	left := takeDockerLeftovers(ctx, t, l)
	if left != "" {
		t.Errorf("left after destroy: %s", left)
	}
	if ok, err := l.HasKubeContext(); err != nil || ok {
		t.Errorf("kubeconfig still has %s (err %v)", l.KubeContext(), err)
	}
}

// clusterSteps are the cluster's own steps, cluster to attachments; infra,
// spk and tenants are run by the full lab test (e2e/kindlab), as they need
// the default lab's infra names.
func clusterSteps(t *testing.T, l *Lab) []steps.Step {
	t.Helper()
	all := l.Steps()[:4]
	if all[3].Name() != "attachments" {
		t.Fatalf("steps %v: want the first four to end with attachments", all)
	}
	return all
}

// takeDockerLeftovers lists containers, networks and host bridges of the lab.
func takeDockerLeftovers(ctx context.Context, t *testing.T, l *Lab) string {
	t.Helper()
	var left []string
	cs, err := l.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", "io.x-k8s.kind.cluster="+testCluster))})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	nets, err := l.docker.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if n.Labels[render.LabelLab] == testCluster || strings.Contains(n.Name, testCluster) {
			left = append(left, "network "+n.Name)
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range links {
		name := link.Attrs().Name
		if strings.HasPrefix(link.Attrs().Alias, bridgeAliasPrefix+testCluster+"/") ||
			name == BridgeName(testCluster, "external-net-"+testCluster) || name == BridgeName(testCluster, "egress-net-"+testCluster) {
			left = append(left, "link "+name)
		}
	}
	return strings.Join(left, "; ")
}

// removeKindNetworkIfNew removes at the end the "kind" docker network kind
// makes for its first cluster, when this test made it.
func removeKindNetworkIfNew(ctx context.Context, t *testing.T, l *Lab) {
	t.Helper()
	if _, err := l.docker.NetworkInspect(ctx, "kind", network.InspectOptions{}); err == nil {
		return
	}
	// Registered before the steps' cleanup, so it runs after it.
	t.Cleanup(func() {
		ctx := context.Background()
		if nw, err := l.docker.NetworkInspect(ctx, "kind", network.InspectOptions{}); err != nil || len(nw.Containers) > 0 {
			return // gone, or another cluster is on it
		}
		if err := l.docker.NetworkRemove(ctx, "kind"); err != nil {
			t.Errorf("removing the kind network this test made: %v", err)
		}
	})
}

func dumpState(t *testing.T, l *Lab) {
	for _, args := range [][]string{{"get", "nodes", "-o", "wide"}, {"get", "pods", "-A", "-o", "wide"}} {
		out, err := l.Kubectl(context.Background(), nil, args...)
		t.Logf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// testWriter sends output to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// checkWorkers: every worker has eth1 on external-net without an address
// and eth2 on egress-net whose addresses are the node annotation.
func checkWorkers(ctx context.Context, t *testing.T, l *Lab) {
	t.Helper()
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	annotations := map[string]string{}
	for _, n := range kn {
		annotations[n.Name] = n.Annotations["k8s.ovn.org/node-primary-ifaddr"]
	}
	for _, w := range l.Topo.Cluster.Workers() {
		n, err := l.node(w)
		if err != nil {
			t.Fatal(err)
		}
		ifs, err := nodeIfaces(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]ifaceInfo{}
		for _, i := range ifs {
			byName[i.Name] = i
		}
		eth1, ok1 := byName["eth1"]
		eth2, ok2 := byName["eth2"]
		if !ok1 || !ok2 {
			t.Fatalf("%s has no eth1/eth2: %+v", w, ifs)
		}
		ext, err := l.endpoint(ctx, w, "external-net-"+testCluster)
		if err != nil || ext == nil || !strings.EqualFold(ext.MacAddress, eth1.MAC) {
			t.Errorf("%s: eth1 (%s) is not its external-net endpoint (%+v, %v)", w, eth1.MAC, ext, err)
		}
		if a := eth1.globalAddrs(""); len(a) != 0 {
			t.Errorf("%s eth1 has %v, want no address", w, a)
		}
		var ann struct{ IPv4, IPv6 string }
		if err := json.Unmarshal([]byte(annotations[w]), &ann); err != nil {
			t.Fatalf("%s annotation %q: %v", w, annotations[w], err)
		}
		v4, v6 := eth2.globalAddrs("inet"), eth2.globalAddrs("inet6")
		a4, _, _ := strings.Cut(ann.IPv4, "/")
		a6, _, _ := strings.Cut(ann.IPv6, "/")
		if len(v4) != 1 || v4[0] != a4 || !strings.HasPrefix(a4, "198.18.100.") || len(v6) != 1 || v6[0] != a6 {
			t.Errorf("%s eth2 has %v %v, annotation %q", w, v4, v6, annotations[w])
		}
		for _, dn := range render.DockerNetworks(l.Topo) {
			for _, a := range dn.Attach {
				if a.Node != w || a.Interface != "eth2" {
					continue
				}
				if a.IPv4 != a4 {
					t.Errorf("%s eth2 %s, the topology pins %s", w, a4, a.IPv4)
				}
			}
		}
		// The node's default routes stay on the kind network (eth0).
		for _, fam := range []string{"-4", "-6"} {
			out, err := run(ctx, n, nil, "ip", fam, "route", "show", "default")
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(out) != "" && !strings.Contains(out, "dev eth0") {
				t.Errorf("%s: default route %s not via eth0: %s", w, fam, out)
			}
		}
		t.Logf("%s: eth1 %v, eth2 %v %v, annotation %s", w, eth1.globalAddrs(""), v4, v6, annotations[w])
	}
}

// breakAndRepair undoes parts of the networks step as an interrupted or
// meddled-with run would leave them — a worker connected in the wrong
// order (egress-net came up as eth1), an annotation removed, rp_filter back
// on — and checks that the step sees it and a re-run converges.
func breakAndRepair(ctx context.Context, t *testing.T, l *Lab) {
	t.Helper()
	w := l.Topo.Cluster.Workers()[0]
	for _, nw := range []string{"external-net-" + testCluster, "egress-net-" + testCluster} {
		if err := l.docker.NetworkDisconnect(ctx, nw, w, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.docker.NetworkConnect(ctx, "egress-net-"+testCluster, w, &network.EndpointSettings{}); err != nil {
		t.Fatal(err)
	}
	w2 := l.Topo.Cluster.Workers()[1]
	if _, err := l.Kubectl(ctx, nil, "annotate", "node", w2, "k8s.ovn.org/node-primary-ifaddr-"); err != nil {
		t.Fatal(err)
	}
	cp, err := l.controlPlane()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(ctx, cp, nil, "sysctl", "-w", "net.ipv4.conf.all.rp_filter=1"); err != nil {
		t.Fatal(err)
	}
	if st := (NetworksStep{l}).Check(ctx); st.State == steps.Done {
		t.Fatalf("networks check after breaking it: %v %s", st.State, st.Reason)
	}
	res, err := steps.Runner{Out: testWriter{t}}.Apply(ctx, clusterSteps(t, l))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		want := steps.AlreadyDone
		if r.Step == "networks" {
			want = steps.Applied
		}
		if r.Action != want {
			t.Errorf("repair run: step %s %s (%s), want %s", r.Step, r.Action, r.Before.Reason, want)
		}
	}
	checkWorkers(ctx, t, l)
	if out, err := run(ctx, cp, nil, "sysctl", "-n", "net.ipv4.conf.all.rp_filter"); err != nil || strings.TrimSpace(out) != "0" {
		t.Errorf("rp_filter after repair: %q %v", out, err)
	}
}

// TestAnotherLabsInfraIsLeftAlone: the compose project name ("infra") is
// the same for every lab, so a lab's down and leftovers must not take the
// project's network while another lab's container is in the project.
func TestAnotherLabsInfraIsLeftAlone(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LockKindClusters(t) // other tests' labs use the same project
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	topo := testTopology(t)
	l := testLab(ctx, t, topo)
	if _, err := l.docker.ImageInspect(ctx, topo.Images.Client); err != nil {
		t.Fatalf("image %s missing (spklab images build): %v", topo.Images.Client, err)
	}
	netName := topo.Infra.Project + "_client-net"
	if _, err := l.docker.NetworkInspect(ctx, netName, network.InspectOptions{}); err == nil {
		if testenv.InCI() {
			t.Fatalf("network %s exists before the test (a lab left over?): the test makes its own", netName)
		}
		t.Skipf("network %s exists already (a lab is up): this test makes its own", netName)
	}
	otherLab := map[string]string{composeProjectLabel: topo.Infra.Project, render.LabelLab: "spkother"}
	// Internal, and docker picks the subnet: nothing routes anywhere.
	n, err := l.docker.NetworkCreate(ctx, netName, network.CreateOptions{Internal: true, Labels: map[string]string{composeProjectLabel: topo.Infra.Project}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.docker.NetworkRemove(context.Background(), n.ID) })
	c, err := l.docker.ContainerCreate(ctx, &container.Config{Image: topo.Images.Client, Labels: otherLab},
		&container.HostConfig{NetworkMode: container.NetworkMode(netName)}, nil, nil, "spkother-infra-client-1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l.docker.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	})

	left, err := l.Leftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range left {
		if strings.Contains(s, netName) || strings.Contains(s, "spkother") {
			t.Errorf("lab %s lists another lab's %s as its leftover", testCluster, s)
		}
	}
	if err := (InfraStep{l}).Destroy(ctx); err != nil {
		t.Fatalf("infra destroy: %v", err)
	}
	if _, err := l.docker.NetworkInspect(ctx, netName, network.InspectOptions{}); err != nil {
		t.Errorf("lab %s's infra destroy removed another lab's network %s: %v", testCluster, netName, err)
	}
	if _, err := l.docker.ContainerInspect(ctx, c.ID); err != nil {
		t.Errorf("lab %s's infra destroy removed another lab's container: %v", testCluster, err)
	}
}
