package runcwrap

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/doctor/capset"
	"github.com/spklab/spklab/internal/testenv"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args string
		want Invocation
	}{
		{"containerd create", "--root /run/containerd/runc/moby --log /run/b/log.json --log-format json create --bundle /run/b --pid-file /run/b/init.pid abc123",
			Invocation{Command: "create", Bundle: "/run/b"}},
		{"systemd cgroup and inline values", "--systemd-cgroup --root=/r --debug create -b=/bundle --no-pivot abc",
			Invocation{Command: "create", Bundle: "/bundle"}},
		{"create without bundle", "--root /r create --console-socket /s.sock abc",
			Invocation{Command: "create"}},
		{"single-dash flags", "-root /r create -bundle /b id",
			Invocation{Command: "create", Bundle: "/b"}},
		{"run detached", "--root /r run -d --bundle /b --keep id",
			Invocation{Command: "run", Bundle: "/b"}},
		{"containerd exec", "--root /r --log /l --log-format json exec --process /tmp/runc-process1234 --detach --pid-file /p abc",
			Invocation{Command: "exec", Process: "/tmp/runc-process1234"}},
		{"exec -p with tty", "exec -t -p=/proc.json id",
			Invocation{Command: "exec", Process: "/proc.json"}},
		// The command runc runs inside the container is not runc's flags.
		{"exec command args", "exec --tty id sh -c 'x' -p /not-ours",
			Invocation{Command: "exec"}},
		{"bundle flag after the ID is not ours", "create id --bundle /late",
			Invocation{Command: "create"}},
		{"state", "--root /r state abc", Invocation{Command: "state"}},
		{"delete --bundle is not read", "delete --force --bundle /x abc", Invocation{Command: "delete"}},
		{"version flag only", "--version", Invocation{}},
		{"nothing", "", Invocation{}},
		{"global value at the end", "--root", Invocation{}},
		{"double dash", "--root /r -- create --bundle /b id", Invocation{Command: "create", Bundle: "/b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseArgs(strings.Fields(tc.args)); got != tc.want {
				t.Errorf("ParseArgs(%s) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

// allCaps is what Docker 20.10 puts in every list for --privileged.
func allCaps() []string {
	var out []string
	for n := 0; n <= capset.LastKnown; n++ {
		out = append(out, capset.Name(n))
	}
	return out
}

// privilegedConfig is the shape of a config.json dockerd writes for a
// --privileged container (trimmed, fields kept so their survival is checked).
func privilegedConfig(t *testing.T, caps map[string][]string) []byte {
	t.Helper()
	cfg := map[string]any{
		"ociVersion": "1.0.2-dev",
		"process": map[string]any{
			"user": map[string]any{"uid": 0, "gid": 0},
			"args": []string{"/spklab-probe"},
			"env":  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"cwd":  "/", "capabilities": caps,
			"oomScoreAdj": 0, "apparmorProfile": "unconfined",
		},
		"root":     map[string]any{"path": "/var/lib/docker/overlay2/x/merged"},
		"hostname": "abc123",
		"mounts":   []any{map[string]any{"destination": "/proc", "type": "proc", "source": "proc", "options": []string{"nosuid", "noexec", "nodev"}}},
		"linux": map[string]any{
			"resources":   map[string]any{"memory": map[string]any{"limit": 9007199254740993}}, // above 2^53: must survive exactly
			"namespaces":  []any{map[string]any{"type": "mount"}, map[string]any{"type": "network"}},
			"maskedPaths": []string{},
		},
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}

// decode returns a config with its capabilities taken out, and the lists.
func decode(t *testing.T, data []byte) (rest map[string]any, caps map[string][]string) {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	if err := d.Decode(&rest); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, data)
	}
	proc, _ := rest["process"].(map[string]any)
	if proc == nil {
		return rest, nil
	}
	raw, _ := json.Marshal(proc["capabilities"])
	_ = json.Unmarshal(raw, &caps)
	delete(proc, "capabilities")
	return rest, caps
}

func TestFilterConfig(t *testing.T) {
	full := allCaps()
	vmBound, _ := capset.Parse("000001fffeffffff") // no CAP_SYS_RESOURCE
	twoMissing, _ := capset.Parse("000001fffcffffff")
	everything, _ := capset.Parse("000001ffffffffff")
	for _, tc := range []struct {
		name        string
		bound       capset.Set
		caps        map[string][]string
		wantCaps    map[string][]string
		wantRemoved []string
	}{
		{"privileged on the lab VM", vmBound,
			map[string][]string{"bounding": full, "effective": full, "inheritable": full, "permitted": full},
			map[string][]string{"bounding": without(full, "CAP_SYS_RESOURCE"), "effective": without(full, "CAP_SYS_RESOURCE"),
				"inheritable": without(full, "CAP_SYS_RESOURCE"), "permitted": without(full, "CAP_SYS_RESOURCE")},
			[]string{"CAP_SYS_RESOURCE"}},
		{"two missing, ambient too", twoMissing,
			map[string][]string{"bounding": full, "ambient": {"CAP_SYS_TIME", "CAP_CHOWN"}},
			map[string][]string{"bounding": without(full, "CAP_SYS_RESOURCE", "CAP_SYS_TIME"), "ambient": {"CAP_CHOWN"}},
			[]string{"CAP_SYS_RESOURCE", "CAP_SYS_TIME"}},
		{"default (unprivileged) caps need nothing removed", vmBound,
			map[string][]string{"bounding": {"CAP_CHOWN", "CAP_NET_RAW"}, "effective": {"CAP_CHOWN", "CAP_NET_RAW"}},
			map[string][]string{"bounding": {"CAP_CHOWN", "CAP_NET_RAW"}, "effective": {"CAP_CHOWN", "CAP_NET_RAW"}}, nil},
		{"a full bounding set removes nothing", everything,
			map[string][]string{"bounding": full}, map[string][]string{"bounding": full}, nil},
		{"unknown names are left to runc", vmBound,
			map[string][]string{"bounding": {"CAP_SYS_RESOURCE", "CAP_FROM_THE_FUTURE"}},
			map[string][]string{"bounding": {"CAP_FROM_THE_FUTURE"}}, []string{"CAP_SYS_RESOURCE"}},
		{"empty lists stay empty", vmBound,
			map[string][]string{"bounding": {}, "effective": {"CAP_SYS_RESOURCE"}},
			map[string][]string{"bounding": {}, "effective": {}}, []string{"CAP_SYS_RESOURCE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := privilegedConfig(t, tc.caps)
			out, removed, err := FilterConfig(in, tc.bound)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(removed, tc.wantRemoved) {
				t.Errorf("removed %v, want %v", removed, tc.wantRemoved)
			}
			if len(tc.wantRemoved) == 0 && string(out) != string(in) {
				t.Errorf("nothing removed but the config changed")
			}
			restIn, _ := decode(t, in)
			restOut, capsOut := decode(t, out)
			if !reflect.DeepEqual(restIn, restOut) {
				t.Errorf("fields other than capabilities changed:\n in %v\nout %v", restIn, restOut)
			}
			if !reflect.DeepEqual(capsOut, tc.wantCaps) {
				t.Errorf("capabilities\n got %v\nwant %v", capsOut, tc.wantCaps)
			}
			if !strings.Contains(string(out), "9007199254740993") {
				t.Errorf("a large number lost precision: %s", out)
			}
		})
	}
}

func TestFilterConfigEdges(t *testing.T) {
	bound, _ := capset.Parse("000001fffeffffff")
	for _, tc := range []struct {
		name, in string
		changed  bool
		wantErr  string
	}{
		{"no process", `{"ociVersion":"1.0.2"}`, false, ""},
		{"null process", `{"process":null}`, false, ""},
		{"no capabilities", `{"process":{"args":["x"]}}`, false, ""},
		{"null capabilities", `{"process":{"capabilities":null}}`, false, ""},
		{"removes", `{"process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE"]}}}`, true, ""},
		{"not JSON", `{"process":`, false, "bundle config"},
		{"list not strings", `{"process":{"capabilities":{"bounding":[1]}}}`, false, "capabilities.bounding"},
		{"process not object", `{"process":[]}`, false, "process spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, removed, err := FilterConfig([]byte(tc.in), bound)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if changed := len(removed) > 0; changed != tc.changed || (!changed && string(out) != tc.in) {
				t.Errorf("removed %v, out %s", removed, out)
			}
		})
	}
}

func TestFilterProcess(t *testing.T) {
	bound, _ := capset.Parse("000001fffeffffff")
	in := `{"terminal":false,"user":{"uid":0,"gid":0},"args":["sh"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_NET_ADMIN"],"permitted":["CAP_SYS_RESOURCE"]},"noNewPrivileges":false}`
	out, removed, err := FilterProcess([]byte(in), bound)
	if err != nil || !slices.Equal(removed, []string{"CAP_SYS_RESOURCE"}) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	var got struct {
		Terminal     *bool               `json:"terminal"`
		Args         []string            `json:"args"`
		Capabilities map[string][]string `json:"capabilities"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"bounding": {"CAP_NET_ADMIN"}, "permitted": {}}
	if !reflect.DeepEqual(got.Capabilities, want) || got.Terminal == nil || !slices.Equal(got.Args, []string{"sh"}) {
		t.Errorf("got %s", out)
	}
}

func TestFilterFileKeepsModeAndLeavesUnchangedFilesAlone(t *testing.T) {
	bound, _ := capset.Parse("000001fffeffffff")
	dir := t.TempDir()
	changed := filepath.Join(dir, "config.json")
	if err := os.WriteFile(changed, []byte(`{"process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err := FilterFile(changed, bound, FilterConfig)
	if err != nil || !slices.Equal(removed, []string{"CAP_SYS_RESOURCE"}) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	info, _ := os.Stat(changed)
	data, _ := os.ReadFile(changed)
	if info.Mode().Perm() != 0o600 || strings.Contains(string(data), "RESOURCE") || !strings.Contains(string(data), "CAP_KILL") {
		t.Errorf("mode %v, data %s", info.Mode(), data)
	}

	same := filepath.Join(dir, "process.json")
	orig := []byte(`{ "capabilities": {"bounding": ["CAP_KILL"]} }`)
	if err := os.WriteFile(same, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(same, old, old)
	if removed, err := FilterFile(same, bound, FilterProcess); err != nil || removed != nil {
		t.Fatalf("removed %v, %v", removed, err)
	}
	info, _ = os.Stat(same)
	data, _ = os.ReadFile(same)
	if !info.ModTime().Equal(old) || string(data) != string(orig) {
		t.Errorf("an unchanged file was rewritten: %v %s", info.ModTime(), data)
	}
	if _, err := FilterFile(filepath.Join(dir, "missing.json"), bound, FilterConfig); err == nil {
		t.Error("no error for a missing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left files behind: %v", entries)
	}
}

// buildWrapper builds cmd/spklab-runc into dir under the given name.
func buildWrapper(t *testing.T, dir, name string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	out, err := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spklab-runc").CombinedOutput()
	if err != nil {
		t.Fatalf("building spklab-runc: %v\n%s", err, out)
	}
	return bin
}

// TestWrapperHandsFilteredFilesToRealRunc runs the real wrapper binary with
// a bounding set lacking CAP_SYS_TIME (setpriv drops it, as the VM lacks
// CAP_SYS_RESOURCE) in front of a fake runc that records its arguments and
// the files it was given.
func TestWrapperHandsFilteredFilesToRealRunc(t *testing.T) {
	testenv.RequireRoot(t)
	setpriv := testenv.RequireTool(t, "setpriv", "util-linux")
	dir := t.TempDir()
	wrapper := buildWrapper(t, dir, WrapperName)
	seen := filepath.Join(dir, "seen")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + seen + ".args\n" +
		"[ -f \"$BUNDLE/config.json\" ] && cp \"$BUNDLE/config.json\" " + seen + ".config\n" +
		"[ -f \"$PROCESS\" ] && cp \"$PROCESS\" " + seen + ".process\nexit 7\n"
	if err := os.WriteFile(filepath.Join(dir, RealRuncLink), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	_ = os.Mkdir(bundle, 0o755)
	full := allCaps()
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), privilegedConfig(t, map[string][]string{"bounding": full, "effective": full}), 0o644); err != nil {
		t.Fatal(err)
	}
	process := filepath.Join(dir, "runc-process")
	if err := os.WriteFile(process, []byte(`{"args":["sh"],"capabilities":{"bounding":["CAP_SYS_TIME","CAP_KILL"]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(setpriv, append([]string{"--bounding-set", "-sys_time", "--", wrapper}, args...)...)
		cmd.Env = append(os.Environ(), "BUNDLE="+bundle, "PROCESS="+process)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	create := []string{"--root", "/run/x", "--log", "/run/x/log.json", "--log-format", "json", "create", "--bundle", bundle, "--pid-file", "/run/x/pid", "cid"}
	out, code := run(create...)
	if code != 7 {
		t.Fatalf("exit %d (the fake runc exits 7): %s", code, out)
	}
	args, _ := os.ReadFile(seen + ".args")
	if got := strings.Split(strings.TrimSpace(string(args)), "\n"); !slices.Equal(got, create) {
		t.Errorf("runc got args %q, want %q", got, create)
	}
	cfg, _ := os.ReadFile(seen + ".config")
	_, caps := decode(t, cfg)
	if slices.Contains(caps["bounding"], "CAP_SYS_TIME") || slices.Contains(caps["effective"], "CAP_SYS_TIME") || !slices.Contains(caps["bounding"], "CAP_SYS_ADMIN") {
		t.Errorf("runc saw capabilities %v", caps)
	}

	out, code = run("exec", "--process", process, "--detach", "cid")
	proc, _ := os.ReadFile(seen + ".process")
	if code != 7 || !strings.Contains(string(proc), "CAP_KILL") || strings.Contains(string(proc), "CAP_SYS_TIME") {
		t.Errorf("exec: exit %d %s; runc saw %s", code, out, proc)
	}

	// A broken config is not the wrapper's business: runc gets it unchanged.
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run(create...)
	cfg, _ = os.ReadFile(seen + ".config")
	if code != 7 || string(cfg) != "{broken" || !strings.Contains(out, "leaving capabilities unchanged") {
		t.Errorf("broken config: exit %d, output %q, runc saw %q", code, out, cfg)
	}
}

func TestProbePrintsCapabilities(t *testing.T) {
	bin := buildWrapper(t, t.TempDir(), ProbeName)
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	eff, _ := capset.OfProcess("self", capset.Effective)
	if !strings.HasPrefix(string(out), ProbeGreeting) || !strings.Contains(string(out), "CapEff="+eff.String()) {
		t.Errorf("probe said %q (test's CapEff %s)", out, eff)
	}
}
