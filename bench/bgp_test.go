package bench

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ds := []time.Duration{50, 10, 40, 20, 30, 60, 70, 80, 90, 100}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 100}, {10, 10}, {0, 10}, {100, 100}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	if ds[0] != 50 {
		t.Errorf("percentile reordered its input")
	}
}
