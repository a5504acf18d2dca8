package images

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one image as `spklab images list` shows it.
type Row struct {
	Name    string    `json:"name"`
	Ref     string    `json:"ref"`
	Purpose string    `json:"purpose"`
	Present bool      `json:"present"`
	Current bool      `json:"current"`
	Obtain  string    `json:"obtain"` // build, or pull|build when a registry could serve it
	Pulled  bool      `json:"pulled,omitempty"`
	Inputs  string    `json:"inputs"`
	ID      string    `json:"id,omitempty"`
	Size    int64     `json:"size,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// Rows turns states into report rows.
func Rows(states []State) []Row {
	out := make([]Row, 0, len(states))
	for _, s := range states {
		out = append(out, Row{Name: s.Image.Name, Ref: s.Image.Ref, Purpose: s.Image.Purpose, Present: s.Present,
			Current: s.Current, Obtain: s.Image.HowObtained(), Pulled: s.Pulled, Inputs: s.Inputs, ID: s.ID, Size: s.Size, Created: s.Created})
	}
	return out
}

// WriteTable writes rows as an aligned table: short hashes and IDs, sizes
// in MB as docker image ls shows them, and the state in one word.
func WriteTable(w io.Writer, rows []Row) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREF\tSTATE\tOBTAIN\tINPUTS\tSIZE\tPURPOSE")
	for _, r := range rows {
		size := "-"
		if r.Present {
			size = fmt.Sprintf("%.0fMB", float64(r.Size)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Ref, r.State(), r.Obtain, short(r.Inputs), size, r.Purpose)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// An empty last column leaves trailing blanks.
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// State is one word: current, pulled, stale or missing.
func (r Row) State() string {
	switch {
	case !r.Present:
		return "missing"
	case r.Pulled:
		return "pulled"
	case r.Current:
		return "current"
	}
	return "stale"
}

func short(hash string) string {
	hash = strings.TrimPrefix(hash, "sha256:")
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
