package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestDoctorFlags(t *testing.T) {
	for _, args := range [][]string{
		{"doctor", "-o", "yaml"},
		{"doctor", "--fix", "--undo-runc-wrapper"},
		{"doctor", "--only", "docker,bogus"},
	} {
		if _, errOut, code := run(t, t.TempDir(), args...); code != ExitUsage {
			t.Errorf("%v: code %d, stderr %q", args, code, errOut)
		}
	}
}

// TestDoctorExitCodeFollowsBlockingChecks runs checks that need neither
// root nor docker: the exit status is 1 exactly when the report lists a
// blocking check.
func TestDoctorExitCodeFollowsBlockingChecks(t *testing.T) {
	out, errOut, code := run(t, t.TempDir(), "doctor", "--only", "inotify,kernel,memory", "-o", "json")
	var rep struct {
		OK       bool     `json:"ok"`
		Blocking []string `json:"blocking"`
		Checks   []struct {
			ID, Status, Finding string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	if len(rep.Checks) != 3 || rep.Checks[0].ID != "inotify" || rep.Checks[2].ID != "memory" || rep.Checks[1].Finding == "" {
		t.Errorf("checks %+v", rep.Checks)
	}
	wantCode := 0
	if len(rep.Blocking) > 0 {
		wantCode = ExitProblems
	}
	if code != wantCode || rep.OK != (len(rep.Blocking) == 0) {
		t.Errorf("code %d with blocking %v; stderr %q", code, rep.Blocking, errOut)
	}
}

func TestDoctorWithoutDocker(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	out, errOut, code := run(t, t.TempDir(), "doctor", "--only", "docker,privileged", "--docker-host", sock)
	if code != ExitProblems {
		t.Errorf("code %d", code)
	}
	for _, want := range []string{"docker      FAIL", "no Docker daemon answers", "privileged  WARN", "not checked: docker is not reachable",
		"1 problem(s) block the lab: docker"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "1 problem(s) block the lab: docker") {
		t.Errorf("stderr %q", errOut)
	}
}
