//go:build linux

package afpacket_test

import (
	"testing"
	"time"

	"github.com/spklab/spklab/dataplane/port"
	"github.com/spklab/spklab/dataplane/port/afpacket"
)

// BenchmarkRecv measures frames per second through Recv on a veth pair: a
// plain AF_PACKET socket on p1 sends b.N 64-byte frames, the port on p0
// receives them in batches of 32. Frames the kernel drops before the ring
// (veth backlog) or in it are reported as loss, not waited for.
func BenchmarkRecv(b *testing.B) {
	l := newLab(b, 1500)
	p := l.open(b, "p0", afpacket.DefaultOptions())
	peer := l.raw(b, "p1")
	frame := testFrame(b, peerMAC, portMAC, 0, 0, 1, 50)
	bufs := port.NewBufs(32, 2048)

	b.ResetTimer()
	start := time.Now()
	sendDone := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if err := sendRaw(peer, frame); err != nil {
				sendDone <- err
				return
			}
		}
		sendDone <- nil
	}()
	got := 0
	sending := true
	for got < b.N {
		n, err := p.Recv(bufs, 200*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		got += n
		if sending {
			select {
			case err := <-sendDone:
				if err != nil {
					b.Fatal(err)
				}
				sending = false
			default:
			}
		} else if n == 0 {
			break // sender finished and nothing more for 200ms: the rest was dropped
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if sending {
		if err := <-sendDone; err != nil {
			b.Fatal(err)
		}
	}
	s := p.Stats()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "rx-pps")
	b.ReportMetric(100*float64(b.N-got)/float64(b.N), "loss-%")
	b.ReportMetric(float64(s.RxDrops), "ring-drops")
}
