package engine

import (
	"sync/atomic"
)

// DropReason says why the data plane dropped a frame.
type DropReason uint8

// Drop reasons. Every drop is counted under exactly one.
const (
	DropParse          DropReason = iota // malformed or unsupported frame
	DropUnknownVLAN                      // no VLAN for the port and tag
	DropNotLocal                         // not for any address of this TMM
	DropNoFlow                           // mid-connection packet without a flow
	DropTableFull                        // connection table at its limit
	DropPortsExhausted                   // no free NAT port
	DropNoRoute                          // no FIB route to the destination
	DropTTL                              // TTL / hop limit expired
	DropNoSNAT                           // tenant has no SNAT address of the family
	DropUnknownTenant                    // VXLAN key of no tenant
	DropNeighbor                         // next hop did not resolve, or its queue overflowed
	DropNoSelfIP                         // no self IP of the family to translate to
	DropTranslate                        // family translation impossible
	DropTx                               // the port refused the frame
	DropNoException                      // host-bound frame, but no exception path
	DropForeignVTEP                      // tenant VXLAN from a source that is no node's VTEP
	DropOffLink                          // ARP reply / NA from off the VLAN's subnet, or an NA not from the link
	DropVIPShare                         // new connection to a VIP holding its share of a busy NAT-port pool
	DropIPv6Egress                       // tenant IPv6 egress, but its F5SPKEgress is not dualStackEnabled
	numDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropParse:
		return "parse"
	case DropUnknownVLAN:
		return "unknown-vlan"
	case DropNotLocal:
		return "not-local"
	case DropNoFlow:
		return "no-flow"
	case DropTableFull:
		return "table-full"
	case DropPortsExhausted:
		return "ports-exhausted"
	case DropNoRoute:
		return "no-route"
	case DropTTL:
		return "ttl"
	case DropNoSNAT:
		return "no-snat-address"
	case DropUnknownTenant:
		return "unknown-tenant"
	case DropNeighbor:
		return "neighbor"
	case DropNoSelfIP:
		return "no-self-ip"
	case DropTranslate:
		return "translate"
	case DropTx:
		return "tx"
	case DropNoException:
		return "no-exception-path"
	case DropForeignVTEP:
		return "foreign-vtep"
	case DropOffLink:
		return "off-link-neighbor"
	case DropVIPShare:
		return "vip-share-exceeded"
	case DropIPv6Egress:
		return "ipv6-egress-disabled"
	}
	return "unknown"
}

// drops counts drops by reason.
type drops [numDropReasons]atomic.Uint64

func (d *drops) add(r DropReason) { d[r].Add(1) }

func (d *drops) snapshot() map[string]uint64 {
	m := map[string]uint64{}
	for i := range d {
		if n := d[i].Load(); n > 0 {
			m[DropReason(i).String()] = n
		}
	}
	return m
}

// traffic counts packets and bytes.
type traffic struct {
	packets, bytes atomic.Uint64
}

func (t *traffic) add(bytes int) {
	t.packets.Add(1)
	t.bytes.Add(uint64(bytes))
}

// vlanCounters live across config changes (keyed by VLAN name).
type vlanCounters struct {
	rx, tx traffic
	drops  drops
}

// vsCounters are one virtual server's (keyed by name, address and port).
type vsCounters struct {
	traffic     traffic
	connections atomic.Uint64
	active      atomic.Int64
	// handshaking counts flows whose handshake has not completed (a SYN
	// flood's): what overShare limits.
	handshaking atomic.Int64
	resets      atomic.Uint64
	drops       drops
}

// memberCounters are one pool member's (keyed by virtual server and address).
type memberCounters struct {
	traffic     traffic
	connections atomic.Uint64
	active      atomic.Int64
}

// tenantCounters are one egress tenant's SNAT pool use (keyed by tenant name).
type tenantCounters struct {
	traffic     traffic
	connections atomic.Uint64
	active      atomic.Int64
	drops       drops
}

// Stats is a snapshot of the counters, as the stats API returns it.
type Stats struct {
	Version        string            `json:"version"`
	Replica        int               `json:"replica"`
	UptimeSeconds  float64           `json:"uptimeSeconds"`
	Flows          FlowStats         `json:"flows"`
	Drops          map[string]uint64 `json:"drops"`
	Ports          []PortStats       `json:"ports"`
	VLANs          []VLANStats       `json:"vlans"`
	VirtualServers []VSStats         `json:"virtualServers"`
	SNATPools      []SNATStats       `json:"snatPools"`
	Neighbors      []NeighborStats   `json:"neighbors"`
}

// FlowStats are the connection table's.
type FlowStats struct {
	Active     int    `json:"active"`
	Max        int    `json:"max"`
	Inserts    uint64 `json:"inserts"`
	EarlyDrops uint64 `json:"earlyDrops"`
	Full       uint64 `json:"full"`
	Expired    uint64 `json:"expired"`
}

// PortStats are an interface's.
type PortStats struct {
	Interface string `json:"interface"`
	Device    string `json:"device"`
	RxPackets uint64 `json:"rxPackets"`
	RxBytes   uint64 `json:"rxBytes"`
	TxPackets uint64 `json:"txPackets"`
	TxBytes   uint64 `json:"txBytes"`
	RxDrops   uint64 `json:"rxDrops"`
	TxDrops   uint64 `json:"txDrops"`
}

// VLANStats are a VLAN's.
type VLANStats struct {
	Name      string            `json:"name"`
	RxPackets uint64            `json:"rxPackets"`
	RxBytes   uint64            `json:"rxBytes"`
	TxPackets uint64            `json:"txPackets"`
	TxBytes   uint64            `json:"txBytes"`
	Drops     map[string]uint64 `json:"drops"`
}

// VSStats are a virtual server's.
type VSStats struct {
	Name        string            `json:"name"`
	Address     string            `json:"address"`
	Packets     uint64            `json:"packets"`
	Bytes       uint64            `json:"bytes"`
	Connections uint64            `json:"connections"`
	ActiveFlows int64             `json:"activeFlows"`
	Resets      uint64            `json:"resets"`
	Drops       map[string]uint64 `json:"drops"`
	Members     []MemberStats     `json:"members"`
}

// MemberStats are a pool member's.
type MemberStats struct {
	Address     string `json:"address"`
	Node        string `json:"node,omitempty"`
	Packets     uint64 `json:"packets"`
	Bytes       uint64 `json:"bytes"`
	Connections uint64 `json:"connections"`
	ActiveFlows int64  `json:"activeFlows"`
}

// SNATStats are an egress tenant's SNAT pool use on this replica.
type SNATStats struct {
	Tenant      string            `json:"tenant"`
	Snatpool    string            `json:"snatpool,omitempty"`
	VNI         uint32            `json:"vni"`
	Addresses   []string          `json:"addresses"`
	Packets     uint64            `json:"packets"`
	Bytes       uint64            `json:"bytes"`
	Connections uint64            `json:"connections"`
	ActiveFlows int64             `json:"activeFlows"`
	Drops       map[string]uint64 `json:"drops"`
}

// NeighborStats is one neighbor cache entry.
type NeighborStats struct {
	IP    string `json:"ip"`
	MAC   string `json:"mac"`
	State string `json:"state"`
}

// FlowInfo is one connection table entry, for flow dumps.
type FlowInfo struct {
	Kind         string `json:"kind"`
	Original     string `json:"original"`
	Reply        string `json:"reply"`
	State        string `json:"state"`
	Target       string `json:"target"`
	OrigPackets  uint64 `json:"origPackets"`
	ReplyPackets uint64 `json:"replyPackets"`
	ExpiresIn    string `json:"expiresIn"`
}
