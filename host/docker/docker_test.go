package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
)

// newTestClient connects to the real daemon (root: CI starts dockerd).
func newTestClient(t *testing.T) *Client {
	t.Helper()
	testenv.RequireRoot(t)
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := c.Ping(ctx)
	if err != nil {
		t.Fatalf("dockerd must be running (CI starts it): %v", err)
	}
	t.Logf("docker %s, API %s", v.Server, v.APIVersion)
	return c
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestImagesAgainstDockerd(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	ref := "spklab-test/docker-" + randomSuffix(t) + ":1"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref) })

	if ok, err := c.ImageExists(ctx, ref); err != nil || ok {
		t.Fatalf("exists before build: %v %v", ok, err)
	}
	var progress strings.Builder
	id, err := c.Build(ctx, BuildOptions{
		Dockerfile: "FROM scratch\nCOPY hello /hello\n",
		Files:      []File{{Name: "hello", Data: []byte("hi\n")}},
		Tags:       []string{ref},
		Labels:     map[string]string{"io.spklab.test": "yes"},
		Output:     &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(progress.String(), "Step 2/") {
		t.Errorf("no progress: %q", progress.String())
	}
	info, err := c.ImageInspect(ctx, ref)
	if err != nil || info.ID != id || info.Labels["io.spklab.test"] != "yes" || !slices.Contains(info.Tags, ref) || info.Created.IsZero() {
		t.Fatalf("inspect %+v, %v (built %s)", info, err, id)
	}
	labelled, err := c.ImagesWithLabel(ctx, "io.spklab.test")
	if err != nil || !slices.ContainsFunc(labelled, func(i ImageInfo) bool { return i.ID == id }) {
		t.Errorf("ImagesWithLabel: %v %v", labelled, err)
	}

	// A failing step: the error names it and carries the daemon's message.
	_, err = c.Build(ctx, BuildOptions{Dockerfile: "FROM scratch\nCOPY missing /missing\n", Tags: []string{ref + "-bad"}})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(be.Step, "COPY missing /missing") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("failing build: %v", err)
	}

	// Save, remove, load: the same image comes back under its name.
	var saved bytes.Buffer
	if err := c.Save(ctx, []string{ref}, &saved); err != nil {
		t.Fatal(err)
	}
	if err := c.ImageRemove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.ImageExists(ctx, ref); ok {
		t.Fatal("still present after remove")
	}
	loaded, err := c.Load(ctx, &saved)
	if err != nil || !slices.Contains(loaded, ref) {
		t.Fatalf("load: %v %v", loaded, err)
	}
	if again, err := c.ImageInspect(ctx, ref); err != nil || again.ID != id {
		t.Errorf("after load: %v %v", again.ID, err)
	}

	// Removing twice is fine; inspecting a missing image is NotFound.
	c.ImageRemove(ctx, ref)
	if err := c.ImageRemove(ctx, ref); err != nil {
		t.Error(err)
	}
	if _, err := c.ImageInspect(ctx, ref); !IsNotFound(err) {
		t.Errorf("want not found, got %v", err)
	}
}

func TestImportWithChanges(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	ref := "spklab-test/import-" + randomSuffix(t) + ":1"
	t.Cleanup(func() { c.ImageRemove(context.Background(), ref) })
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Mode: 0o644, Size: 3})
	tw.Write([]byte("hi\n"))
	tw.Close()
	id, err := c.Import(ctx, &rootfs, ref, []string{`LABEL io.spklab.test="imported"`, "ENV A=b"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.ImageInspect(ctx, ref)
	if err != nil || info.ID != id || info.Labels["io.spklab.test"] != "imported" {
		t.Errorf("%+v %v", info, err)
	}
}

func TestNetworks(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	name := "spklab-test-" + randomSuffix(t)
	subnet := netip.MustParsePrefix("198.51.100.0/24")
	// Only if the lab subnet is free: a running lab owns it otherwise.
	nets, err := c.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if slices.Contains(n.Subnets, subnet) {
			t.Skipf("network %s already uses %s", n.Name, subnet)
		}
	}
	id, err := c.NetworkCreate(ctx, NetworkSpec{Name: name, Subnet: subnet, Gateway: netip.MustParseAddr("198.51.100.1"),
		Internal: true, Labels: map[string]string{"io.spklab.test": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.NetworkRemove(context.Background(), id) })
	nets, err = c.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(nets, func(n Network) bool { return n.Name == name })
	if i < 0 || nets[i].Driver != "bridge" || !slices.Contains(nets[i].Subnets, subnet) || nets[i].Labels["io.spklab.test"] != "yes" {
		t.Fatalf("network not listed as made: %+v", nets)
	}
	if err := c.NetworkRemove(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.NetworkRemove(ctx, name); err != nil {
		t.Errorf("removing a removed network: %v", err)
	}
}
