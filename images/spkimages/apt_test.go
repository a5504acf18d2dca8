package spkimages

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHostAptSources(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"etc/apt/sources.list": "# deb http://old.invalid/debian bookworm main\n" +
			"deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://one.invalid/debian bookworm-backports main contrib\n" +
			"deb-src http://one.invalid/debian bookworm main\n",
		"etc/apt/sources.list.d/debian.sources": "Types: deb\n# http://snapshot.invalid/archive/debian/20250520T000000Z\nURIs: http://mirror.invalid/debian\n" +
			"Suites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n" +
			"Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n",
		"etc/apt/sources.list.d/thirdparty.sources": "Types: deb\nURIs: https://vendor.invalid/apt\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/vendor.gpg\n",
		"etc/apt/sources.list.d/off.sources":        "Enabled: no\nTypes: deb\nURIs: http://off.invalid/debian\nSuites: bookworm\n",
		"etc/apt/sources.list.d/old.list.disabled":  "deb http://disabled.invalid/debian bookworm main\n",
		"etc/apt/apt.conf.d/99snapshot":             "Acquire::Check-Valid-Until \"false\";\n// comment\nAPT::Other \"1\";\n",
		"etc/apt/apt.conf.d/01proxy":                "Acquire::http::Proxy \"http://proxy.invalid:3128\";\n",
	})
	got, err := hostAptSources(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []aptSource{
		{URI: "http://one.invalid/debian", Suites: []string{"bookworm-backports"}, Components: []string{"main", "contrib"}, SignedBy: debianKeyring},
		{URI: "http://mirror.invalid/debian", Suites: []string{"bookworm", "bookworm-updates"}, Components: []string{"main"}, SignedBy: debianKeyring},
		{URI: "http://mirror.invalid/debian-security", Suites: []string{"bookworm-security"}, Components: []string{"main"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sources\n got %+v\nwant %+v", got, want)
	}
	mirror, err := mirrorFor(got, "bookworm")
	if err != nil || mirror != "http://mirror.invalid/debian" {
		t.Errorf("mirror %q %v", mirror, err)
	}
	if _, err := mirrorFor(got, "trixie"); err == nil || !strings.Contains(err.Error(), "no Debian trixie mirror") {
		t.Errorf("missing suite: %v", err)
	}
	text := deb822(got)
	if !strings.Contains(text, "URIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: "+debianKeyring) ||
		strings.Contains(text, "vendor") || strings.Count(text, "Types: deb") != 3 {
		t.Errorf("deb822:\n%s", text)
	}
	acq, err := hostAcquireOptions(root)
	if err != nil || acq != "Acquire::http::Proxy \"http://proxy.invalid:3128\";\nAcquire::Check-Valid-Until \"false\";\n" {
		t.Errorf("acquire %q %v", acq, err)
	}

	empty := t.TempDir()
	if s, err := hostAptSources(empty); err != nil || len(s) != 0 {
		t.Errorf("no apt config: %v %v", s, err)
	}
	if a, err := hostAcquireOptions(empty); err != nil || a != "" {
		t.Errorf("no apt settings: %q %v", a, err)
	}
}

func TestFindSource(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := FindSource(wd)
	if err != nil || !isSpklabModule(filepath.Join(root, "go.mod")) || !strings.HasPrefix(wd, root) {
		t.Errorf("%q %v", root, err)
	}
	other := t.TempDir()
	writeFiles(t, other, map[string]string{"go.mod": "module example.com/other\n", "sub/x": ""})
	if _, err := FindSource(filepath.Join(other, "sub")); err == nil || !strings.Contains(err.Error(), "spklab source tree") {
		t.Errorf("outside the tree: %v", err)
	}
}

func TestCatalogShape(t *testing.T) {
	imgs, err := Images(Options{SrcDir: "/nonexistent", BinDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
		if img.Ref == "" || img.Purpose == "" || img.Pull != "" {
			t.Errorf("%s: %+v", img.Name, img)
		}
	}
	if got := strings.Join(names, " "); got != "debian frr client syslog spk-tmm spk-controller spk-node" {
		t.Errorf("catalog %q", got)
	}
	// A separate app ref adds an app image of the client's recipe.
	refs := DefaultRefs()
	refs.App = "example/app:1"
	imgs, _ = Images(Options{Refs: refs, BinDir: t.TempDir()})
	if imgs[3].Name != App || imgs[3].Ref != "example/app:1" {
		t.Errorf("app image: %+v", imgs[3])
	}
	// Without the source tree, our images' inputs say what is missing.
	imgs, _ = Images(Options{SrcDir: "/nonexistent", BinDir: t.TempDir()})
	for _, img := range imgs {
		if img.Name != TMM {
			continue
		}
		if _, err := img.Inputs(t.Context()); err == nil || !strings.Contains(err.Error(), "go build ./cmd/spk-tmm") {
			t.Errorf("inputs without a source tree: %v", err)
		}
	}
}
