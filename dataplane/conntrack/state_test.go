package conntrack

import (
	"net/netip"
	"testing"
	"time"
)

const sec = int64(time.Second)

// pkt is one segment of a scripted TCP exchange and the state expected
// after it.
type pkt struct {
	dir   Direction
	flags uint8
	want  State
}

const (
	syn    = TCPSyn
	synack = TCPSyn | TCPAck
	ack    = TCPAck
	finack = TCPFin | TCPAck
	rst    = TCPRst
	rstack = TCPRst | TCPAck
	psh    = TCPPsh | TCPAck
)

func tcpKey(i int) Key {
	return Key{
		Proto:   ProtoTCP,
		Src:     netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
		Dst:     netip.MustParseAddr("192.0.2.10"),
		SrcPort: uint16(1024 + i%60000),
		DstPort: 80,
	}
}

func TestTCPStateMachine(t *testing.T) {
	O, R := Original, Reply
	cases := []struct {
		name string
		pkts []pkt
	}{
		{"handshake", []pkt{{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established}, {O, psh, Established}, {R, psh, Established}}},
		{"syn retransmit", []pkt{{O, syn, SynSent}, {O, syn, SynSent}, {O, syn, SynSent}, {R, synack, SynRecv}, {R, synack, SynRecv}, {O, ack, Established}}},
		{"client closes first", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{O, finack, FinWait}, {R, ack, CloseWait}, {R, psh, CloseWait}, {R, finack, LastAck}, {O, ack, TimeWait}}},
		{"server closes first", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{R, finack, FinWait}, {O, ack, CloseWait}, {O, finack, LastAck}, {O, ack, LastAck}, {R, ack, TimeWait}}},
		{"fin carries the ack of the first fin", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{O, finack, FinWait}, {R, finack, LastAck}, {O, ack, TimeWait}}},
		{"simultaneous close", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{O, finack, FinWait}, {R, finack, LastAck}, {R, ack, LastAck}, {O, ack, TimeWait}, {R, ack, TimeWait}}},
		{"fin retransmit", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{O, finack, FinWait}, {O, finack, FinWait}, {R, ack, CloseWait}, {O, finack, CloseWait}}},
		{"simultaneous open", []pkt{{O, syn, SynSent}, {R, syn, SynRecv}, {O, synack, SynRecv}, {O, ack, Established}}},
		{"rst in handshake", []pkt{{O, syn, SynSent}, {R, rstack, Close}}},
		{"rst established from client", []pkt{{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established}, {O, rst, Close}}},
		{"rst while closing", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established}, {O, finack, FinWait}, {R, rst, Close}}},
		{"stray segments before handshake are ignored", []pkt{{O, syn, SynSent}, {O, ack, SynSent}, {R, ack, SynSent}, {O, finack, SynSent}}},
		{"stray syn on established is ignored", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established}, {O, syn, Established}, {R, synack, Established}}},
		{"tuple reuse after time-wait", []pkt{
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established},
			{O, finack, FinWait}, {R, finack, LastAck}, {O, ack, TimeWait},
			{O, syn, SynSent}, {R, synack, SynRecv}, {O, ack, Established}, {R, finack, FinWait}}},
		{"tuple reuse after rst", []pkt{{O, syn, SynSent}, {R, rst, Close}, {R, ack, Close}, {O, syn, SynSent}}},
		{"client fin right after handshake ack", []pkt{{O, syn, SynSent}, {R, synack, SynRecv}, {O, finack, FinWait}, {R, finack, LastAck}, {O, ack, TimeWait}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := New(Config[int]{Max: 10})
			k := tcpKey(1)
			f, err := tab.Insert(k, k.Reverse(), 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range c.pkts {
				got := f.Track(p.dir, p.flags, 60, int64(i)*sec)
				if got != p.want || f.State() != p.want {
					t.Fatalf("packet %d (%v flags %#x): state %v (State() %v), want %v", i, p.dir, p.flags, got, f.State(), p.want)
				}
			}
		})
	}
}

// TestTimeoutPerState checks that each state's deadline is now plus that
// state's timeout, and that the flow disappears exactly at its deadline.
func TestTimeoutPerState(t *testing.T) {
	tm := DefaultTimeouts()
	tm.Established = 3600 * time.Second // must be overridden by idle below
	O, R := Original, Reply
	steps := []struct {
		dir   Direction
		flags uint8
		state State
		after time.Duration
	}{
		{O, syn, SynSent, tm.SynSent},
		{R, synack, SynRecv, tm.SynRecv},
		{O, ack, Established, 42 * time.Second}, // the idle timeout given to Insert
		{O, finack, FinWait, tm.FinWait},
		{R, ack, CloseWait, tm.CloseWait},
		{R, finack, LastAck, tm.LastAck},
		{O, ack, TimeWait, tm.TimeWait},
	}
	for i := range steps {
		tab := New(Config[int]{Max: 10, Timeouts: tm})
		k := tcpKey(i)
		f, err := tab.Insert(k, k.Reverse(), 42*time.Second, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		now := int64(0)
		for _, s := range steps[:i+1] {
			now += sec
			f.Track(s.dir, s.flags, 0, now)
		}
		s := steps[i]
		if f.State() != s.state {
			t.Fatalf("step %d: state %v, want %v", i, f.State(), s.state)
		}
		if got, want := f.Deadline(), now+int64(s.after); got != want {
			t.Fatalf("%v: deadline %d, want %d", s.state, got, want)
		}
		if _, _, ok := tab.Lookup(k, f.Deadline()-1); !ok {
			t.Fatalf("%v: flow gone before its deadline", s.state)
		}
		if _, _, ok := tab.Lookup(k.Reverse(), f.Deadline()); ok {
			t.Fatalf("%v: flow still there at its deadline", s.state)
		}
		if tab.Len() != 0 {
			t.Fatalf("%v: expired flow not removed, Len %d", s.state, tab.Len())
		}
	}
}

func TestRSTTimeout(t *testing.T) {
	tab := New(Config[int]{Max: 10})
	k := tcpKey(1)
	f, _ := tab.Insert(k, k.Reverse(), 0, 0, 0)
	f.Track(Original, syn, 0, 0)
	f.Track(Reply, synack, 0, sec)
	f.Track(Original, ack, 0, 2*sec)
	if got, want := f.Deadline(), 2*sec+int64(300*time.Second); got != want {
		t.Fatalf("established with idle 0: deadline %d, want default %d", got, want)
	}
	f.Track(Reply, rst, 0, 3*sec)
	if got, want := f.Deadline(), 4*sec; got != want {
		t.Fatalf("after RST: deadline %d, want %d (Close timeout 1s)", got, want)
	}
}

func TestUDPAndICMPTimeouts(t *testing.T) {
	tab := New(Config[int]{Max: 10})
	u := Key{Proto: ProtoUDP, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("192.0.2.53"), SrcPort: 5353, DstPort: 53}
	f, err := tab.Insert(u, u.Reverse(), 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Deadline() != 30*sec || f.State() != None {
		t.Fatalf("new UDP flow: deadline %d state %v", f.Deadline(), f.State())
	}
	f.Track(Original, 0, 100, sec)
	if f.Deadline() != 31*sec || f.Replied() {
		t.Fatalf("unreplied UDP: deadline %d replied %v", f.Deadline(), f.Replied())
	}
	f.Track(Reply, 0, 100, sec+1) // a quick answer: still the short timeout
	if !f.Replied() || f.Deadline() != 31*sec+1 {
		t.Fatalf("young replied UDP: deadline %d replied %v", f.Deadline(), f.Replied())
	}
	f.Track(Original, 0, 100, 5*sec) // a stream that lasts
	if f.Deadline() != 125*sec {
		t.Fatalf("UDP stream: deadline %d, want %d", f.Deadline(), 125*sec)
	}
	if op, ob, rp, rb := f.Counters(); op != 2 || ob != 200 || rp != 1 || rb != 100 {
		t.Fatalf("counters %d %d %d %d", op, ob, rp, rb)
	}

	i := Key{Proto: ProtoICMPv6, Src: netip.MustParseAddr("2001::1"), Dst: netip.MustParseAddr("2001::2"), SrcPort: 7}
	g, err := tab.Insert(i, i.Reverse(), 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	g.Track(Reply, 0, 64, 200)
	if g.Deadline() != 200+10*sec {
		t.Fatalf("ICMP deadline %d", g.Deadline())
	}
}

func TestStrings(t *testing.T) {
	if Established.String() != "established" || TimeWait.String() != "time-wait" || State(99).String() != "state(99)" {
		t.Fatal("State.String")
	}
	if Reply.String() != "reply" || Direction(5).String() != "direction(5)" {
		t.Fatal("Direction.String")
	}
	if got := tcpKey(1).String(); got != "zone 0 proto 6 10.0.0.1:1025 -> 192.0.2.10:80" {
		t.Fatalf("Key.String: %q", got)
	}
}
