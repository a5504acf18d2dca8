package main

import (
	"testing"

	"github.com/spklab/spklab/lab/spkchart"
)

// TestChartArgsAreAccepted renders the Helm chart and parses the args its
// StatefulSet gives this binary with the binary's own flags: a flag renamed on
// one side only fails here, not in a cluster.
func TestChartArgsAreAccepted(t *testing.T) {
	m, err := spkchart.Render(spkchart.DefaultNamespace, nil)
	if err != nil {
		t.Fatal(err)
	}
	args, err := m.ContainerArgs("StatefulSet", spkchart.TMMStatefulSet, "spk-tmm")
	if err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 {
		t.Fatal("the chart gives no args")
	}
	if err := newRoot().ParseFlags(args); err != nil {
		t.Fatalf("spk-tmm refuses the chart's args %q: %v", args, err)
	}
}
