package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spklab/spklab/lab/kind"
)

func TestKindStepCommandsUsage(t *testing.T) {
	if _, errOut, code := run(t, t.TempDir(), "cni", "deploy", "--bogus"); code != ExitUsage {
		t.Errorf("--bogus: code %d, stderr %q", code, errOut)
	}
	// Execute turns "unknown command" into ExitUsage.
	for _, args := range [][]string{{"cluster", "create", "extra"}, {"networks", "delete", "x"}} {
		if _, errOut, code := run(t, t.TempDir(), args...); code == 0 || !strings.Contains(errOut, "unknown command") {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
	out, _, code := run(t, t.TempDir(), "attachments", "--help")
	if code != 0 || !strings.Contains(out, "create") || !strings.Contains(out, "delete") {
		t.Errorf("attachments --help: code %d\n%s", code, out)
	}
}

// TestKindStepNeedsTheStepBefore: without docker, `cni deploy` stops at
// its prerequisite and names it.
func TestKindStepNeedsTheStepBefore(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	_, errOut, code := run(t, t.TempDir(), "cni", "deploy", "--kubeconfig", filepath.Join(t.TempDir(), "kc"))
	if code != ExitProblems || !strings.Contains(errOut, "step cluster is") || !strings.Contains(errOut, "run it first") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

// TestEveryGuideStepIsACommand: the CLI's step commands come from the
// steps' own descriptions, so each step has its verb, undo verb and help.
func TestEveryGuideStepIsACommand(t *testing.T) {
	docs := kind.StepDocs()
	if len(docs) != 7 {
		t.Fatalf("%d guide steps, want 7", len(docs))
	}
	for _, sd := range docs {
		out, _, code := run(t, t.TempDir(), sd.Name, "--help")
		if code != 0 || !strings.Contains(out, sd.Verb) || !strings.Contains(out, sd.UndoVerb) || !strings.Contains(out, sd.Short) {
			t.Errorf("%s --help: code %d, want %s and %s:\n%s", sd.Name, code, sd.Verb, sd.UndoVerb, out)
		}
		out, _, code = run(t, t.TempDir(), sd.Name, sd.Verb, "--help")
		if code != 0 || !strings.Contains(out, sd.Long) {
			t.Errorf("%s %s --help: code %d, lacks the step's help:\n%s", sd.Name, sd.Verb, code, out)
		}
	}
}
