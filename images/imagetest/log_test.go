package imagetest

import (
	"fmt"
	"strings"
	"testing"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// kindLogger sends kind's messages to the test log (V(0) and warnings
// only: kind's debug output is too chatty to help).
type kindLogger struct{ t *testing.T }

func (l kindLogger) Warn(m string)                        { l.t.Log("kind: WARN " + m) }
func (l kindLogger) Warnf(f string, a ...any)             { l.Warn(fmt.Sprintf(f, a...)) }
func (l kindLogger) Error(m string)                       { l.t.Log("kind: ERROR " + m) }
func (l kindLogger) Errorf(f string, a ...any)            { l.Error(fmt.Sprintf(f, a...)) }
func (l kindLogger) V(v kindlog.Level) kindlog.InfoLogger { return kindInfo{t: l.t, on: v == 0} }

type kindInfo struct {
	t  *testing.T
	on bool
}

func (i kindInfo) Info(m string) {
	if i.on {
		i.t.Log("kind: " + strings.TrimSpace(m))
	}
}
func (i kindInfo) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
func (i kindInfo) Enabled() bool            { return i.on }

// testWriter is an io.Writer onto the test log, for slog.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
