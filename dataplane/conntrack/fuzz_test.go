package conntrack

import (
	"testing"
	"time"
)

// FuzzTrack feeds arbitrary segment sequences to one TCP flow and checks
// the state machine's invariants: the state stays valid, RST always closes,
// a move to a new state sets the deadline to that state's timeout, the
// handshake states are only re-entered by a new SYN from the client after
// the connection ended, and every packet is counted.
func FuzzTrack(f *testing.F) {
	f.Add([]byte{0x02, 0x12 | 0x80, 0x10, 0x11, 0x11 | 0x80, 0x10})                    // open, close
	f.Add([]byte{0x02, 0x02, 0x12 | 0x80, 0x10, 0x04 | 0x80})                          // retransmit, rst
	f.Add([]byte{0x02, 0x02 | 0x80, 0x12, 0x10, 0x11, 0x11 | 0x80, 0x10, 0x10 | 0x80}) // simultaneous
	f.Add([]byte{0x02, 0x12 | 0x80, 0x10, 0x11, 0x11 | 0x80, 0x10, 0x02, 0x12 | 0x80}) // reuse
	f.Fuzz(func(t *testing.T, seq []byte) {
		tm := DefaultTimeouts()
		tab := New(Config[int]{Max: 4, Timeouts: tm})
		k := tcpKey(1)
		fl, err := tab.Insert(k, k.Reverse(), 42*time.Second, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		timeout := map[State]time.Duration{
			SynSent: tm.SynSent, SynRecv: tm.SynRecv, Established: 42 * time.Second, FinWait: tm.FinWait,
			CloseWait: tm.CloseWait, LastAck: tm.LastAck, TimeWait: tm.TimeWait, Close: tm.Close,
		}
		var orig, reply uint64
		now := int64(0)
		prev := fl.State()
		for i, b := range seq {
			// Bit 7: direction; bits 0-4: FIN SYN RST PSH ACK.
			dir := Direction(b >> 7)
			flags := b & 0x1f
			now += sec
			before := fl.Deadline()
			st := fl.Track(dir, flags, i, now)
			if dir == Original {
				orig++
			} else {
				reply++
			}
			if st > Close || st == None || st != fl.State() {
				t.Fatalf("packet %d: state %v (State() %v)", i, st, fl.State())
			}
			if flags&TCPRst != 0 && st != Close {
				t.Fatalf("packet %d: RST left the flow in %v", i, st)
			}
			if st != prev && fl.Deadline() != now+int64(timeout[st]) {
				t.Fatalf("packet %d: %v -> %v deadline %d, want %d", i, prev, st, fl.Deadline(), now+int64(timeout[st]))
			}
			if st == prev && fl.Deadline() != before && fl.Deadline() != now+int64(timeout[st]) {
				t.Fatalf("packet %d: deadline moved to %d", i, fl.Deadline())
			}
			if (st == SynSent || st == SynRecv) && prev > SynRecv &&
				!(st == SynSent && (prev == TimeWait || prev == Close) && dir == Original && flags&TCPSyn != 0 && flags&TCPAck == 0) {
				t.Fatalf("packet %d: %v -> %v on %v flags %#x", i, prev, st, dir, flags)
			}
			prev = st
		}
		if op, _, rp, _ := fl.Counters(); op != orig || rp != reply {
			t.Fatalf("counters %d %d, want %d %d", op, rp, orig, reply)
		}
	})
}
