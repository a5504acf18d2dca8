package conntrack

import "strconv"

// State is where a flow stands. UDP, ICMP and other protocols stay in None;
// TCP flows move through the states below, named as in Linux conntrack.
type State uint8

const (
	None State = iota
	SynSent
	SynRecv
	Established
	FinWait
	CloseWait
	LastAck
	TimeWait
	Close
)

var stateNames = [...]string{"none", "syn-sent", "syn-recv", "established", "fin-wait", "close-wait", "last-ack", "time-wait", "close"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Direction says which of a flow's two keys a packet matched.
type Direction uint8

const (
	Original Direction = iota // the packet that created the flow and its successors
	Reply                     // packets coming back
)

func (d Direction) String() string {
	switch d {
	case Original:
		return "original"
	case Reply:
		return "reply"
	}
	return "direction(" + strconv.Itoa(int(d)) + ")"
}

// TCP header flag bits, as in byte 13 of the TCP header, which is what
// Track expects in tcpFlags.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
)

// Per-flow bits kept next to the state (see Flow.word).
const (
	finOrig   = 1 << iota // a FIN was seen in the original direction
	finReply              // a FIN was seen in the reply direction
	lastFinRe             // the most recent first FIN of a direction came from the reply side
	seenReply             // at least one packet went in the reply direction
)

func finBit(d Direction) uint8 {
	if d == Original {
		return finOrig
	}
	return finReply
}

// segment is the class of a TCP segment for the state machine. RST wins
// over everything, then SYN(+ACK), then FIN, then a bare ACK.
type segment uint8

const (
	segOther segment = iota
	segSyn
	segSynAck
	segFin
	segAck
	segRst
)

func classify(flags uint8) segment {
	switch {
	case flags&TCPRst != 0:
		return segRst
	case flags&TCPSyn != 0 && flags&TCPAck != 0:
		return segSynAck
	case flags&TCPSyn != 0:
		return segSyn
	case flags&TCPFin != 0:
		return segFin
	case flags&TCPAck != 0:
		return segAck
	}
	return segOther
}

// tcpNext is the TCP state machine: from state st and flow bits fl, a
// segment going in dir leads to the returned state and bits. ok is false for
// segments that do not fit the state (a stray SYN on an established flow, an
// ACK before the handshake); those leave the flow and its deadline alone, as
// Linux ignores invalid packets rather than letting them extend a flow.
//
// Sequence numbers are not checked: the engine is a NAT, not a firewall.
func tcpNext(st State, fl uint8, dir Direction, flags uint8) (State, uint8, bool) {
	seg := classify(flags)
	if seg == segRst {
		return Close, fl, true
	}
	switch st {
	case None, SynSent:
		switch {
		case seg == segSyn && dir == Original: // first SYN or a retransmission
			return SynSent, fl, true
		case (seg == segSynAck || seg == segSyn) && dir == Reply: // answer, or simultaneous open
			return SynRecv, fl, true
		}
	case SynRecv:
		switch {
		case seg == segSyn || seg == segSynAck: // retransmitted handshake segments
			return SynRecv, fl, true
		case seg == segAck && dir == Original:
			return Established, fl, true
		case seg == segFin && dir == Original: // client closes right after the handshake
			return FinWait, firstFin(fl, dir), true
		}
	case Established:
		switch seg {
		case segAck:
			return Established, fl, true
		case segFin:
			return FinWait, firstFin(fl, dir), true
		}
	case FinWait, CloseWait:
		closedHere := fl&finBit(dir) != 0
		switch {
		case seg == segFin && !closedHere: // the other side closes too
			return LastAck, firstFin(fl, dir), true
		case seg == segFin: // retransmitted FIN
			return st, fl, true
		case seg == segAck && !closedHere: // the peer acknowledged the first FIN
			return CloseWait, fl, true
		case seg == segAck:
			return st, fl, true
		}
	case LastAck:
		lastDir := Original
		if fl&lastFinRe != 0 {
			lastDir = Reply
		}
		switch {
		case seg == segAck && dir != lastDir: // final ACK of the second FIN
			return TimeWait, fl, true
		case seg == segAck || seg == segFin:
			return LastAck, fl, true
		}
	case TimeWait, Close:
		switch {
		case seg == segSyn && dir == Original: // the client reuses the tuple: a new connection
			return SynSent, fl &^ (finOrig | finReply | lastFinRe), true
		case st == TimeWait && (seg == segAck || seg == segFin): // retransmissions of the close
			return TimeWait, fl, true
		}
	}
	return st, fl, false
}

// firstFin records that dir sent its first FIN.
func firstFin(fl uint8, dir Direction) uint8 {
	fl |= finBit(dir)
	if dir == Reply {
		return fl | lastFinRe
	}
	return fl &^ lastFinRe
}
