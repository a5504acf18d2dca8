package kubebin

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// recorder is a slog handler that keeps the messages, to count builds.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

const (
	msgBuilt   = "kubebin: built"
	msgWaiting = "kubebin: waiting for another process building it"
)

// fakeWrappers is a tiny module whose main prints a stamped variable: it
// builds in about a second, so the cache and lock logic can be tested
// without a real Kubernetes build.
func fakeWrappers(mainSrc string) fstest.MapFS {
	return fstest.MapFS{
		"wrappers/fake/go.mod.txt":  {Data: []byte("module example.test/fake\n\ngo 1.24\n")},
		"wrappers/fake/main.go.txt": {Data: []byte(mainSrc)},
	}
}

const fakeMain = `package main

import "fmt"

var greeting = "unstamped"

func main() { fmt.Println(greeting) }
`

func fakeCatalog() map[string]binary {
	row := func(name string) binary {
		return binary{
			name: name, version: "v0.0.1", wrapper: "fake", pkg: ".",
			stamps:     map[string]string{"main.greeting": "hello from " + name},
			dateStamps: []string{"main.buildDate"},
		}
	}
	return map[string]binary{"fake": row("fake"), "other": row("other")}
}

func newFakeBuilder(t *testing.T, root string, rec *recorder, mainSrc string) *builder {
	t.Helper()
	b, err := newBuilder(Options{CacheDir: root, Log: slog.New(rec)}, fakeCatalog(), fakeWrappers(mainSrc))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func runOutput(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	return string(out)
}

func TestFakeBuildIsStampedAndCached(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{}
	b := newFakeBuilder(t, root, rec, fakeMain)

	dir, err := b.ensure(t.Context(), []string{"fake"})
	if err != nil {
		t.Fatal(err)
	}
	if got := runOutput(t, filepath.Join(dir, "fake")); got != "hello from fake\n" {
		t.Fatalf("fake printed %q, want the stamped greeting", got)
	}
	if rec.count(msgBuilt) != 1 {
		t.Fatalf("built %d times, want 1", rec.count(msgBuilt))
	}
	fi, err := os.Stat(filepath.Join(dir, "fake"))
	if err != nil {
		t.Fatal(err)
	}

	dir2, err := b.ensure(t.Context(), []string{"fake"})
	if err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(filepath.Join(dir2, "fake"))
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir || !fi2.ModTime().Equal(fi.ModTime()) || rec.count(msgBuilt) != 1 {
		t.Fatalf("second ensure rebuilt: dir %s→%s, mtime %v→%v, builds %d", dir, dir2, fi.ModTime(), fi2.ModTime(), rec.count(msgBuilt))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, ".build-*")); len(leftovers) != 0 {
		t.Fatalf("temporary build dirs left: %v", leftovers)
	}

	// An entry whose binary went missing is rebuilt in place.
	if err := os.Remove(filepath.Join(dir, "fake")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir3, err := b.ensure(t.Context(), []string{"fake"})
	if err != nil {
		t.Fatal(err)
	}
	if got := runOutput(t, filepath.Join(dir3, "fake")); dir3 != dir || got != "hello from fake\n" || rec.count(msgBuilt) != 2 {
		t.Fatalf("after removing the binary: dir %s, output %q, builds %d", dir3, got, rec.count(msgBuilt))
	}
}

func TestConcurrentEnsureBuildsOnce(t *testing.T) {
	root := t.TempDir()
	rec := &recorder{}
	const callers = 4
	dirs := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		// One builder each, as separate processes would have; flock
		// excludes separately opened files even within one process.
		b := newFakeBuilder(t, root, rec, fakeMain)
		wg.Go(func() { dirs[i], errs[i] = b.ensure(t.Context(), []string{"fake"}) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if dirs[i] != dirs[0] {
			t.Fatalf("callers got different dirs: %v", dirs)
		}
	}
	if n := rec.count(msgBuilt); n != 1 {
		t.Fatalf("%d concurrent callers built %d times, want once", callers, n)
	}
	// The build holds the lock for the whole go build (well over the time
	// the other goroutines need to reach it), so the others must have waited.
	if rec.count(msgWaiting) == 0 {
		t.Fatalf("no caller waited for the lock: %v", rec.msgs)
	}
	if got := runOutput(t, filepath.Join(dirs[0], "fake")); got != "hello from fake\n" {
		t.Fatalf("fake printed %q", got)
	}
}

// TestConcurrentProcessesBuildOnce is the case `go test ./...` creates: two
// test processes asking for the same missing binary at once.
func TestConcurrentProcessesBuildOnce(t *testing.T) {
	if root := os.Getenv("KUBEBIN_TEST_CHILD_ROOT"); root != "" {
		log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
		b, err := newBuilder(Options{CacheDir: root, Log: log}, fakeCatalog(), fakeWrappers(fakeMain))
		if err == nil {
			var dir string
			dir, err = b.ensure(context.Background(), []string{"fake"})
			log.Info("child done", "dir", dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	root := t.TempDir()
	const children = 2
	cmds := make([]*exec.Cmd, children)
	outs := make([]*strings.Builder, children)
	for i := range children {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestConcurrentProcessesBuildOnce$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), "KUBEBIN_TEST_CHILD_ROOT="+root)
		outs[i] = &strings.Builder{}
		cmds[i].Stderr = outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	built, dirs := 0, map[string]bool{}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		for _, line := range strings.Split(outs[i].String(), "\n") {
			var rec struct{ Msg, Dir string }
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec.Msg {
			case msgBuilt:
				built++
			case "child done":
				dirs[rec.Dir] = true
			}
		}
	}
	if built != 1 || len(dirs) != 1 || dirs[""] {
		t.Fatalf("%d processes: %d builds, dirs %v; want one build and one dir\n%s\n%s", children, built, dirs, outs[0], outs[1])
	}
}

func TestSetDirHoldsEveryName(t *testing.T) {
	rec := &recorder{}
	b := newFakeBuilder(t, t.TempDir(), rec, fakeMain)
	dir, err := b.ensure(t.Context(), []string{"other", "fake", "other"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fake", "other"} {
		if got := runOutput(t, filepath.Join(dir, n)); got != "hello from "+n+"\n" {
			t.Fatalf("%s printed %q", n, got)
		}
	}
	if rec.count(msgBuilt) != 2 {
		t.Fatalf("built %d times, want 2 (duplicates ignored)", rec.count(msgBuilt))
	}
	again, err := b.ensure(t.Context(), []string{"fake", "other"})
	if err != nil || again != dir {
		t.Fatalf("second ensure: %q, %v; want %q", again, err, dir)
	}
}

func TestEntryNameFollowsInputs(t *testing.T) {
	rec := &recorder{}
	root := t.TempDir()
	base := newFakeBuilder(t, root, rec, fakeMain)
	bin := fakeCatalog()["fake"]
	name := func(b *builder, bin binary) string {
		t.Helper()
		n, err := b.entryName(bin)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := name(base, bin)
	if !strings.HasPrefix(want, "fake-v0.0.1-") || len(want) != len("fake-v0.0.1-")+12 {
		t.Fatalf("entry name %q, want fake-v0.0.1-<12 hex>", want)
	}
	// Same inputs, another builder, later: same entry (the build date stamp is not hashed).
	time.Sleep(1100 * time.Millisecond)
	if got := name(newFakeBuilder(t, root, rec, fakeMain), bin); got != want {
		t.Fatalf("same inputs gave %q and %q", want, got)
	}

	changedMod := newFakeBuilder(t, root, rec, fakeMain)
	changedMod.wrappers.(fstest.MapFS)["wrappers/fake/go.mod.txt"] = &fstest.MapFile{Data: []byte("module example.test/fake\n\ngo 1.25\n")}
	withSum := newFakeBuilder(t, root, rec, fakeMain)
	withSum.wrappers.(fstest.MapFS)["wrappers/fake/go.sum.txt"] = &fstest.MapFile{Data: []byte("example.test/x v1.0.0 h1:AAAA=\n")}
	otherStamp := bin
	otherStamp.stamps = map[string]string{"main.greeting": "changed"}
	otherPkg := bin
	otherPkg.pkg = "./cmd/x"

	for what, got := range map[string]string{
		"go.mod":  name(changedMod, bin),
		"go.sum":  name(withSum, bin),
		"main.go": name(newFakeBuilder(t, root, rec, fakeMain+"\n// changed\n"), bin),
		"stamp":   name(base, otherStamp),
		"package": name(base, otherPkg),
	} {
		if got == want {
			t.Errorf("changing the %s kept the entry name %q", what, got)
		}
	}

	// The real wrappers: kube-apiserver and etcd hash different modules.
	upstream, err := newBuilder(Options{CacheDir: root}, catalog(), wrapperFiles)
	if err != nil {
		t.Fatal(err)
	}
	api, etcd := name(upstream, catalog()["kube-apiserver"]), name(upstream, catalog()["etcd"])
	if !strings.HasPrefix(api, "kube-apiserver-v1.32.0-") || !strings.HasPrefix(etcd, "etcd-3.5.16-") {
		t.Fatalf("real entry names %q, %q", api, etcd)
	}
}

func TestBuildFailureCarriesCompilerOutput(t *testing.T) {
	root := t.TempDir()
	b := newFakeBuilder(t, root, &recorder{}, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err := b.ensure(t.Context(), []string{"fake"})
	if err == nil {
		t.Fatal("a broken wrapper built")
	}
	if !strings.Contains(err.Error(), "undefined: undefinedThing") || !strings.Contains(err.Error(), "building fake v0.0.1") {
		t.Fatalf("error lacks the compiler's message or the binary: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "fake-*", "fake")); len(left) != 0 {
		t.Fatalf("failed build left a cache entry: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(root, ".build-*")); len(left) != 0 {
		t.Fatalf("failed build left temp dirs: %v", left)
	}
}

func TestUnknownNameListsKnownOnes(t *testing.T) {
	_, err := Ensure(t.Context(), Options{CacheDir: t.TempDir()}, "kube-nope")
	if err == nil || !strings.Contains(err.Error(), `"kube-nope"`) || !strings.Contains(err.Error(), "etcd, kube-apiserver") {
		t.Fatalf("error %v should name the unknown binary and list the known ones", err)
	}
	if _, err := Ensure(t.Context(), Options{CacheDir: t.TempDir()}); err == nil {
		t.Fatal("Ensure with no names succeeded")
	}
}

func TestLockWaitEndsWithContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	waited := false
	start := time.Now()
	if _, err := lockFile(ctx, p, func() { waited = true }); err == nil {
		t.Fatal("took a lock that is held")
	}
	if !waited || time.Since(start) > 5*time.Second {
		t.Fatalf("waited=%v after %v", waited, time.Since(start))
	}
}

// TestRealBinaries builds (once per machine; minutes when cold) the real
// kube-apiserver and etcd into the user cache, checks their version stamps
// and that a cached Ensure is fast and rebuilds nothing.
func TestRealBinaries(t *testing.T) {
	rec := &recorder{}
	opts := Options{Log: slog.New(teeHandler{rec, slog.Default().Handler()})}
	start := time.Now()
	dir, err := Ensure(t.Context(), opts, EnvtestNames()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first Ensure took %v (%d built)", time.Since(start).Round(time.Millisecond), rec.count(msgBuilt))

	if out := runOutput(t, filepath.Join(dir, "kube-apiserver"), "--version"); strings.TrimSpace(out) != "Kubernetes v1.32.0" {
		t.Errorf("kube-apiserver --version = %q, want Kubernetes v1.32.0", out)
	}
	out := runOutput(t, filepath.Join(dir, "etcd"), "--version")
	if !strings.Contains(out, "etcd Version: 3.5.16\n") || !strings.Contains(out, "Git SHA: f20bbad\n") {
		t.Errorf("etcd --version = %q, want version 3.5.16 and Git SHA f20bbad", out)
	}

	stat := func() map[string]time.Time {
		m := map[string]time.Time{}
		for _, n := range EnvtestNames() {
			fi, err := os.Stat(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			m[n] = fi.ModTime()
		}
		return m
	}
	before := stat()
	builds := rec.count(msgBuilt)
	start = time.Now()
	dir2, err := Ensure(t.Context(), opts, EnvtestNames()...)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached Ensure took %v", took)
	if took > time.Second {
		t.Errorf("cached Ensure took %v, want under 1s", took)
	}
	after := stat()
	for n := range before {
		if !after[n].Equal(before[n]) {
			t.Errorf("%s rebuilt: mtime %v → %v", n, before[n], after[n])
		}
	}
	if dir2 != dir || rec.count(msgBuilt) != builds {
		t.Errorf("cached Ensure: dir %q→%q, builds %d→%d", dir, dir2, builds, rec.count(msgBuilt))
	}
}

// teeHandler records messages and still prints them, so a cold build says
// what it is doing while the test waits.
type teeHandler struct {
	rec  *recorder
	next slog.Handler
}

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }
func (h teeHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return teeHandler{h.rec, h.next.WithAttrs(a)}
}
func (h teeHandler) WithGroup(g string) slog.Handler { return teeHandler{h.rec, h.next.WithGroup(g)} }
func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	_ = h.rec.Handle(ctx, r)
	return h.next.Handle(ctx, r)
}
