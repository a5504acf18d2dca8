package images

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/internal/testenv"
)

func testManager(t *testing.T) (*Manager, *bytes.Buffer) {
	t.Helper()
	testenv.RequireRoot(t)
	dc, err := docker.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := dc.Ping(ctx); err != nil {
		t.Fatalf("dockerd must be running (CI starts it): %v", err)
	}
	var log bytes.Buffer
	return &Manager{Docker: dc, Log: slog.New(slog.NewTextHandler(&log, nil))}, &log
}

// scratchImage is a tiny image FROM scratch (or FROM a need) holding one
// file whose content is its input.
func scratchImage(prefix, name string, content *string, needs ...string) Image {
	return Image{
		Name: name, Ref: prefix + name + ":1", Purpose: "test", Needs: needs,
		Inputs: func(context.Context) (string, error) { return NewHash("test/v1").String("content", *content).Sum() },
		Build: func(ctx context.Context, b *Builder) error {
			from := "scratch"
			for _, n := range needs {
				r, err := b.Ref(n)
				if err != nil {
					return err
				}
				from = r
			}
			return b.DockerBuild(ctx, "FROM "+from+"\nCOPY f /"+name+"\n", []docker.File{{Name: "f", Data: []byte(*content)}}, nil)
		},
	}
}

func built(res []Built) []string {
	var out []string
	for _, r := range res {
		if r.Built {
			out = append(out, r.Name+":"+r.Reason)
		}
	}
	return out
}

func TestManagerBuildsWhatIsMissingOrStale(t *testing.T) {
	m, log := testManager(t)
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "spklab-test/mgr-" + hex.EncodeToString(b) + "-"
	base, mid, other := "base v1", "mid v1", "other v1"
	cat := []Image{
		scratchImage(prefix, "mid", &mid, "base"),
		scratchImage(prefix, "base", &base),
		scratchImage(prefix, "other", &other),
	}
	t.Cleanup(func() {
		for _, img := range cat {
			m.Docker.ImageRemove(context.Background(), img.Ref)
		}
	})

	states, err := m.Status(ctx, cat)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if st.Present || st.Current || st.Inputs == "" {
			t.Errorf("%s before any build: %+v", st.Image.Name, st)
		}
	}

	// Asking for mid builds base first, and not other.
	res, err := m.BuildMissing(ctx, cat, []string{"mid"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(built(res), " "); got != "base:missing mid:missing" {
		t.Errorf("built %q", got)
	}
	ids := map[string]string{}
	for _, r := range res {
		ids[r.Name] = r.ID
	}
	if !strings.Contains(log.String(), "image built") || !strings.Contains(log.String(), "took=") {
		t.Errorf("no per-image timing in the log:\n%s", log.String())
	}

	// Nothing changed: nothing is built, for all of them but other.
	res, err = m.BuildMissing(ctx, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(built(res), " "); got != "other:missing" {
		t.Errorf("second build made %q", got)
	}
	for _, r := range res {
		if id, ok := ids[r.Name]; ok && r.ID != id {
			t.Errorf("%s: ID changed without a rebuild: %s → %s", r.Name, id, r.ID)
		}
	}

	// A new base makes mid stale too (its hash folds base's in); other
	// stays. The replaced images are removed.
	base = "base v2"
	states, _ = m.Status(ctx, cat)
	for _, st := range states {
		if want := st.Image.Name == "other"; st.Current != want || !st.Present {
			t.Errorf("after changing base, %s: present %v current %v", st.Image.Name, st.Present, st.Current)
		}
	}
	res, err = m.BuildMissing(ctx, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(built(res), " "); got != "mid:stale base:stale" && got != "base:stale mid:stale" {
		t.Errorf("after changing base built %q", got)
	}
	if got := strings.Join(built(res), " "); !strings.HasPrefix(got, "base") {
		t.Errorf("mid built before base: %q", got)
	}
	for _, n := range []string{"base", "mid"} {
		if ok, _ := m.Docker.ImageExists(ctx, ids[n]); ok {
			t.Errorf("the replaced %s image %s was left behind", n, ids[n])
		}
	}

	// An image of ours whose build forgot the labels gets them added.
	nolabel := "plain"
	plain := Image{Name: "plain", Ref: prefix + "plain:1", Inputs: func(context.Context) (string, error) { return nolabel, nil },
		Build: func(ctx context.Context, b *Builder) error {
			_, err := b.Docker.Build(ctx, docker.BuildOptions{Dockerfile: "FROM scratch\nCOPY f /f\n", Files: []docker.File{{Name: "f", Data: []byte("x")}}, Tags: []string{b.Image.Ref}})
			return err
		}}
	t.Cleanup(func() { m.Docker.ImageRemove(context.Background(), plain.Ref) })
	if _, err := m.BuildMissing(ctx, []Image{plain}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Status(ctx, []Image{plain}); !st[0].Current {
		t.Errorf("unlabelled build not made current: %+v", st[0])
	}

	// A failing build names the image and the step.
	broken := Image{Name: "broken", Ref: prefix + "broken:1", Inputs: func(context.Context) (string, error) { return "x", nil },
		Build: func(ctx context.Context, b *Builder) error {
			return b.DockerBuild(ctx, "FROM scratch\nCOPY nothing-here /x\n", nil, nil)
		}}
	_, err = m.BuildMissing(ctx, []Image{broken}, nil)
	if err == nil || !strings.Contains(err.Error(), "building image broken") || !strings.Contains(err.Error(), "COPY nothing-here") {
		t.Errorf("failing build error: %v", err)
	}
}

func TestManagerSaveLoadPull(t *testing.T) {
	m, _ := testManager(t)
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "spklab-test/arc-" + hex.EncodeToString(b) + "-"
	one, two := "one", "two"
	cat := []Image{scratchImage(prefix, "one", &one), scratchImage(prefix, "two", &two)}
	t.Cleanup(func() {
		for _, img := range cat {
			m.Docker.ImageRemove(context.Background(), img.Ref)
		}
	})
	dir := t.TempDir()
	if err := m.Save(ctx, filepath.Join(dir, "x.tar"), cat); err == nil || !strings.Contains(err.Error(), "not present: one, two") {
		t.Errorf("saving missing images: %v", err)
	}
	if _, err := m.BuildMissing(ctx, cat, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Status(ctx, cat)
	for _, name := range []string{"images.tar", "images.tar.gz"} {
		file := filepath.Join(dir, name)
		if err := m.Save(ctx, file, cat); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 2)
		f, _ := os.Open(file)
		f.Read(head)
		f.Close()
		if gz := head[0] == 0x1f && head[1] == 0x8b; gz != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: gzip %v", name, gz)
		}
		for _, img := range cat {
			m.Docker.ImageRemove(ctx, img.Ref)
		}
		if st, _ := m.Status(ctx, cat); st[0].Present || st[1].Present {
			t.Fatal("images still present after removal")
		}
		loaded, err := m.Load(ctx, file)
		if err != nil || len(loaded) != 2 {
			t.Fatalf("%s: loaded %v, %v", name, loaded, err)
		}
		after, _ := m.Status(ctx, cat)
		for i := range after {
			if !after[i].Current || after[i].ID != before[i].ID {
				t.Errorf("%s: %s after load: current %v id %s (was %s)", name, cat[i].Name, after[i].Current, after[i].ID, before[i].ID)
			}
		}
	}
	if _, err := m.Load(ctx, filepath.Join(dir, "absent.tar")); err == nil {
		t.Error("loading a missing file should fail")
	}

	// Pull: nothing to do for build-only images; an upstream reference
	// that no registry serves gives up at once, in one line.
	if pulled, err := m.Pull(ctx, cat); err != nil || len(pulled) != 0 {
		t.Errorf("pull of build-only images: %v %v", pulled, err)
	}
	up := scratchImage(prefix, "upstream", &one)
	up.Pull = "docker.io/library/busybox:1.36"
	t.Cleanup(func() {
		m.Docker.ImageRemove(context.Background(), up.Ref)
		m.Docker.ImageRemove(context.Background(), up.Pull)
	})
	m.PullTimeout = 10 * time.Second
	start := time.Now()
	pulled, err := m.Pull(ctx, []Image{up})
	took := time.Since(start)
	switch {
	case err == nil:
		// A registry answered (not the offline CI machine).
		if len(pulled) != 1 {
			t.Errorf("pulled %v", pulled)
		}
		if st, _ := m.Status(ctx, []Image{up}); !st[0].Current || !st[0].Pulled {
			t.Errorf("pulled image not current: %+v", st[0])
		}
	case errors.Is(err, ErrNoRegistry):
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "spklab images build") || !strings.Contains(msg, up.Pull) {
			t.Errorf("want one line naming the image and pointing at the build: %q", msg)
		}
		if took > m.PullTimeout+5*time.Second {
			t.Errorf("giving up took %v", took)
		}
		t.Logf("no registry, after %v: %s", took.Round(time.Millisecond), msg)
	default:
		t.Errorf("pull: %v", err)
	}
}

// TestManagerBuildsInParallelAfterNeeds: two images that need nothing build
// at once (each waits, bounded, for the other to start), the one needing
// both starts only after both are done, and a failure stops a build still
// running instead of waiting for it.
func TestManagerBuildsInParallelAfterNeeds(t *testing.T) {
	m, _ := testManager(t)
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "spklab-test/par-" + hex.EncodeToString(b) + "-"
	content := "v1"
	var (
		mu       sync.Mutex
		finished = map[string]bool{}
	)
	started := map[string]chan struct{}{"left": make(chan struct{}), "right": make(chan struct{})}
	other := map[string]string{"left": "right", "right": "left"}
	step := func(name string, needs ...string) Image {
		img := scratchImage(prefix, name, &content, needs...)
		build := img.Build
		img.Build = func(ctx context.Context, bl *Builder) error {
			mu.Lock()
			for _, n := range needs {
				if !finished[n] {
					t.Errorf("%s started before %s was done", name, n)
				}
			}
			mu.Unlock()
			if ch, ok := started[name]; ok {
				close(ch)
				select {
				case <-started[other[name]]:
				case <-time.After(10 * time.Second):
					return errors.New(name + ": " + other[name] + " did not start while " + name + " was building")
				}
			}
			err := build(ctx, bl)
			mu.Lock()
			finished[name] = true
			mu.Unlock()
			return err
		}
		return img
	}
	cat := []Image{step("left"), step("right"), step("top", "left", "right")}
	t.Cleanup(func() {
		for _, img := range cat {
			m.Docker.ImageRemove(context.Background(), img.Ref)
		}
	})
	m.Jobs = 2
	res, err := m.BuildMissing(ctx, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(built(res), " "); got != "left:missing right:missing top:missing" {
		t.Errorf("built %q (want catalog order)", got)
	}

	// A failure cancels the build running beside it.
	stopped := make(chan error, 1)
	slow := Image{Name: "slow", Ref: prefix + "slow:1", Inputs: func(context.Context) (string, error) { return "slow", nil },
		Build: func(ctx context.Context, _ *Builder) error {
			select {
			case <-ctx.Done():
				stopped <- ctx.Err()
				return ctx.Err()
			case <-time.After(30 * time.Second):
				stopped <- nil
				return errors.New("slow was not stopped")
			}
		}}
	broken := Image{Name: "broken", Ref: prefix + "broken:1", Inputs: func(context.Context) (string, error) { return "broken", nil },
		Build: func(ctx context.Context, _ *Builder) error {
			time.Sleep(200 * time.Millisecond)
			return errors.New("step 2 failed")
		}}
	start := time.Now()
	_, err = m.BuildMissing(ctx, []Image{slow, broken}, nil)
	if err == nil || !strings.Contains(err.Error(), "building image broken") || !strings.Contains(err.Error(), "step 2 failed") {
		t.Errorf("error %v, want broken's", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("BuildMissing waited %v for the build beside the failure", took)
	}
	if err := <-stopped; err == nil {
		t.Error("the build beside the failure was not cancelled")
	}
}

// TestManagerTakesTurnsPerModule: two images that compile the same module
// never hash or build at the same time (Go's build cache would not share
// the work), while an image of another module runs beside them.
func TestManagerTakesTurnsPerModule(t *testing.T) {
	m, _ := testManager(t)
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "spklab-test/turn-" + hex.EncodeToString(b) + "-"
	content := "v1"
	var (
		mu       sync.Mutex
		inModule int
		overlap  bool
	)
	running := func(d int) {
		mu.Lock()
		defer mu.Unlock()
		inModule += d
		if inModule > 1 {
			overlap = true
		}
	}
	sameModule := func(name string) Image {
		img := scratchImage(prefix, name, &content)
		img.Compiles = "example.com/big"
		inputs, build := img.Inputs, img.Build
		img.Inputs = func(ctx context.Context) (string, error) {
			running(1)
			defer running(-1)
			time.Sleep(300 * time.Millisecond)
			return inputs(ctx)
		}
		img.Build = func(ctx context.Context, bl *Builder) error {
			running(1)
			defer running(-1)
			time.Sleep(300 * time.Millisecond)
			return build(ctx, bl)
		}
		return img
	}
	cat := []Image{sameModule("one"), sameModule("two"), scratchImage(prefix, "other", &content)}
	t.Cleanup(func() {
		for _, img := range cat {
			m.Docker.ImageRemove(context.Background(), img.Ref)
		}
	})
	m.Jobs = 3
	if _, err := m.BuildMissing(context.Background(), cat, nil); err != nil {
		t.Fatal(err)
	}
	if overlap {
		t.Error("two images compiling the same module ran at the same time")
	}
}
