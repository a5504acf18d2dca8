package hosttools

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequireNamesEachMissingProgramAndItsPackage(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "present.py")
	if err := os.WriteFile(exe, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	notExe := filepath.Join(dir, "frr-reload.py")
	if err := os.WriteFile(notExe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	tools := []Tool{
		{exe, "pkg-a", "a"},
		{notExe, "frr-pythontools", "reloads"},
		{"nginx", "nginx-light", "pods"},
		{"vtysh", "frr", "the shell"},
		{"zebra-missing", "frr", "routing"},
	}
	err := Require("the netns lab", tools)
	var me *MissingError
	if !errors.As(err, &me) || len(me.Tools) != 4 {
		t.Fatalf("Require = %v, want a MissingError with 4 tools", err)
	}
	msg := err.Error()
	for _, want := range []string{"the netns lab needs", notExe + " (frr-pythontools, for reloads)", "nginx (nginx-light, for pods)",
		"apt-get install frr frr-pythontools nginx-light"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "pkg-a") {
		t.Errorf("error %q names an installed program's package", msg)
	}
	if err := Require("x", tools[:1]); err != nil {
		t.Errorf("everything installed: %v", err)
	}
}

func TestListsNameTheReloadScriptAndTheBenchTools(t *testing.T) {
	has := func(tools []Tool, program, pkg string) bool {
		for _, tl := range tools {
			if tl.Program == program && tl.Package == pkg {
				return true
			}
		}
		return false
	}
	if !has(NetnsLab(), "/usr/lib/frr/frr-reload.py", "frr-pythontools") {
		t.Error("the netns lab's list lacks frr-reload.py from frr-pythontools")
	}
	if !has(Bench(), "iperf3", "iperf3") || !has(Bench(), "wrk", "wrk") || !has(Bench(), "nginx", "nginx-light") {
		t.Error("the bench's list lacks iperf3, wrk or the netns lab's tools")
	}
}
