package bench

import (
	"encoding/json"
	"errors"
	"fmt"
)

// IperfResult is what an iperf3 client run (-J) reports.
type IperfResult struct {
	// BitsPerSecond is what the receiver got (goodput).
	BitsPerSecond float64
	Bytes         int64
	Seconds       float64
	Retransmits   int64
}

// ParseIperf3 reads iperf3 -J output. iperf3 reports its own failures in
// the JSON ("error"); they come back as the error, as does a run that
// moved no data.
func ParseIperf3(data []byte) (IperfResult, error) {
	var doc struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Retransmits int64 `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Seconds       float64 `json:"seconds"`
				Bytes         int64   `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return IperfResult{}, fmt.Errorf("iperf3 output is not its JSON (-J): %w: %q", err, firstLines(string(data), 3))
	}
	if doc.Error != "" {
		return IperfResult{}, errors.New("iperf3: " + doc.Error)
	}
	s := doc.End.SumReceived
	if s.Bytes <= 0 || s.BitsPerSecond <= 0 {
		return IperfResult{}, fmt.Errorf("iperf3: the receiver got no data (%d bytes in %.1f s)", s.Bytes, s.Seconds)
	}
	return IperfResult{BitsPerSecond: s.BitsPerSecond, Bytes: s.Bytes, Seconds: s.Seconds, Retransmits: doc.End.SumSent.Retransmits}, nil
}
