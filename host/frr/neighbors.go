package frr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Family is an IP address family, spelled as FRR spells the AFI.
type Family string

// The address families the lab routes.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

// unicastKey is the family's key in FRR's per-AFI/SAFI JSON objects.
func (f Family) unicastKey() string { return string(f) + "Unicast" }

func (f Family) check() error {
	if f != IPv4 && f != IPv6 {
		return fmt.Errorf("address family %q: want %q or %q", string(f), IPv4, IPv6)
	}
	return nil
}

// StateEstablished is the BGP FSM state of a working session.
const StateEstablished = "Established"

// Neighbor is one BGP peer as bgpd sees it.
type Neighbor struct {
	Address netip.Addr
	// RemoteAS and LocalAS are the session's AS numbers.
	RemoteAS, LocalAS uint32
	// State is the FSM state: Idle, Connect, Active, OpenSent, OpenConfirm,
	// Established (FRR also shows Clearing and Deleted).
	State string
	// Uptime is how long the session has been Established; zero otherwise.
	Uptime time.Duration
	// RemoteRouterID is the peer's BGP identifier (0.0.0.0 before OPEN).
	RemoteRouterID netip.Addr
	LocalRouterID  netip.Addr
	// Dynamic peers were accepted from a listen range.
	Dynamic bool
	// PeerGroup is the peer's group, if any.
	PeerGroup string
	// Hostname is what the peer's hostname capability said, if anything.
	Hostname string
	// LastReset says why the session last went down (FRR's words).
	LastReset string
	// Prefixes counts accepted and sent prefixes per unicast family that is
	// active on the session.
	Prefixes map[Family]PrefixCounts
}

// PrefixCounts are a session's prefix counters in one address family.
type PrefixCounts struct {
	Received int // accepted from the peer (after policy)
	Sent     int
}

// Established reports whether the session is up.
func (n Neighbor) Established() bool { return n.State == StateEstablished }

const neighborsCommand = "show bgp neighbors json"

// Neighbors lists bgpd's neighbors ("show bgp neighbors json"), sorted by
// address.
func (v *VTY) Neighbors(ctx context.Context) ([]Neighbor, error) {
	data, err := v.Run(ctx, neighborsCommand)
	if err != nil {
		return nil, err
	}
	ns, err := ParseNeighbors(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", neighborsCommand, err)
	}
	return ns, nil
}

// neighborJSON is one value of "show bgp neighbors json" (FRR 8.4). Pointers
// mark the fields that must be there.
type neighborJSON struct {
	RemoteAS       *uint32 `json:"remoteAs"`
	LocalAS        *uint32 `json:"localAs"`
	State          *string `json:"bgpState"`
	UpMsec         *int64  `json:"bgpTimerUpMsec"`
	RemoteRouterID *string `json:"remoteRouterId"`
	LocalRouterID  *string `json:"localRouterId"`
	PeerGroup      string  `json:"peerGroup"`
	// Only dynamic peers name the listen range they came from.
	SubnetRange *string `json:"peerSubnetRangeGroup"`
	Hostname    string  `json:"hostname"`
	LastReset   string  `json:"lastResetDueTo"`
	Families    map[string]struct {
		Accepted int `json:"acceptedPrefixCounter"`
		Sent     int `json:"sentPrefixCounter"`
	} `json:"addressFamilyInfo"`
}

// ParseNeighbors parses the output of "show bgp neighbors json" (FRR 8.4),
// sorted by address. Unknown fields are ignored; a missing or malformed
// field is an error that names it.
func ParseNeighbors(data []byte) ([]Neighbor, error) {
	if err := frrWarning(data); err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	out := make([]Neighbor, 0, len(raw))
	for key, msg := range raw {
		n, err := parseNeighbor(key, msg)
		if err != nil {
			return nil, fmt.Errorf("neighbor %q: %w", key, err)
		}
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Neighbor) int { return a.Address.Compare(b.Address) })
	return out, nil
}

func parseNeighbor(key string, msg json.RawMessage) (Neighbor, error) {
	var n Neighbor
	addr, err := netip.ParseAddr(key)
	if err != nil {
		// Interface (unnumbered) peers are keyed by interface name; the lab
		// has none.
		return n, fmt.Errorf("key is not an IP address: %w", err)
	}
	n.Address = addr
	var j neighborJSON
	if err := json.Unmarshal(msg, &j); err != nil {
		return n, fmt.Errorf("decoding: %w", err)
	}
	if err := required(
		field{"remoteAs", j.RemoteAS != nil},
		field{"localAs", j.LocalAS != nil},
		field{"bgpState", j.State != nil},
		field{"remoteRouterId", j.RemoteRouterID != nil},
		field{"localRouterId", j.LocalRouterID != nil},
	); err != nil {
		return n, err
	}
	n.RemoteAS, n.LocalAS, n.State = *j.RemoteAS, *j.LocalAS, *j.State
	if n.RemoteRouterID, err = parseAddrField("remoteRouterId", *j.RemoteRouterID); err != nil {
		return n, err
	}
	if n.LocalRouterID, err = parseAddrField("localRouterId", *j.LocalRouterID); err != nil {
		return n, err
	}
	if n.Established() {
		if j.UpMsec == nil {
			return n, fmt.Errorf(`field "bgpTimerUpMsec" is missing from an Established session`)
		}
		n.Uptime = time.Duration(*j.UpMsec) * time.Millisecond
	}
	n.Dynamic = j.SubnetRange != nil
	n.PeerGroup, n.Hostname, n.LastReset = j.PeerGroup, j.Hostname, j.LastReset
	for _, f := range []Family{IPv4, IPv6} {
		if c, ok := j.Families[f.unicastKey()]; ok {
			if n.Prefixes == nil {
				n.Prefixes = map[Family]PrefixCounts{}
			}
			n.Prefixes[f] = PrefixCounts{Received: c.Accepted, Sent: c.Sent}
		}
	}
	return n, nil
}

// field is a JSON field name and whether it was there.
type field struct {
	name    string
	present bool
}

// required names the first missing field.
func required(fields ...field) error {
	for _, f := range fields {
		if !f.present {
			return fmt.Errorf("field %q is missing", f.name)
		}
	}
	return nil
}

func parseAddrField(name, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, fmt.Errorf("field %q: %w", name, err)
	}
	return a, nil
}
