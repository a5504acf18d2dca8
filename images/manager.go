package images

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spklab/spklab/host/docker"
)

// Manager answers for a catalog of images against one Docker daemon.
type Manager struct {
	Docker *docker.Client
	Log    *slog.Logger
	// Output receives build progress; nil discards it.
	Output io.Writer
	// Jobs is how many images build at once; 0 means DefaultJobs.
	Jobs int
	// PullTimeout bounds the first pull, which tells whether any registry
	// answers; 0 means 15 s.
	PullTimeout time.Duration
}

func (m *Manager) log() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.New(slog.DiscardHandler)
}

// State is where one image stands.
type State struct {
	Image Image
	// Inputs is the hash a current image carries: its own inputs folded
	// with those of the images it needs.
	Inputs string
	// Present: an image named Ref exists. Current: it carries Inputs, or it
	// was pulled (no lab labels at a Ref that has a Pull reference: a pinned
	// upstream tag is what it names).
	Present, Current bool
	Pulled           bool
	ID               string
	Size             int64
	Created          time.Time
	// Found is the inputs label the present image carries ("" if none).
	Found string
}

// Status says, for every image, whether it is present and current.
func (m *Manager) Status(ctx context.Context, imgs []Image) ([]State, error) {
	ordered, err := Order(imgs, nil)
	if err != nil {
		return nil, err
	}
	sums, err := fullInputs(ctx, ordered)
	if err != nil {
		return nil, err
	}
	byName := map[string]State{}
	for _, img := range ordered {
		st, err := m.state(ctx, img, sums[img.Name])
		if err != nil {
			return nil, err
		}
		byName[img.Name] = st
	}
	out := make([]State, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, byName[img.Name])
	}
	return out, nil
}

func (m *Manager) state(ctx context.Context, img Image, sum string) (State, error) {
	info, err := m.Docker.ImageInspect(ctx, img.Ref)
	if err != nil {
		if docker.IsNotFound(err) {
			return judge(img, sum, nil), nil
		}
		return State{}, fmt.Errorf("image %s: %w", img.Name, err)
	}
	return judge(img, sum, &info), nil
}

// judge decides present/current from what the daemon has at img.Ref (nil:
// nothing).
func judge(img Image, sum string, info *docker.ImageInfo) State {
	st := State{Image: img, Inputs: sum}
	if info == nil {
		return st
	}
	st.Present, st.ID, st.Size, st.Created = true, info.ID, info.Size, info.Created
	st.Found = info.Labels[LabelInputs]
	_, ours := info.Labels[LabelImage]
	switch {
	case ours:
		st.Current = info.Labels[LabelImage] == img.Name && st.Found == sum
	case img.Pull != "":
		st.Current, st.Pulled = true, true
	}
	return st
}

// fullInputs computes each image's hash with its needs folded in; ordered
// must be dependency-first.
func fullInputs(ctx context.Context, ordered []Image) (map[string]string, error) {
	sums := make(map[string]string, len(ordered))
	for _, img := range ordered {
		needs := make(map[string]string, len(img.Needs))
		for _, n := range img.Needs {
			needs[n] = sums[n]
		}
		sum, err := imageInputs(ctx, img, needs)
		if err != nil {
			return nil, err
		}
		sums[img.Name] = sum
	}
	return sums, nil
}

// imageInputs is img's hash: its own inputs (which may build a binary to
// hash it) folded with the hashes of the images it needs.
func imageInputs(ctx context.Context, img Image, needs map[string]string) (string, error) {
	own, err := img.Inputs(ctx)
	if err != nil {
		return "", fmt.Errorf("image %s: inputs: %w", img.Name, err)
	}
	h := NewHash("image/v1").String("name", img.Name).String("ref", img.Ref).String("inputs", own)
	for _, n := range img.Needs {
		h.String("needs "+n, needs[n])
	}
	return h.Sum()
}

// Built is what BuildMissing did with one image.
type Built struct {
	Name     string
	Built    bool   // false: it was present and current
	Reason   string // "missing", "stale", or "" when not built
	Duration time.Duration
	ID       string
}

// DefaultJobs is how many images build at once unless Manager.Jobs says:
// two, so that one image's compile fills the cores while another downloads
// modules, runs apt, links or writes layers.
const DefaultJobs = 2

// BuildMissing builds those of the named images (all when names is empty)
// and of the images they need that are missing or stale, and nothing else;
// an image starts once every image it needs is done, at most Jobs at once.
// The first failure stops the builds still running; its error names the
// image and the failing step. The result lists what finished, in catalog
// order.
func (m *Manager) BuildMissing(ctx context.Context, imgs []Image, names []string) ([]Built, error) {
	ordered, err := Order(imgs, names)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for _, img := range imgs {
		refs[img.Name] = img.Ref
	}
	jobs := m.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
	}
	var output io.Writer
	if m.Output != nil {
		// Two builds write progress at once: whole writes, never torn ones.
		output = &lockedWriter{w: m.Output}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Hashing an image may compile its binary (the Kubernetes programs,
	// ours), so it takes a slot like a build does, and runs as soon as the
	// hashes of the images it needs are known rather than all up front.
	slots := make(chan struct{}, jobs)
	withSlot := func(f func() error) error {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		defer func() { <-slots }()
		return f()
	}
	// One turn at a time per module compiled (Image.Compiles), taken
	// before a slot so that waiting for a turn holds no slot.
	turns := map[string]*sync.Mutex{}
	for _, img := range ordered {
		if img.Compiles != "" && turns[img.Compiles] == nil {
			turns[img.Compiles] = &sync.Mutex{}
		}
	}
	inTurn := func(img Image, f func() error) error {
		if t := turns[img.Compiles]; t != nil {
			t.Lock()
			defer t.Unlock()
		}
		return withSlot(f)
	}
	type progress struct {
		hashed, finished chan struct{}
		sum              string
	}
	state := make(map[string]*progress, len(ordered))
	for _, img := range ordered {
		state[img.Name] = &progress{hashed: make(chan struct{}), finished: make(chan struct{})}
	}
	// waitAll waits until every need has closed the channel pick returns;
	// false when cancelled.
	waitAll := func(needs []string, pick func(*progress) chan struct{}) bool {
		for _, n := range needs {
			select {
			case <-pick(state[n]):
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	results := make([]*Built, len(ordered))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel(err)
		}
	}
	for i, img := range ordered {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Dependency-first order: every need has its progress, and a
			// need's sum is written before its hashed channel closes.
			if !waitAll(img.Needs, func(p *progress) chan struct{} { return p.hashed }) {
				return
			}
			needs := make(map[string]string, len(img.Needs))
			for _, n := range img.Needs {
				needs[n] = state[n].sum
			}
			me := state[img.Name]
			if err := inTurn(img, func() (err error) {
				me.sum, err = imageInputs(ctx, img, needs)
				return err
			}); err != nil {
				fail(err)
				return
			}
			close(me.hashed)
			if !waitAll(img.Needs, func(p *progress) chan struct{} { return p.finished }) {
				return
			}
			var b Built
			if err := inTurn(img, func() (err error) {
				b, err = m.buildIfNeeded(ctx, img, me.sum, refs, output)
				return err
			}); err != nil {
				fail(err)
				return
			}
			results[i] = &b
			close(me.finished)
		}()
	}
	wg.Wait()
	if firstErr == nil {
		// Interrupted from outside: what did not finish must not pass for done.
		firstErr = context.Cause(ctx)
	}
	var done []Built
	for _, b := range results {
		if b != nil {
			done = append(done, *b)
		}
	}
	return done, firstErr
}

// buildIfNeeded builds img unless the daemon holds it current.
func (m *Manager) buildIfNeeded(ctx context.Context, img Image, sum string, refs map[string]string, output io.Writer) (Built, error) {
	st, err := m.state(ctx, img, sum)
	if err != nil {
		return Built{}, err
	}
	if st.Current {
		m.log().Info("image up to date", "image", img.Name, "ref", img.Ref)
		return Built{Name: img.Name, ID: st.ID}, nil
	}
	reason := "missing"
	if st.Present {
		reason = "stale"
	}
	m.log().Info("building image", "image", img.Name, "ref", img.Ref, "reason", reason)
	start := time.Now()
	id, err := m.build(ctx, img, sum, refs, output)
	d := time.Since(start).Round(100 * time.Millisecond)
	if err != nil {
		m.log().Error("image build failed", "image", img.Name, "after", d.String())
		return Built{}, fmt.Errorf("building image %s (%s): %w", img.Name, img.Ref, err)
	}
	m.log().Info("image built", "image", img.Name, "ref", img.Ref, "took", d.String())
	if st.Present && st.ID != id {
		m.removeReplaced(ctx, img, st.ID)
	}
	return Built{Name: img.Name, Built: true, Reason: reason, Duration: d, ID: id}, nil
}

func (m *Manager) build(ctx context.Context, img Image, sum string, refs map[string]string, output io.Writer) (string, error) {
	dir, err := os.MkdirTemp("", "spklab-image-"+img.Name+"-")
	if err != nil {
		return "", err
	}
	defer func() {
		if err := removeScratch(dir); err != nil {
			m.log().Error("build directory left behind", "image", img.Name, "err", err)
		}
	}()
	needs := map[string]string{}
	for _, n := range img.Needs {
		needs[n] = refs[n]
	}
	b := &Builder{Docker: m.Docker, Log: m.log().With("image", img.Name), Image: img, Inputs: sum, Refs: needs, Dir: dir, Output: output}
	if err := img.Build(ctx, b); err != nil {
		return "", err
	}
	info, err := m.Docker.ImageInspect(ctx, img.Ref)
	if err != nil {
		return "", fmt.Errorf("the build did not leave %s: %w", img.Ref, err)
	}
	if info.Labels[LabelImage] == img.Name && info.Labels[LabelInputs] == sum {
		return info.ID, nil
	}
	// A build made by another tool (e.g. kind's node image builder) lacks
	// the labels: add them with a one-line build (no new layer).
	df := fmt.Sprintf("FROM %s\n", img.Ref)
	id, err := m.Docker.Build(ctx, docker.BuildOptions{Dockerfile: df, Tags: []string{img.Ref}, Labels: b.Labels(), Output: output})
	if err != nil {
		return "", fmt.Errorf("labelling %s: %w", img.Ref, err)
	}
	return id, nil
}

// removeReplaced removes the image a rebuild took the name from, so stale
// builds do not pile up as dangling images. One still used (a container,
// another tag, a child image) stays: the daemon refuses, which is fine.
func (m *Manager) removeReplaced(ctx context.Context, img Image, oldID string) {
	info, err := m.Docker.ImageInspect(ctx, oldID)
	if err != nil || len(info.Tags) > 0 {
		return
	}
	if err := m.Docker.ImageRemoveUnused(ctx, oldID); err != nil {
		m.log().Debug("kept the replaced image", "image", img.Name, "id", oldID, "reason", err)
	}
}

// lockedWriter serialises writes from concurrent builds.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Refs returns the images' Refs, in order.
func Refs(imgs []Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.Ref
	}
	return out
}

func joinNames(imgs []Image) string { return strings.Join(Names(imgs), ", ") }
