package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// MarshalJSON adds the duration in milliseconds (to the microsecond).
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		DurationMS float64 `json:"durationMs"`
	}{plain(r), millis(r.Duration)})
}

// WriteJSON writes the report as indented JSON (for CI): every check, the
// IDs of the blocking ones and ok when there are none.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		OK         bool     `json:"ok"`
		Blocking   []string `json:"blocking"`
		Fix        bool     `json:"fix"`
		DurationMS float64  `json:"durationMs"`
		Checks     []Result `json:"checks"`
	}{len(r.Blocking()) == 0, nonNil(r.Blocking()), r.Fix, millis(r.Duration), r.Checks})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// statusWord is how the table shows a status: problems in capitals.
func statusWord(s Status) string {
	switch s {
	case StatusFail:
		return "FAIL"
	case StatusWarn:
		return "WARN"
	}
	return string(s)
}

// WriteTable writes the report for a student: one line per check, then
// each problem (and each fix) explained, then what to do next.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tTIME\tFINDING")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, statusWord(c.Status), roundDuration(c.Duration), c.Finding)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var warnings []string
	for _, c := range r.Checks {
		if c.Status == StatusOK {
			continue
		}
		if c.Status == StatusWarn {
			warnings = append(warnings, c.ID)
		}
		fmt.Fprintf(&b, "\n%s — %s: %s\n", c.ID, c.Title, statusWord(c.Status))
		if c.Explanation != "" {
			wrap(&b, "  Why: ", c.Explanation)
		}
		if c.Fix != "" {
			label := "  Fix: "
			if c.Status == StatusFixed {
				label = "  Done: "
			}
			wrap(&b, label, c.Fix)
		}
	}
	b.WriteString("\n")
	blocking := r.Blocking()
	switch {
	case len(blocking) > 0 && r.Fix:
		fmt.Fprintf(&b, "%d problem(s) still block the lab: %s. See the fixes above.\n", len(blocking), strings.Join(blocking, ", "))
	case len(blocking) > 0:
		fmt.Fprintf(&b, "%d problem(s) block the lab: %s. Fix them as shown above, or let spklab try: sudo spklab doctor --fix\n",
			len(blocking), strings.Join(blocking, ", "))
	case len(warnings) > 0:
		fmt.Fprintf(&b, "Nothing blocks the lab; %d warning(s): %s.\n", len(warnings), strings.Join(warnings, ", "))
	default:
		b.WriteString("This host is ready for the lab.\n")
	}
	fmt.Fprintf(&b, "(%d checks in %s)\n", len(r.Checks), roundDuration(r.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// wrap writes text after label, wrapped at 100 columns, continuation lines
// indented under the text.
func wrap(b *strings.Builder, label, text string) {
	const width = 100
	indent := strings.Repeat(" ", len([]rune(label)))
	line := label
	lineLen := len([]rune(line))
	for _, word := range strings.Fields(text) {
		n := len([]rune(word))
		if lineLen > len(indent) && lineLen+1+n > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line, lineLen = indent, len(indent)
		}
		if lineLen > len(indent) && !strings.HasSuffix(line, " ") {
			line += " "
			lineLen++
		}
		line += word
		lineLen += n
	}
	b.WriteString(line + "\n")
}
