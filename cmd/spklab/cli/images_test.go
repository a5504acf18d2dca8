package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spklab/spklab/internal/testenv"
)

func TestImagesUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"images", "list", "-o", "yaml"}, ExitUsage, `-o "yaml": this command writes table or json`},
		{[]string{"images", "save"}, ExitUsage, "requires at least 1 arg"},
		{[]string{"images", "load"}, ExitUsage, "accepts 1 arg"},
		{[]string{"images", "list", "--topology", "nope"}, ExitUsage, "--topology"},
	} {
		_, errOut, code := run(t, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: code %d, stderr %q", c.args, code, errOut)
		}
	}
	out, _, code := run(t, "", "images")
	for _, sub := range []string{"list", "build", "pull", "save", "load"} {
		if code != 0 || !strings.Contains(out, "  "+sub+" ") {
			t.Errorf("images help lacks %s (code %d):\n%s", sub, code, out)
		}
	}
}

// TestImagesBuildSaveLoad drives the CLI against dockerd with the smallest
// of our images (spk-node, FROM scratch): build, no-change build, save and
// load; the image framework's own tests cover the rest.
func TestImagesBuildSaveLoad(t *testing.T) {
	testenv.RequireRoot(t)
	out, errOut, code := run(t, "", "images", "build", "spk-node")
	if code != 0 || !strings.Contains(out, "spk-node") {
		t.Fatalf("build: code %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "", "images", "build", "spk-node")
	if code != 0 || !strings.Contains(out, "spk-node  up to date") || !strings.Contains(out, "0 built, 1 up to date") {
		t.Errorf("no-change build: code %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = run(t, "", "images", "build", "no-such-image")
	if code != ExitProblems || !strings.Contains(errOut, `no image named "no-such-image"`) || !strings.Contains(errOut, "spk-tmm") {
		t.Errorf("unknown image: code %d %q", code, errOut)
	}

	file := filepath.Join(t.TempDir(), "node.tar.gz")
	out, errOut, code = run(t, "", "images", "save", file, "spk-node")
	if code != 0 || !strings.Contains(out, "saved 1 images to "+file) {
		t.Fatalf("save: code %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "", "images", "load", file)
	if code != 0 || out != "loaded spklab/spk-node:dev\n" {
		t.Errorf("load: code %d\n%q\n%s", code, out, errOut)
	}
	_, errOut, code = run(t, "", "images", "load", file+".missing")
	if code != ExitProblems || !strings.Contains(errOut, "no such file") {
		t.Errorf("loading a missing file: code %d %q", code, errOut)
	}
}
