package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/docker"
)

func sum(t *testing.T, h *Hash) string {
	t.Helper()
	s, err := h.Sum()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHashStableAndSensitive(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bin")
	os.WriteFile(file, []byte("binary v1"), 0o755)
	sub := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(sub, "a"), 0o755)
	os.WriteFile(filepath.Join(sub, "a", "x"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(sub, "y"), []byte("y"), 0o644)

	base := func() *Hash {
		return NewHash("r/v1").String("dockerfile", "FROM x").Strings("pkgs", "a", "b").File(file).Dir(sub)
	}
	want := sum(t, base())
	if again := sum(t, base()); again != want {
		t.Fatalf("same inputs, different hashes: %s %s", want, again)
	}
	// A file's time does not matter, only its bytes.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(file, old, old)
	if got := sum(t, base()); got != want {
		t.Errorf("touching the binary changed the hash")
	}

	changed := map[string]*Hash{
		"recipe":           NewHash("r/v2").String("dockerfile", "FROM x").Strings("pkgs", "a", "b").File(file).Dir(sub),
		"string value":     NewHash("r/v1").String("dockerfile", "FROM y").Strings("pkgs", "a", "b").File(file).Dir(sub),
		"string name":      NewHash("r/v1").String("dockerfilE", "FROM x").Strings("pkgs", "a", "b").File(file).Dir(sub),
		"list boundary":    NewHash("r/v1").String("dockerfile", "FROM x").Strings("pkgs", "ab").File(file).Dir(sub),
		"list order":       NewHash("r/v1").String("dockerfile", "FROM x").Strings("pkgs", "b", "a").File(file).Dir(sub),
		"string boundary":  NewHash("r/v1").String("dockerfile", "FROM ").String("x", "").Strings("pkgs", "a", "b").File(file).Dir(sub),
		"extra field":      base().String("more", ""),
		"missing dir hash": NewHash("r/v1").String("dockerfile", "FROM x").Strings("pkgs", "a", "b").File(file),
	}
	for name, h := range changed {
		if got := sum(t, h); got == want {
			t.Errorf("%s: hash unchanged", name)
		}
	}

	// In order: each edit builds on the tree the previous one left.
	for _, e := range []struct {
		name string
		edit func() error
	}{
		{"binary bytes", func() error { return os.WriteFile(file, []byte("binary v2"), 0o755) }},
		{"tree contents", func() error { return os.WriteFile(filepath.Join(sub, "a", "x"), []byte("x2"), 0o644) }},
		{"tree exec bit", func() error { return os.Chmod(filepath.Join(sub, "y"), 0o755) }},
		{"tree new file", func() error { return os.WriteFile(filepath.Join(sub, "z"), nil, 0o644) }},
		{"tree rename", func() error { return os.Rename(filepath.Join(sub, "y"), filepath.Join(sub, "a", "y")) }},
	} {
		before := sum(t, base())
		if err := e.edit(); err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if after := sum(t, base()); after == before {
			t.Errorf("%s: hash unchanged", e.name)
		}
	}

	if _, err := NewHash("r").File(filepath.Join(dir, "missing")).String("x", "y").Sum(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing file should fail the hash naming it, got %v", err)
	}
}

func TestModuleVersion(t *testing.T) {
	ctx := context.Background()
	v, err := ModuleVersion(ctx, ".", "github.com/docker/docker")
	if err != nil || !strings.HasPrefix(v, "v28.") {
		t.Errorf("docker module version %q, %v", v, err)
	}
	if _, err := ModuleVersion(ctx, ".", "example.com/not/a/dependency"); err == nil {
		t.Error("an unknown module has no version")
	}
	a := sum(t, NewHash("r").Module(ctx, ".", "github.com/docker/docker"))
	b := sum(t, NewHash("r").Module(ctx, ".", "sigs.k8s.io/kind"))
	if a == b {
		t.Error("two modules hash the same")
	}
	if _, err := NewHash("r").Module(ctx, ".", "example.com/not/a/dependency").Sum(); err == nil {
		t.Error("Hash.Module of an unknown module should fail")
	}
}

func img(name string, needs ...string) Image {
	return Image{Name: name, Ref: "test/" + name + ":1", Needs: needs,
		Inputs: func(context.Context) (string, error) { return name, nil },
		Build:  func(context.Context, *Builder) error { return nil }}
}

func TestOrder(t *testing.T) {
	// Catalog order deliberately lists dependants before what they need.
	cat := []Image{img("app", "client", "base"), img("client", "base"), img("base"), img("other"), img("tool", "other")}
	for _, c := range []struct {
		names []string
		want  string
	}{
		{nil, "client base other tool app"},
		{[]string{"app"}, "client base app"},
		{[]string{"tool"}, "other tool"},
		{[]string{"base", "other"}, "base other"},
	} {
		got, err := Order(cat, c.names)
		if err != nil {
			t.Fatal(err)
		}
		// Dependency-first is what matters; check it and the exact set.
		pos := map[string]int{}
		for i, g := range got {
			pos[g.Name] = i
		}
		for _, g := range got {
			for _, n := range g.Needs {
				if p, ok := pos[n]; !ok || p > pos[g.Name] {
					t.Errorf("%v: %s before its need %s: %v", c.names, g.Name, n, Names(got))
				}
			}
		}
		gotSet, wantSet := strings.Fields(strings.Join(Names(got), " ")), strings.Fields(c.want)
		if len(gotSet) != len(wantSet) {
			t.Errorf("%v: got %v, want the set %v", c.names, Names(got), wantSet)
		}
		for _, w := range wantSet {
			if _, ok := pos[w]; !ok {
				t.Errorf("%v: %s missing from %v", c.names, w, Names(got))
			}
		}
	}
	// Passes over the catalog place what is ready, in catalog order.
	got, _ := Order(cat, nil)
	if strings.Join(Names(got), " ") != "base other tool client app" {
		t.Errorf("order %v", Names(got))
	}

	for name, c := range map[string]struct {
		cat   []Image
		names []string
		want  string
	}{
		"unknown name": {cat, []string{"nope"}, `no image named "nope" (known: app, client, base, other, tool)`},
		"unknown need": {[]Image{img("a", "ghost")}, nil, "image a needs ghost, which is not in the catalog"},
		"cycle":        {[]Image{img("a", "b"), img("b", "c"), img("c", "a")}, nil, "images need each other: a → b → c → a"},
		"duplicate":    {[]Image{img("a"), img("a")}, nil, "image a is in the catalog twice"},
		"no build":     {[]Image{{Name: "a", Ref: "x", Inputs: img("a").Inputs}}, nil, "image a has no Build"},
	} {
		_, err := Order(c.cat, c.names)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

func TestJudge(t *testing.T) {
	built := img("client", "base")
	pulled := img("calico")
	pulled.Pull = "docker.io/calico/node:v3.30.1"
	lab := func(name, inputs string) *docker.ImageInfo {
		return &docker.ImageInfo{ID: "sha256:1", Labels: map[string]string{LabelImage: name, LabelInputs: inputs}}
	}
	for _, c := range []struct {
		name                        string
		img                         Image
		info                        *docker.ImageInfo
		present, current, wasPulled bool
	}{
		{"missing", built, nil, false, false, false},
		{"current", built, lab("client", "h1"), true, true, false},
		{"stale inputs", built, lab("client", "h0"), true, false, false},
		{"another image's labels at this ref", built, lab("frr", "h1"), true, false, false},
		{"foreign image, build only", built, &docker.ImageInfo{ID: "sha256:2"}, true, false, false},
		{"foreign image at a pull ref", pulled, &docker.ImageInfo{ID: "sha256:2"}, true, true, true},
		{"our stale build at a pull ref", pulled, lab("calico", "h0"), true, false, false},
	} {
		st := judge(c.img, "h1", c.info)
		if st.Present != c.present || st.Current != c.current || st.Pulled != c.wasPulled {
			t.Errorf("%s: present %v current %v pulled %v", c.name, st.Present, st.Current, st.Pulled)
		}
	}
}

func TestFullInputsFoldNeeds(t *testing.T) {
	inputs := map[string]string{"base": "b1", "mid": "m1", "leaf": "l1", "other": "o1"}
	mk := func(name string, needs ...string) Image {
		i := img(name, needs...)
		i.Inputs = func(context.Context) (string, error) { return inputs[name], nil }
		return i
	}
	cat := []Image{mk("base"), mk("mid", "base"), mk("leaf", "mid"), mk("other")}
	ordered, err := Order(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := fullInputs(context.Background(), ordered)
	if err != nil {
		t.Fatal(err)
	}
	inputs["base"] = "b2"
	after, _ := fullInputs(context.Background(), ordered)
	for _, n := range []string{"base", "mid", "leaf"} {
		if before[n] == after[n] {
			t.Errorf("%s: a new base did not make it stale", n)
		}
	}
	if before["other"] != after["other"] {
		t.Error("other does not need base, yet its hash changed")
	}
	again, _ := fullInputs(context.Background(), ordered)
	for n := range again {
		if again[n] != after[n] {
			t.Errorf("%s: unstable hash", n)
		}
	}
}
