package docker

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/build"
)

// File is one entry of a build context: its bytes come from Data, or from
// the host file at Path when Data is nil.
type File struct {
	Name string      // path inside the context, slash-separated
	Mode os.FileMode // permission bits; 0 means 0644
	Data []byte
	Path string
}

// BuildOptions describe one classic (non-BuildKit) docker build.
type BuildOptions struct {
	Dockerfile string            // the Dockerfile text (added to the context as "Dockerfile")
	Files      []File            // the rest of the context
	Tags       []string          // names for the result
	Labels     map[string]string // labels added to the result
	BuildArgs  map[string]string
	// Output, when set, receives the build's progress lines as they come.
	Output io.Writer
}

// BuildError is a failed build: the step that failed, what it printed and
// the daemon's message.
type BuildError struct {
	Step    string // e.g. "Step 3/5 : RUN apt-get install -y frr"
	Output  string // the last lines that step printed
	Message string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Output != "" {
		b.WriteString("\n")
		b.WriteString(e.Output)
	}
	return b.String()
}

// Build runs a docker build and returns the ID of the image it made.
func (c *Client) Build(ctx context.Context, o BuildOptions) (string, error) {
	files := append([]File{{Name: "Dockerfile", Data: []byte(o.Dockerfile)}}, o.Files...)
	tarball := TarReader(files)
	defer tarball.Close()
	args := make(map[string]*string, len(o.BuildArgs))
	for k, v := range o.BuildArgs {
		args[k] = &v
	}
	resp, err := c.api.ImageBuild(ctx, tarball, build.ImageBuildOptions{
		Tags:        o.Tags,
		Labels:      o.Labels,
		BuildArgs:   args,
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return "", fmt.Errorf("docker build %s: %w", strings.Join(o.Tags, ","), err)
	}
	defer resp.Body.Close()
	id, err := followStream(resp.Body, o.Output)
	if err == nil && id == "" {
		err = errors.New("build output ended without an image ID")
	}
	if err != nil {
		return "", fmt.Errorf("docker build %s: %w", strings.Join(o.Tags, ","), err)
	}
	return id, nil
}

// buildMessage is one JSON line of the build (and pull/load/import) stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Progress    string `json:"progress"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// keepLines is how many lines of a failing step an error carries.
const keepLines = 30

// followStream follows a JSON progress stream (build, pull, load, import),
// copying its text to out, and returns the image ID a build reports or a
// BuildError naming the step that failed.
func followStream(r io.Reader, out io.Writer) (string, error) {
	var (
		id, step string
		lines    []string
		partial  string
	)
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("reading build output: %w", err)
		}
		if m.Error != "" || m.ErrorDetail != nil {
			msg := m.Error
			if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
				msg = m.ErrorDetail.Message
			}
			if partial != "" {
				lines = append(lines, partial)
			}
			return "", &BuildError{Step: step, Output: strings.Join(tail(lines, keepLines), "\n"), Message: msg}
		}
		if len(m.Aux) > 0 {
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
		text := m.Stream
		if text == "" && m.Status != "" {
			text = strings.TrimSpace(m.ID+" "+m.Status) + "\n"
		}
		if text == "" {
			continue
		}
		if out != nil {
			io.WriteString(out, text)
		}
		// Stream chunks need not end at line breaks: keep the unfinished one.
		text = partial + text
		parts := strings.Split(text, "\n")
		partial = parts[len(parts)-1]
		for _, l := range parts[:len(parts)-1] {
			if strings.HasPrefix(l, "Step ") {
				step, lines = l, nil
				continue
			}
			if strings.HasPrefix(l, "Successfully built ") && id == "" {
				id = strings.TrimPrefix(l, "Successfully built ")
			}
			lines = tail(append(lines, l), keepLines)
		}
	}
	return id, nil
}

func tail(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// TarReader streams files as a tar archive (a build context). The caller
// closes it; an unreadable file fails the read with the file's name.
func TarReader(files []File) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, files)) }()
	return pr
}

func writeTar(w io.Writer, files []File) error {
	tw := tar.NewWriter(w)
	// A fixed time keeps the context's bytes, and so the build cache, stable.
	mtime := time.Unix(0, 0)
	for _, f := range files {
		mode := f.Mode.Perm()
		if mode == 0 {
			mode = 0o644
		}
		var src io.Reader
		size := int64(len(f.Data))
		if f.Data == nil && f.Path != "" {
			h, err := os.Open(f.Path)
			if err != nil {
				return fmt.Errorf("build context file %s: %w", f.Name, err)
			}
			defer h.Close()
			st, err := h.Stat()
			if err != nil {
				return fmt.Errorf("build context file %s: %w", f.Name, err)
			}
			src, size = h, st.Size()
		} else {
			src = strings.NewReader(string(f.Data))
		}
		hdr := &tar.Header{Name: f.Name, Mode: int64(mode), Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("build context file %s: %w", f.Name, err)
		}
		if n, err := io.Copy(tw, src); err != nil || n != size {
			return fmt.Errorf("build context file %s: copied %d of %d bytes: %v", f.Name, n, size, err)
		}
	}
	return tw.Close()
}
