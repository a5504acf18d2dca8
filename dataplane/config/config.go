// Package config is what one TMM replica runs: its VLANs and self IPs,
// virtual servers with their endpoint pools, egress tenants with this
// replica's SNAT addresses, and static routes. The compiler (spk/compile)
// produces one per replica from the SPK custom resources; spk-tmm applies
// it atomically. It is plain data, JSON-encodable for the config API.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
)

// Config is one TMM replica's configuration.
type Config struct {
	// Version identifies the content (a hash of it, see Seal): equal
	// configs have equal versions, so re-sending one changes nothing.
	Version string `json:"version"`
	Replica int    `json:"replica"`

	VLANs          []VLAN          `json:"vlans,omitempty"`
	VirtualServers []VirtualServer `json:"virtualServers,omitempty"`
	Tenants        []Tenant        `json:"tenants,omitempty"`
	Routes         []Route         `json:"routes,omitempty"`
	// VTEPs are the nodes' addresses on the internal VLAN: the only
	// senders whose tenant VXLAN is taken in. Any other source — a pod
	// that crafts VXLAN with another tenant's key, a host that is no node
	// — is dropped, so a tenant leaves only through a node's tunnel.
	VTEPs []netip.Addr `json:"vteps,omitempty"`
	// BGP is this replica's speaker; nil = no dynamic routing.
	BGP *BGP `json:"bgp,omitempty"`
}

// VLAN is one TMM VLAN on one interface.
type VLAN struct {
	Name string `json:"name"`
	// Interface is the TMM interface "1.N" (the pod's N-th attachment).
	Interface string `json:"interface"`
	// Tag is the 802.1Q VLAN ID, 0 = untagged.
	Tag uint16 `json:"tag"`
	MTU int    `json:"mtu"`
	// Internal marks the VLAN facing the cluster: ingress goes out here to
	// the pods' nodes and tenant egress (VXLAN) comes in here.
	Internal bool `json:"internal,omitempty"`
	// SelfIPs are this replica's addresses on the VLAN, with the subnet's
	// prefix length (at most one per family).
	SelfIPs     []netip.Prefix `json:"selfIPs,omitempty"`
	AutoLasthop bool           `json:"autoLasthop,omitempty"`
}

// SelfIP returns the VLAN's self IP of the family of a (IPv4 when a is
// IPv4, else IPv6).
func (v *VLAN) SelfIP(is4 bool) (netip.Prefix, bool) {
	for _, p := range v.SelfIPs {
		if p.Addr().Is4() == is4 {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// Load-balancing methods.
const (
	RoundRobin           = "ROUND_ROBIN"
	RatioLeastConnMember = "RATIO_LEAST_CONN_MEMBER"
)

// VirtualServer is one listener (address and port; port 0 = every port)
// and its pool. An F5SPKIngressTCP with an IPv4 and an IPv6 address gives
// two virtual servers sharing the name.
type VirtualServer struct {
	// Name is "namespace/name" of the F5SPKIngressTCP.
	Name    string     `json:"name"`
	Address netip.Addr `json:"address"`
	Port    uint16     `json:"port"`
	// Method is RoundRobin or RatioLeastConnMember.
	Method string `json:"method"`
	// IdleTimeout in seconds.
	IdleTimeout int `json:"idleTimeout"`
	// VLANs the virtual server listens on (names); empty = every
	// non-internal VLAN.
	VLANs   []string `json:"vlans,omitempty"`
	Members []Member `json:"members,omitempty"`
}

// Member is one ready endpoint: the pod's address and port, the node
// hosting it and that node's address on the internal VLAN, where TMM
// sends the pod's packets.
type Member struct {
	Address     netip.AddrPort `json:"address"`
	Node        string         `json:"node,omitempty"`
	NodeAddress netip.Addr     `json:"nodeAddress"`
}

// Tenant is one egress tenant: pods whose packets arrive over the tenant's
// VXLAN (VNI) leave with this replica's SNAT addresses.
type Tenant struct {
	// Name is "namespace/name" of the F5SPKEgress.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	VNI       uint32 `json:"vni"`
	// SNATType is SRC_TRANS_SNATPOOL, SRC_TRANS_AUTOMAP or SRC_TRANS_NONE.
	SNATType string `json:"snatType"`
	// Snatpool is the snatpool's spec.name (for counters).
	Snatpool string `json:"snatpool,omitempty"`
	// SNAT is this replica's row of the snatpool (automap: empty, the
	// egress VLAN's self IPs are used).
	SNAT []netip.Addr `json:"snat,omitempty"`
	// DualStack is the F5SPKEgress's dualStackEnabled: without it the
	// tenant leaves over IPv4 only (its IPv6 is dropped, and no IPv6 SNAT
	// address of its pool is used or advertised).
	DualStack bool `json:"dualStack,omitempty"`
}

// SNATAddr returns the tenant's SNAT address of a family.
func (t *Tenant) SNATAddr(is4 bool) (netip.Addr, bool) {
	for _, a := range t.SNAT {
		if a.Is4() == is4 {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Route is a static route.
type Route struct {
	Prefix  netip.Prefix `json:"prefix"`
	Gateway netip.Addr   `json:"gateway"`
}

// BGP is one replica's BGP speaker: who it peers with and what it
// announces. Every replica announces every VIP (the router spreads flows
// over them, ECMP) but only its own SNAT addresses (replies must return to
// the replica holding the translation).
type BGP struct {
	ASN uint32 `json:"asn"`
	// RouterID is the replica's IPv4 self IP on the first neighbor's VLAN.
	RouterID netip.Addr `json:"routerID"`
	Hostname string     `json:"hostname,omitempty"`
	// GracefulRestart is the restart time announced in seconds; 0 = off.
	GracefulRestart uint16     `json:"gracefulRestart,omitempty"`
	Neighbors       []Neighbor `json:"neighbors,omitempty"`
	// Announce are the host prefixes (/32, /128) this replica originates.
	Announce []netip.Prefix `json:"announce,omitempty"`
}

// Neighbor is one BGP peer of a replica.
type Neighbor struct {
	Address netip.Addr `json:"address"`
	ASN     uint32     `json:"asn"`
	// Password is the TCP MD5 key; empty = none.
	Password string `json:"password,omitempty"`
	// EBGPMultihop is the TTL of the session's packets; 0 = directly
	// connected (TTL 1).
	EBGPMultihop uint8 `json:"ebgpMultihop,omitempty"`
	IPv4         bool  `json:"ipv4,omitempty"`
	IPv6         bool  `json:"ipv6,omitempty"`
	// VLAN is the VLAN the neighbor is reached on; Local is this replica's
	// self IP there of the neighbor's family (the session's source), and
	// NextHop4/NextHop6 are its self IPs announced as next hops.
	VLAN     string     `json:"vlan"`
	Local    netip.Addr `json:"local"`
	NextHop4 netip.Addr `json:"nextHop4,omitzero"`
	NextHop6 netip.Addr `json:"nextHop6,omitzero"`
}

// RedactedPassword stands for a BGP password in what the config API shows.
const RedactedPassword = "(redacted)"

// Redacted is a copy fit to show: every BGP password replaced by
// RedactedPassword (the version stays that of the real content).
func (c *Config) Redacted() *Config {
	out := *c
	if c.BGP != nil {
		b := *c.BGP
		b.Neighbors = append([]Neighbor(nil), c.BGP.Neighbors...)
		for i := range b.Neighbors {
			if b.Neighbors[i].Password != "" {
				b.Neighbors[i].Password = RedactedPassword
			}
		}
		out.BGP = &b
	}
	return &out
}

// Seal sets Version to the hash of the rest of the config.
func (c *Config) Seal() {
	c.Version = ""
	b, err := json.Marshal(c)
	if err != nil {
		// Only unsupported types fail to marshal; Config has none.
		panic("config: marshal: " + err.Error())
	}
	sum := sha256.Sum256(b)
	c.Version = hex.EncodeToString(sum[:8])
}
