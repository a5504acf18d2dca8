package kind

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/internal/testenv"
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

// testWriter sends output to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
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
