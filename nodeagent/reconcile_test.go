package nodeagent

import (
	"context"
	"errors"
	spkscheme "github.com/spklab/spklab/spk/scheme"
	"strings"
	"testing"

	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/spklab/spklab/spk"
)

// Reconcile reports a failed apply once as a warning Event on the Node,
// retries it (an error for the work queue's backoff), and records the
// recovery; the netlink side is replaced by what InNetns returns.
func TestReconcileReportsApplyFailures(t *testing.T) {
	scheme, err := spkscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	e := egress("red", "e", "100")
	p := pod("red", "p", thisNode, []string{"10.244.1.2"})
	vl := lab[1]
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(node(`{"ipv4":"198.18.100.3/24"}`), &e, &p, &vl).Build()
	rec := record.NewFakeRecorder(10)
	netErr := errors.New("operation not permitted")
	opts := Options{NodeName: thisNode, Underlay: "eth2", InNetns: func(func() error) error { return netErr }}
	if err := opts.defaults(); err != nil {
		t.Fatal(err)
	}
	a := &Agent{opts: opts, cache: c, api: c, events: rec}

	reconcileOnce := func() (reconcile.Result, error) {
		return a.Reconcile(context.Background(), a.request())
	}
	if _, err := reconcileOnce(); !errors.Is(err, netErr) {
		t.Fatalf("Reconcile = %v, want the apply error for a retry", err)
	}
	if err := a.Ready(nil); err != nil {
		t.Errorf("not ready after a reconcile that reported: %v", err)
	}
	want := "Warning " + ReasonApplyFailed + " operation not permitted"
	if got := next(rec); got != want {
		t.Errorf("event = %q, want %q", got, want)
	}
	if _, err := reconcileOnce(); err == nil {
		t.Fatal("second Reconcile succeeded with apply still failing")
	}
	if got := next(rec); got != "" {
		t.Errorf("the same failure was recorded again: %q", got)
	}

	a.opts.InNetns = func(func() error) error { return nil }
	res, err := reconcileOnce()
	if err != nil || res.RequeueAfter != DefaultResync {
		t.Fatalf("Reconcile = %+v, %v; want a resync after %s", res, err, DefaultResync)
	}
	if got := next(rec); !strings.HasPrefix(got, "Normal "+ReasonConfigured) {
		t.Errorf("event = %q, want the recovery", got)
	}

	// A problem in the objects is reported and not retried by the queue
	// (the objects' next change or the resync brings the next attempt).
	e.Annotations[spk.AnnotationVXLANKey] = "x"
	if err := c.Update(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	if res, err := reconcileOnce(); err != nil || res.RequeueAfter != DefaultResync {
		t.Fatalf("Reconcile = %+v, %v; want no error and a resync", res, err)
	}
	if got := next(rec); !strings.HasPrefix(got, "Warning "+ReasonTenantSkipped+" F5SPKEgress red/e: annotation") {
		t.Errorf("event = %q, want the skipped tenant", got)
	}
}

// next returns the next recorded event, or "" when there is none.
func next(rec *record.FakeRecorder) string {
	select {
	case e := <-rec.Events:
		return e
	default:
		return ""
	}
}
