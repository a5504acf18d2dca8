package daemonconf

import (
	"encoding/json"
	"strings"
	"testing"
)

const wrapper = "/usr/local/libexec/spklab/spklab-runc"

func mustParse(t *testing.T, s string) Config {
	t.Helper()
	c, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return c
}

func TestWithRuntimeMergesAndIsIdempotent(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		changed        bool
	}{
		{"no file", "", `{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`, true},
		{"null", "null", `{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`, true},
		{"keeps other keys and runtimes",
			`{"log-level":"warn","registry-mirrors":["https://m.example"],"runtimes":{"nvidia":{"path":"/usr/bin/nvidia-container-runtime","runtimeArgs":["--x"]}},"default-runtime":"nvidia"}`,
			`{"default-runtime":"spklab-runc","log-level":"warn","registry-mirrors":["https://m.example"],"runtimes":{"nvidia":{"path":"/usr/bin/nvidia-container-runtime","runtimeArgs":["--x"]},"spklab-runc":{"path":"` + wrapper + `"}}}`, true},
		{"already registered", `{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`,
			`{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`, false},
		{"registered elsewhere is moved", `{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"/old/spklab-runc"}}}`,
			`{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`, true},
		{"registered but not default", `{"runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`,
			`{"default-runtime":"spklab-runc","runtimes":{"spklab-runc":{"path":"` + wrapper + `"}}}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mustParse(t, tc.in)
			out, changed, err := in.WithRuntime("spklab-runc", wrapper)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed || !out.Equal(mustParse(t, tc.want)) {
				t.Errorf("changed %v, got\n%s\nwant %s", changed, out.Bytes(), tc.want)
			}
			if _, again, _ := out.WithRuntime("spklab-runc", wrapper); again {
				t.Error("applying twice changed it again")
			}
			if out.DefaultRuntime() != "spklab-runc" || out.RuntimePath("spklab-runc") != wrapper {
				t.Errorf("accessors: %q %q", out.DefaultRuntime(), out.RuntimePath("spklab-runc"))
			}
			// The input is not modified.
			if tc.changed && in.Equal(out) {
				t.Error("input config was modified in place")
			}
		})
	}
}

func TestUndoSteps(t *testing.T) {
	for _, tc := range []struct {
		name, original string
		restoreDefault string
		wantFinal      string
	}{
		{"no file before", "", "", `{}`},
		{"other keys before", `{"log-level":"warn"}`, "", `{"log-level":"warn"}`},
		{"other runtime default before", `{"runtimes":{"nvidia":{"path":"/n"}},"default-runtime":"nvidia"}`, "nvidia",
			`{"runtimes":{"nvidia":{"path":"/n"}},"default-runtime":"nvidia"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := mustParse(t, tc.original)
			installed, _, err := orig.WithRuntime("spklab-runc", wrapper)
			if err != nil {
				t.Fatal(err)
			}
			// Step 1: dockerd must be told the default is runc again.
			step := installed.WithDefaultRuntime(StockRuntime)
			if step.DefaultRuntime() != "runc" || step.RuntimePath("spklab-runc") != wrapper {
				t.Errorf("step 1: %s", step.Bytes())
			}
			// Step 2: the entry goes.
			final, err := installed.WithoutRuntime("spklab-runc", tc.restoreDefault)
			if err != nil {
				t.Fatal(err)
			}
			if !final.Equal(mustParse(t, tc.wantFinal)) || !final.Equal(orig) {
				t.Errorf("final\n%s\nwant %s", final.Bytes(), tc.wantFinal)
			}
		})
	}
}

func TestParseErrorsAndBytes(t *testing.T) {
	for _, bad := range []string{`{`, `[]`, `"x"`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
	c := mustParse(t, `{"runtimes": 3}`)
	if _, _, err := c.WithRuntime("a", "/a"); err == nil || !strings.Contains(err.Error(), "runtimes") {
		t.Errorf("runtimes not an object: %v", err)
	}
	if _, err := c.WithoutRuntime("a", ""); err == nil {
		t.Error("WithoutRuntime accepted runtimes: 3")
	}
	out := mustParse(t, `{"b":1,"a":{"x":[1,2]}}`).Bytes()
	if !strings.HasSuffix(string(out), "}\n") || !strings.Contains(string(out), "\n  \"a\": {") || !json.Valid(out) {
		t.Errorf("Bytes() = %s", out)
	}
	if mustParse(t, `{"a":1}`).Equal(mustParse(t, `{"a":2}`)) || !mustParse(t, `{"a":{"y":1, "x":2}}`).Equal(mustParse(t, `{"a":{"x":2,"y":1}}`)) {
		t.Error("Equal")
	}
}
