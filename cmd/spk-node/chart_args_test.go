package main

import (
	"testing"

	"github.com/spklab/spklab/manifests/spkchart"
)

// The chart's DaemonSet starts this binary with these args: a flag renamed on
// one side only fails here, not in a cluster.
func TestChartArgsAreAccepted(t *testing.T) {
	args, err := spkchart.DefaultContainerArgs("DaemonSet", spkchart.NodeAgentDaemonSet, "spk-node")
	if err != nil || len(args) == 0 {
		t.Fatalf("chart args %q: %v", args, err)
	}
	if err := newRoot().ParseFlags(args); err != nil {
		t.Fatalf("the chart's args %q are refused: %v", args, err)
	}
}
