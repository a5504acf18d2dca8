package steps

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// fakeStep is done once applied; it records calls into a shared log.
type fakeStep struct {
	name     string
	done     bool
	applyErr error
	noEffect bool // Apply returns nil but changes nothing
	log      *[]string
}

func (f *fakeStep) Name() string { return f.name }
func (f *fakeStep) Check(context.Context) Status {
	*f.log = append(*f.log, "check "+f.name)
	if f.done {
		return Status{Done, f.name + " exists"}
	}
	return Status{NotDone, f.name + " missing"}
}
func (f *fakeStep) Apply(context.Context) error {
	*f.log = append(*f.log, "apply "+f.name)
	if f.applyErr != nil {
		return f.applyErr
	}
	if !f.noEffect {
		f.done = true
	}
	return nil
}
func (f *fakeStep) Destroy(context.Context) error {
	*f.log = append(*f.log, "destroy "+f.name)
	f.done = false
	return nil
}

func TestRunnerAppliesInOrderAndSkipsDone(t *testing.T) {
	var log []string
	a := &fakeStep{name: "a", done: true, log: &log}
	b := &fakeStep{name: "b", log: &log}
	var out bytes.Buffer
	res, err := Runner{Out: &out}.Apply(t.Context(), []Step{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := "check a,check b,apply b,check b"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
	if len(res) != 2 || res[0].Action != AlreadyDone || res[1].Action != Applied || res[1].Before.State != NotDone {
		t.Fatalf("results %+v", res)
	}
	if !strings.Contains(out.String(), "a            already done: a exists") || !strings.Contains(out.String(), "b            applied in") {
		t.Fatalf("output:\n%s", out.String())
	}
	// A second run finds everything done and applies nothing.
	log = nil
	res, err = Runner{}.Apply(t.Context(), []Step{a, b})
	if err != nil || res[0].Action != AlreadyDone || res[1].Action != AlreadyDone {
		t.Fatalf("second run: %+v %v", res, err)
	}
	if got := strings.Join(log, ","); got != "check a,check b" {
		t.Fatalf("second run calls %q", got)
	}
}

func TestRunnerStopsAtFirstErrorNamingTheStep(t *testing.T) {
	var log []string
	boom := errors.New("boom")
	a := &fakeStep{name: "a", applyErr: boom, log: &log}
	b := &fakeStep{name: "b", log: &log}
	res, err := Runner{}.Apply(t.Context(), []Step{a, b})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "step a") {
		t.Fatalf("err = %v", err)
	}
	if len(res) != 1 || res[0].Action != Failed {
		t.Fatalf("results %+v", res)
	}
	for _, c := range log {
		if strings.HasSuffix(c, " b") {
			t.Fatalf("step b was touched after a failed: %v", log)
		}
	}
}

func TestRunnerFailsWhenApplyDoesNotReachDone(t *testing.T) {
	var log []string
	a := &fakeStep{name: "a", noEffect: true, log: &log}
	_, err := Runner{}.Apply(t.Context(), []Step{a})
	if err == nil || !strings.Contains(err.Error(), "still not done after apply: a missing") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunnerDestroysInReverse(t *testing.T) {
	var log []string
	a := &fakeStep{name: "a", done: true, log: &log}
	b := &fakeStep{name: "b", done: true, log: &log}
	res, err := Runner{}.Destroy(t.Context(), []Step{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "destroy b,destroy a" {
		t.Fatalf("calls %q", got)
	}
	if len(res) != 2 || res[0].Step != "b" || a.done || b.done {
		t.Fatalf("results %+v", res)
	}
}

// CheckAll runs the checks at once (each step logs to its own slice) and
// keeps the steps' order in its results.
func TestCheckAllKeepsOrder(t *testing.T) {
	var logA, logB, logC []string
	list := []Step{
		&fakeStep{name: "a", log: &logA},
		&fakeStep{name: "b", done: true, log: &logB},
		&fakeStep{name: "c", log: &logC},
	}
	st := CheckAll(t.Context(), list)
	if len(st) != 3 || st[0].Step != "a" || st[0].Before.State != NotDone || st[1].Before.Reason != "b exists" || st[2].Before.Reason != "c missing" {
		t.Fatalf("CheckAll %+v", st)
	}
	if len(logA) != 1 || len(logB) != 1 || len(logC) != 1 {
		t.Fatalf("each step checked once: %v %v %v", logA, logB, logC)
	}
}
