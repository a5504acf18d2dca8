package engine

import "testing"

func TestFlowTableBytesPerEntry(t *testing.T) {
	per, err := FlowTableBytesPerEntry(50000)
	if err != nil {
		t.Fatal(err)
	}
	// A flow is two keys, the value and the table's bookkeeping: more than
	// the bare value, and far from a kilobyte.
	if per < 150 || per > 1500 {
		t.Errorf("%.0f bytes per flow, want 150–1500", per)
	}
	t.Logf("%.0f bytes per connection-table entry", per)
	if _, err := FlowTableBytesPerEntry(0); err == nil {
		t.Errorf("0 flows: no error")
	}
}
