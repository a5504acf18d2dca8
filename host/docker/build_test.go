package docker

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFollowStreamSuccess(t *testing.T) {
	stream := `{"stream":"Step 1/2 : FROM scratch\n"}
{"stream":" ---\u003e \n"}
{"stream":"Step 2/2 : COPY a /a\n"}
{"stream":" ---\u003e 1234567890ab\n"}
{"aux":{"ID":"sha256:1234567890abcdef"}}
{"stream":"Successfully built 1234567890ab\n"}
`
	var out strings.Builder
	id, err := followStream(strings.NewReader(stream), &out)
	if err != nil || id != "sha256:1234567890abcdef" {
		t.Fatalf("id %q err %v", id, err)
	}
	if !strings.Contains(out.String(), "Step 2/2 : COPY a /a\n") {
		t.Errorf("progress not copied: %q", out.String())
	}
	// Without an aux message, "Successfully built" gives the ID.
	id, err = followStream(strings.NewReader(`{"stream":"Successfully built abc\n"}`), nil)
	if err != nil || id != "abc" {
		t.Errorf("id %q err %v", id, err)
	}
}

func TestFollowStreamFailureNamesTheStep(t *testing.T) {
	// Output split mid-line, as the daemon sends it.
	stream := `{"stream":"Step 1/3 : FROM spklab/debian:bookworm\n"}
{"stream":" ---\u003e 1bcd8ec5f8eb\n"}
{"stream":"Step 2/3 : RUN apt-get install -y nosuchpkg\n"}
{"stream":" ---\u003e Running in 0f1e\n"}
{"stream":"Reading package lists..."}
{"stream":"\nE: Unable to locate "}
{"stream":"package nosuchpkg\n"}
{"errorDetail":{"code":100,"message":"The command '/bin/sh -c apt-get install -y nosuchpkg' returned a non-zero code: 100"},"error":"The command '/bin/sh -c apt-get install -y nosuchpkg' returned a non-zero code: 100"}
`
	_, err := followStream(strings.NewReader(stream), nil)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want a BuildError, got %v", err)
	}
	if be.Step != "Step 2/3 : RUN apt-get install -y nosuchpkg" {
		t.Errorf("step %q", be.Step)
	}
	if !strings.Contains(be.Output, "E: Unable to locate package nosuchpkg") || strings.Contains(be.Output, "1bcd8ec5f8eb") {
		t.Errorf("output should be the failing step's only: %q", be.Output)
	}
	if !strings.Contains(be.Error(), "returned a non-zero code: 100") || !strings.HasPrefix(be.Error(), "Step 2/3") {
		t.Errorf("error %q", be.Error())
	}
}

func TestFollowStreamKeepsTheLastLines(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"stream":"Step 1/1 : RUN noisy\n"}` + "\n")
	for i := 0; i < 100; i++ {
		b.WriteString(`{"stream":"line ` + strings.Repeat("x", i%3) + `\n"}` + "\n")
	}
	b.WriteString(`{"stream":"the last words\n"}` + "\n")
	b.WriteString(`{"error":"boom"}` + "\n")
	_, err := followStream(strings.NewReader(b.String()), nil)
	var be *BuildError
	if !errors.As(err, &be) || be.Message != "boom" {
		t.Fatalf("%v", err)
	}
	lines := strings.Split(be.Output, "\n")
	if len(lines) != keepLines || lines[len(lines)-1] != "the last words" {
		t.Errorf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestFollowStreamBadJSON(t *testing.T) {
	if _, err := followStream(strings.NewReader(`{"stream":`), nil); err == nil {
		t.Error("truncated JSON should fail")
	}
}

func TestTarReader(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "bin")
	os.WriteFile(host, []byte("#!/bin/sh\necho hi\n"), 0o600)
	r := TarReader([]File{
		{Name: "Dockerfile", Data: []byte("FROM scratch\n")},
		{Name: "bin/tool", Mode: 0o755, Path: host},
		{Name: "empty", Data: []byte{}},
	})
	defer r.Close()
	tr := tar.NewReader(r)
	want := map[string]struct {
		mode int64
		data string
	}{
		"Dockerfile": {0o644, "FROM scratch\n"},
		"bin/tool":   {0o755, "#!/bin/sh\necho hi\n"},
		"empty":      {0o644, ""},
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		w, ok := want[h.Name]
		if !ok || h.Mode != w.mode || string(b) != w.data || h.ModTime.Unix() != 0 {
			t.Errorf("%s: mode %o data %q time %v", h.Name, h.Mode, b, h.ModTime)
		}
		delete(want, h.Name)
	}
	if len(want) > 0 {
		t.Errorf("missing entries %v", want)
	}

	bad := TarReader([]File{{Name: "gone", Path: filepath.Join(dir, "nope")}})
	defer bad.Close()
	if _, err := io.ReadAll(bad); err == nil || !strings.Contains(err.Error(), "build context file gone") {
		t.Errorf("a missing file should fail the read naming it, got %v", err)
	}
}
