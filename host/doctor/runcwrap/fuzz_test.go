package runcwrap

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/spklab/spklab/host/doctor/capset"
)

// FuzzFilterConfig: whatever the config, filtering either fails or yields
// JSON with no removed capability left in any list, and filtering that
// again removes nothing.
func FuzzFilterConfig(f *testing.F) {
	f.Add([]byte(`{"process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}}`), uint64(0x000001fffeffffff))
	f.Add([]byte(`{"process":null}`), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, mask uint64) {
		bound := capset.Set(mask)
		out, removed, err := FilterConfig(data, bound)
		if err != nil {
			return
		}
		if len(removed) == 0 {
			if string(out) != string(data) {
				t.Fatalf("nothing removed but output differs")
			}
			return
		}
		var cfg struct {
			Process struct {
				Capabilities map[string][]string `json:"capabilities"`
			} `json:"process"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatalf("output is not a config: %v\n%s", err, out)
		}
		for key, list := range cfg.Process.Capabilities {
			for _, c := range list {
				if slices.Contains(removed, c) {
					t.Fatalf("%s still holds removed %s", key, c)
				}
			}
		}
		if _, again, err := FilterConfig(out, bound); err != nil || len(again) != 0 {
			t.Fatalf("second pass removed %v, %v", again, err)
		}
	})
}
