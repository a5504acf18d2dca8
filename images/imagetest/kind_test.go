package imagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	dockerclient "github.com/docker/docker/client"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/images/cni"
	"github.com/spklab/spklab/images/kindnode"
	"github.com/spklab/spklab/images/spkimages"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/lab/kind"
	cnimanifests "github.com/spklab/spklab/manifests/cni"
)

// clusterName is the test's own kind cluster (never the lab's).
const clusterName = "spkimgtest"

// Attachment network: a docker bridge network private to the test (no
// route out, no parent NIC) that the workers get as eth1; the Multus
// attachment is a macvlan on that eth1 inside each node.
const (
	attachNetwork = "spkimgtest-net1"
	attachSubnet  = "198.18.240.0/24"
)

// TestKindClusterFromOfflineImages builds every image the kind lab's
// cluster needs from module sources and Debian packages (cached when
// current), creates a 4-node cluster from the node image with kind as a
// library, applies Calico, Multus and the CNI plugins, and checks that all
// nodes and CoreDNS become ready and that a pod gets a Multus macvlan net1.
func TestKindClusterFromOfflineImages(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LockKindClusters(t)
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Minute)
	defer cancel()
	dc, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	if _, err := dc.Ping(ctx); err != nil {
		if testenv.InCI() {
			t.Fatalf("docker: %v", err)
		}
		t.Skipf("no docker daemon: %v", err)
	}
	peak := watchMemory(ctx)

	all := catalog(t)
	start := time.Now()
	mgr := &images.Manager{Docker: dc, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	built, err := mgr.BuildMissing(ctx, all, nil)
	if err != nil {
		t.Fatalf("building images: %v", err)
	}
	for _, b := range built {
		if b.Built {
			t.Logf("built %-24s (%s) in %s", b.Name, b.Reason, b.Duration.Round(time.Second))
		}
	}
	t.Logf("images built or found current in %s", time.Since(start).Round(time.Second))
	states, err := mgr.Status(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		// The Debian base belongs to spkimages (and its tests rebuild it).
		if st.Image.Name != kindnode.DebianImage && (!st.Present || !st.Current) {
			t.Fatalf("image %s (%s) after build: present=%v current=%v", st.Image.Name, st.Image.Ref, st.Present, st.Current)
		}
		t.Logf("image %-24s %-45s %4d MB", st.Image.Name, st.Image.Ref, st.Size>>20)
	}

	removeKindNetworkIfNew(ctx, t, dc)
	provider := cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{t}))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	deleteCluster := func() {
		if err := provider.Delete(clusterName, kubeconfig); err != nil {
			t.Errorf("deleting cluster %s: %v", clusterName, err)
		}
	}
	deleteCluster() // a cluster left by a killed run
	t.Cleanup(deleteCluster)

	start = time.Now()
	err = provider.Create(clusterName,
		cluster.CreateWithV1Alpha4Config(clusterConfig()),
		cluster.CreateWithNodeImage(kindnode.RefNode),
		cluster.CreateWithKubeconfigPath(kubeconfig),
		cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
	if err != nil {
		t.Fatalf("creating kind cluster: %v", err)
	}
	t.Logf("cluster created in %s", time.Since(start).Round(time.Second))

	all4, err := provider.ListNodes(clusterName)
	if err != nil {
		t.Fatal(err)
	}
	if len(all4) != 4 {
		t.Fatalf("cluster has %d nodes, want 4", len(all4))
	}
	cp, workers := splitNodes(t, all4)

	start = time.Now()
	loadImages(ctx, t, dc, all4, []string{cni.RefCalicoNode, cni.RefCalicoCNI, cni.RefCalicoControllers, cni.RefMultus, cni.RefPlugins})
	t.Logf("CNI images loaded into 4 nodes in %s", time.Since(start).Round(time.Second))

	start = time.Now()
	for _, m := range cnimanifests.Manifests() {
		kubectl(t, cp, m.YAML, "apply", "-f", "-")
	}
	kubectl(t, cp, nil, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=300s")
	t.Logf("all nodes Ready %s after applying the CNI manifests", time.Since(start).Round(time.Second))
	kubectl(t, cp, nil, "-n", "kube-system", "rollout", "status", "deployment/coredns", "--timeout=300s")
	kubectl(t, cp, nil, "-n", "kube-system", "rollout", "status", "daemonset/kube-multus-ds", "--timeout=300s")
	kubectl(t, cp, nil, "-n", "kube-system", "rollout", "status", "daemonset/cni-plugins", "--timeout=300s")
	t.Logf("CoreDNS, Multus and the CNI plugins ready %s after applying", time.Since(start).Round(time.Second))

	attachWorkers(ctx, t, dc, workers)
	checkMacvlanAttachment(t, cp)
	t.Logf("host memory peak during the test: %d MiB used", peak()>>20)
}

// catalog is every image the cluster needs: the Debian base, the node
// image with what it is made of, and the CNI images.
func catalog(t *testing.T) []images.Image {
	t.Helper()
	spk, err := spkimages.Images(spkimages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []images.Image
	for _, img := range spk {
		if img.Name == kindnode.DebianImage {
			out = append(out, img)
		}
	}
	if len(out) != 1 {
		t.Fatalf("spkimages has no %q image", kindnode.DebianImage)
	}
	out = append(out, kindnode.Images(kindnode.Options{})...)
	return append(out, cni.Images(cni.Options{})...)
}

func clusterConfig() *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta:   v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Networking: v1alpha4.Networking{DisableDefaultCNI: true},
		Nodes:      []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
	}
	for range 3 {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole})
	}
	v1alpha4.SetDefaultsCluster(cfg)
	return cfg
}

func splitNodes(t *testing.T, all []nodes.Node) (nodes.Node, []nodes.Node) {
	t.Helper()
	var cp nodes.Node
	var workers []nodes.Node
	for _, n := range all {
		role, err := n.Role()
		if err != nil {
			t.Fatal(err)
		}
		if role == "control-plane" {
			cp = n
		} else {
			workers = append(workers, n)
		}
	}
	if cp == nil || len(workers) != 3 {
		t.Fatalf("want 1 control plane and 3 workers, got %v", all)
	}
	return cp, workers
}

// loadImages saves the images once and imports them into every node's
// containerd in parallel, as `kind load docker-image` does.
func loadImages(ctx context.Context, t *testing.T, dc *docker.Client, ns []nodes.Node, refs []string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "images.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.Save(ctx, refs, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := kind.LoadImageArchive(ns, file); err != nil {
		t.Fatal(err)
	}
}

// kubectl runs kubectl on the control-plane node with its admin
// kubeconfig (no kubectl needed on the host) and returns its stdout.
func kubectl(t *testing.T, cp nodes.Node, stdin []byte, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cp.Command("kubectl", append([]string{"--kubeconfig=/etc/kubernetes/admin.conf"}, args...)...).SetStdout(&out).SetStderr(&errb)
	if stdin != nil {
		cmd.SetStdin(bytes.NewReader(stdin))
	}
	if err := cmd.Run(); err != nil {
		dumpState(t, cp)
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// dumpState logs what the cluster looks like, for a failure's evidence.
func dumpState(t *testing.T, cp nodes.Node) {
	var out bytes.Buffer
	for _, args := range [][]string{
		{"get", "nodes", "-o", "wide"},
		{"get", "pods", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
	} {
		out.Reset()
		_ = cp.Command("kubectl", append([]string{"--kubeconfig=/etc/kubernetes/admin.conf"}, args...)...).SetStdout(&out).SetStderr(&out).Run()
		t.Logf("kubectl %s:\n%s", strings.Join(args, " "), tailLines(out.String(), 60))
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// removeKindNetworkIfNew removes, at the end, the "kind" docker network
// that kind creates for its first cluster, when it did not exist before
// (another cluster, e.g. the lab's, may be using it otherwise).
func removeKindNetworkIfNew(ctx context.Context, t *testing.T, dc *docker.Client) {
	t.Helper()
	nets, err := dc.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if n.Name == "kind" {
			return
		}
	}
	// Registered before the cluster's cleanup, so it runs after it.
	t.Cleanup(func() {
		err := dc.NetworkRemove(context.Background(), "kind")
		// Another package's cluster (tests run in parallel) may have
		// joined the network meanwhile: it is theirs to remove then.
		if err != nil && strings.Contains(err.Error(), "active endpoints") {
			t.Logf("the kind network is in use by another cluster; left for it: %v", err)
			return
		}
		if err != nil {
			t.Errorf("removing the kind network this test made: %v", err)
		}
	})
}

// attachWorkers creates the attachment network and connects every worker
// to it (eth1 in the node); both go away at the test's end, after the
// cluster (cleanups run last-registered first).
func attachWorkers(ctx context.Context, t *testing.T, dc *docker.Client, workers []nodes.Node) {
	t.Helper()
	api, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	_ = dc.NetworkRemove(ctx, attachNetwork) // left by a killed run
	if _, err := dc.NetworkCreate(ctx, docker.NetworkSpec{
		Name: attachNetwork, Subnet: netip.MustParsePrefix(attachSubnet), Internal: true,
		Labels: map[string]string{"io.spklab.test": clusterName},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, w := range workers {
			_ = api.NetworkDisconnect(ctx, attachNetwork, w.String(), true)
		}
		if err := dc.NetworkRemove(ctx, attachNetwork); err != nil {
			t.Errorf("removing network %s: %v", attachNetwork, err)
		}
	})
	for _, w := range workers {
		if err := api.NetworkConnect(ctx, attachNetwork, w.String(), &network.EndpointSettings{}); err != nil {
			t.Fatalf("connecting %s to %s: %v", w, attachNetwork, err)
		}
		var out bytes.Buffer
		if err := w.Command("ip", "-o", "link", "show", "eth1").SetStdout(&out).Run(); err != nil {
			t.Fatalf("%s has no eth1 after joining %s: %v", w, attachNetwork, err)
		}
	}
}

const attachmentYAML = `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-net1
  namespace: default
spec:
  config: |
    {
      "cniVersion": "0.4.0",
      "type": "macvlan",
      "master": "eth1",
      "mode": "bridge",
      "ipam": {"type": "host-local", "subnet": "198.18.240.0/24", "rangeStart": "198.18.240.100", "rangeEnd": "198.18.240.199"}
    }
---
apiVersion: v1
kind: Pod
metadata:
  name: net1-probe
  namespace: default
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-net1
spec:
  nodeSelector:
    node-role.kubernetes.io/worker-probe: ""
  terminationGracePeriodSeconds: 1
  containers:
    - name: probe
      image: spklab/cni-plugins:v1.6.2
      imagePullPolicy: IfNotPresent
      command: ["sleep", "infinity"]
`

// checkMacvlanAttachment runs a pod with a Multus macvlan attachment on a
// worker and checks that it has net1 with an address from the attachment's
// range (as the pod sees it and as Multus reports it).
func checkMacvlanAttachment(t *testing.T, cp nodes.Node) {
	t.Helper()
	// Pin the probe to a worker: only workers have eth1.
	worker := strings.TrimSpace(kubectl(t, cp, nil, "get", "nodes", "-l", "!node-role.kubernetes.io/control-plane", "-o", "jsonpath={.items[0].metadata.name}"))
	kubectl(t, cp, nil, "label", "node", worker, "node-role.kubernetes.io/worker-probe=", "--overwrite")
	kubectl(t, cp, []byte(attachmentYAML), "apply", "-f", "-")
	kubectl(t, cp, nil, "wait", "--for=condition=Ready", "pod/net1-probe", "--timeout=180s")

	ifaces := kubectl(t, cp, nil, "exec", "net1-probe", "--", "ls", "/sys/class/net")
	if !strings.Contains(" "+strings.Join(strings.Fields(ifaces), " ")+" ", " net1 ") {
		t.Fatalf("pod net1-probe has interfaces %q, want net1", ifaces)
	}
	status := kubectl(t, cp, nil, "get", "pod", "net1-probe", "-o", `jsonpath={.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`)
	var nets []struct {
		Name      string   `json:"name"`
		Interface string   `json:"interface"`
		IPs       []string `json:"ips"`
	}
	if err := json.Unmarshal([]byte(status), &nets); err != nil {
		t.Fatalf("network-status %q: %v", status, err)
	}
	pool := netip.MustParsePrefix(attachSubnet)
	found := false
	for _, n := range nets {
		if n.Interface != "net1" {
			continue
		}
		for _, ip := range n.IPs {
			a, err := netip.ParseAddr(ip)
			if err == nil && pool.Contains(a) && a.As4()[3] >= 100 && a.As4()[3] <= 199 {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("network-status of net1-probe has no net1 address in %s .100-.199: %s", attachSubnet, status)
	}
	t.Logf("pod net1-probe on %s: %s", worker, status)
}

// watchMemory samples the host's used memory until ctx ends and returns a
// func giving the peak so far.
func watchMemory(ctx context.Context) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	sample := func() {
		if u, err := usedMemory(); err == nil {
			mu.Lock()
			peak = max(peak, u)
			mu.Unlock()
		}
	}
	sample()
	go func() {
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// usedMemory is MemTotal - MemAvailable from /proc/meminfo, in bytes.
func usedMemory() (uint64, error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	var total, avail uint64
	for _, line := range strings.Split(string(data), "\n") {
		var v uint64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &v); err == nil {
			total = v
		}
		if _, err := fmt.Sscanf(line, "MemAvailable: %d kB", &v); err == nil {
			avail = v
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
	}
	return (total - avail) << 10, nil
}
