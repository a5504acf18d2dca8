// Package steps runs the lab's ordered, idempotent steps (kind style: an
// ordered list of actions whose state lives in what they made). Each step
// checks what exists, applies what is missing, and can destroy what it made;
// the runner prints per step what it found done or what it did, and stops at
// the first error naming the step.
package steps

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// State is what a step's check found.
type State int

const (
	// NotDone: nothing of the step exists yet (or only parts of it).
	NotDone State = iota
	// Done: the step's result exists and is as the topology says.
	Done
	// Broken: something exists but is wrong; Apply tries to repair it.
	Broken
)

func (s State) String() string {
	switch s {
	case Done:
		return "done"
	case NotDone:
		return "not done"
	case Broken:
		return "broken"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a check's verdict with the reason, in plain words.
type Status struct {
	State  State
	Reason string
}

// Step is one lab action. Apply and Destroy must be idempotent: Apply after
// an interruption converges, Destroy of something absent succeeds. Check
// only reads and may run at the same time as other steps' checks
// (CheckAll).
type Step interface {
	Name() string
	Check(ctx context.Context) Status
	Apply(ctx context.Context) error
	Destroy(ctx context.Context) error
}

// Action is what the runner did with a step.
type Action string

// Actions the runner reports.
const (
	AlreadyDone Action = "already done"
	Applied     Action = "applied"
	Destroyed   Action = "destroyed"
	Failed      Action = "failed"
)

// Result is one step's outcome.
type Result struct {
	Step     string
	Action   Action
	Before   Status // the check before acting
	Duration time.Duration
}

// Runner runs steps in order, writing one line per step to Out (nil: quiet).
type Runner struct {
	Out io.Writer
}

func (r Runner) printf(format string, a ...any) {
	if r.Out != nil {
		fmt.Fprintf(r.Out, format, a...)
	}
}

// Apply checks each step in order and applies those not done, checking
// again afterwards. It stops at the first failing step; the results so far
// are returned with the error.
func (r Runner) Apply(ctx context.Context, list []Step) ([]Result, error) {
	var out []Result
	for _, s := range list {
		start := time.Now()
		before := s.Check(ctx)
		res := Result{Step: s.Name(), Before: before}
		if before.State == Done {
			res.Action, res.Duration = AlreadyDone, time.Since(start)
			out = append(out, res)
			r.printf("%-12s already done: %s (%s)\n", s.Name(), before.Reason, round(res.Duration))
			continue
		}
		r.printf("%-12s %s: %s; applying\n", s.Name(), before.State, before.Reason)
		err := s.Apply(ctx)
		if err == nil {
			// The step's own check is the definition of done: an apply
			// that returns without reaching it has failed.
			if after := s.Check(ctx); after.State != Done {
				err = fmt.Errorf("still %s after apply: %s", after.State, after.Reason)
			}
		}
		res.Duration = time.Since(start)
		if err != nil {
			res.Action = Failed
			out = append(out, res)
			r.printf("%-12s FAILED after %s: %v\n", s.Name(), round(res.Duration), err)
			return out, fmt.Errorf("step %s: %w", s.Name(), err)
		}
		res.Action = Applied
		out = append(out, res)
		r.printf("%-12s applied in %s\n", s.Name(), round(res.Duration))
	}
	return out, nil
}

// Destroy destroys the steps in reverse order, stopping at the first error.
func (r Runner) Destroy(ctx context.Context, list []Step) ([]Result, error) {
	var out []Result
	for i := len(list) - 1; i >= 0; i-- {
		s := list[i]
		start := time.Now()
		err := s.Destroy(ctx)
		res := Result{Step: s.Name(), Action: Destroyed, Duration: time.Since(start)}
		if err != nil {
			res.Action = Failed
			out = append(out, res)
			r.printf("%-12s destroy FAILED after %s: %v\n", s.Name(), round(res.Duration), err)
			return out, fmt.Errorf("destroying step %s: %w", s.Name(), err)
		}
		out = append(out, res)
		r.printf("%-12s destroyed in %s\n", s.Name(), round(res.Duration))
	}
	return out, nil
}

// CheckAll runs every step's check (for status) at once and returns the
// results in the steps' order. A Check only reads, and no step's check
// depends on another's, while each one mostly waits on a process or an
// API: together they take as long as the slowest, not the sum.
func CheckAll(ctx context.Context, list []Step) []Result {
	out := make([]Result, len(list))
	var wg sync.WaitGroup
	for i, s := range list {
		wg.Go(func() {
			start := time.Now()
			st := s.Check(ctx)
			out[i] = Result{Step: s.Name(), Before: st, Duration: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// Doc is how a step presents itself to a student: the command
// `spklab <step> <Verb>` that applies it alone, the one that undoes it, and
// their help. A step describes itself once; the CLI builds its commands
// from the steps' Docs.
type Doc struct {
	// Short is the step's command group in one line.
	Short string
	// Verb applies the step ("create", "deploy", "up", …); UndoVerb
	// removes what it made ("delete", "down").
	Verb, UndoVerb string
	// VerbShort and Long are the help of `spklab <step> <Verb>`.
	VerbShort, Long string
}

// Command is the step's guide command, e.g. "spklab cluster create".
func (d Doc) Command(step string) string { return "spklab " + step + " " + d.Verb }
