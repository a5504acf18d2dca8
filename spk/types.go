// Package spk holds the SPK custom resources as Go types (same groups,
// kinds and field names as F5's SPK CRDs), loads them strictly from YAML
// files, checks them, and produces the set a topology applies.
//
// The types back the CRDs the controller serves and the files
// `spk-tmm --config DIR` reads in standalone mode, so they are Kubernetes API
// types: TypeMeta and ObjectMeta embedded, json tags as F5 spells them. The
// yaml tags (same names) are what the strict file loader decodes.
package spk

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// API versions and kinds, as F5 names them.
const (
	APIVersionVLAN       = "k8s.f5net.com/v1"
	APIVersionIngressTCP = "ingresstcp.k8s.f5net.com/v1"
	APIVersionSnatpool   = "k8s.f5net.com/v1"
	// APIVersionEgress is the version the seed's example uses; v3 adds
	// pseudoCNIConfig, which spklab's node agent replaces.
	APIVersionEgress      = "k8s.f5net.com/v2"
	APIVersionStaticRoute = "k8s.f5net.com/v1"
	// APIVersionStaticEndpoints is spklab's own group, for standalone mode.
	APIVersionStaticEndpoints = "spklab.io/v1alpha1"

	KindVLAN            = "F5SPKVlan"
	KindIngressTCP      = "F5SPKIngressTCP"
	KindSnatpool        = "F5SPKSnatpool"
	KindEgress          = "F5SPKEgress"
	KindStaticRoute     = "F5SPKStaticRoute"
	KindStaticEndpoints = "StaticEndpoints"
)

// Condition types every CR gets in its status.
const (
	// ConditionAccepted: the CR is valid and was compiled into TMM config.
	ConditionAccepted = "Accepted"
	// ConditionProgrammed: every TMM replica confirmed the config.
	ConditionProgrammed = "Programmed"
)

// LabelManagedBy marks the CRs spklab makes, so teardown removes exactly those.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	ManagedBySPKLab = "spklab"
)

// AnnotationVXLANKey on an F5SPKEgress sets the VNI of its tenant's egress
// tunnel from the nodes to TMM (spklab's stand-in for F5's pseudo-CNI
// settings). Without it the key is derived from the namespace (DerivedVXLANKey),
// so the node agent and TMM agree with no extra configuration.
const AnnotationVXLANKey = "spklab.io/vxlan-key"

// MaxVXLANKey is the largest 24-bit VNI.
const MaxVXLANKey = 1<<24 - 1

// Defaults F5 documents for fields left unset.
const (
	DefaultMTU         = 1500
	DefaultIdleTimeout = 300 // seconds
	// DefaultNAT64Subnet is the well-known NAT64 prefix (RFC 6052).
	DefaultNAT64Subnet = "64:ff9b::/96"
)

// Status is the status every CR carries: conditions Accepted and Programmed
// (reason and message say e.g. which replica has not confirmed), so that
// `kubectl wait --for=condition=Programmed` works.
type Status struct {
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// AutoLasthop says whether TMM returns packets to the MAC address they came
// from (F5's enum, as in BIG-IP).
type AutoLasthop string

// AutoLasthop values.
const (
	AutoLasthopEnabled  AutoLasthop = "AUTO_LASTHOP_ENABLED"
	AutoLasthopDisabled AutoLasthop = "AUTO_LASTHOP_DISABLED"
	AutoLasthopDefault  AutoLasthop = "AUTO_LASTHOP_DEFAULT"
)

// F5SPKVlan configures one TMM VLAN: tag, interfaces, self IPs per replica.
type F5SPKVlan struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKVlanSpec `json:"spec" yaml:"spec"`
	Status Status        `json:"status,omitempty" yaml:"-"`

	// Source is where the object was read from ("file" or "file#N" for the
	// N-th document of a multi-document file); empty when built in code.
	Source string `json:"-" yaml:"-"`
}

// F5SPKVlanSpec is the F5SPKVlan spec.
type F5SPKVlanSpec struct {
	// Name is the VLAN's name in TMM; ingress and egress refer to it.
	Name string `json:"name" yaml:"name"`
	// Tag is the 802.1Q VLAN ID; 0 = untagged (one untagged VLAN per
	// interface, and a tag is used by one VLAN only).
	Tag int32 `json:"tag" yaml:"tag"`
	// Interfaces are TMM interfaces "1.N": the N-th network attachment of
	// the TMM pod.
	Interfaces []string `json:"interfaces,omitempty" yaml:"interfaces,omitempty"`
	// SelfIPv4s: element i is TMM replica i's IPv4 self IP.
	SelfIPv4s   []string `json:"selfip_v4s,omitempty" yaml:"selfip_v4s,omitempty"`
	PrefixLenV4 int32    `json:"prefixlen_v4,omitempty" yaml:"prefixlen_v4,omitempty"`
	// SelfIPv6s: element i is TMM replica i's IPv6 self IP.
	SelfIPv6s   []string `json:"selfip_v6s,omitempty" yaml:"selfip_v6s,omitempty"`
	PrefixLenV6 int32    `json:"prefixlen_v6,omitempty" yaml:"prefixlen_v6,omitempty"`
	// MTU is 1500–9000; 0 means DefaultMTU.
	MTU int32 `json:"mtu,omitempty" yaml:"mtu,omitempty"`
	// Internal marks the VLAN facing the cluster (egress comes in here).
	Internal    bool        `json:"internal,omitempty" yaml:"internal,omitempty"`
	AutoLasthop AutoLasthop `json:"auto_lasthop,omitempty" yaml:"auto_lasthop,omitempty"`
	// Bonded bonds the interfaces into one trunk.
	Bonded bool `json:"bonded,omitempty" yaml:"bonded,omitempty"`
}

// SetDefaults fills what F5 defaults when unset.
func (v *F5SPKVlan) SetDefaults() {
	if v.Spec.MTU == 0 {
		v.Spec.MTU = DefaultMTU
	}
	if v.Spec.AutoLasthop == "" {
		v.Spec.AutoLasthop = AutoLasthopEnabled
	}
}

// LoadBalancingMethod picks the pool member for a new connection.
type LoadBalancingMethod string

// LoadBalancingMethod values.
const (
	RoundRobin           LoadBalancingMethod = "ROUND_ROBIN"
	RatioLeastConnMember LoadBalancingMethod = "RATIO_LEAST_CONN_MEMBER"
)

// SNATType is a source address translation mode, as F5 spells it.
type SNATType string

// SNATType values.
const (
	// SNATNone keeps the source address.
	SNATNone SNATType = "SRC_TRANS_NONE"
	// SNATPool translates to the replica's row of the egress snatpool.
	SNATPool SNATType = "SRC_TRANS_SNATPOOL"
	// SNATAutomap translates to the TMM's self IP on the way out.
	SNATAutomap SNATType = "SRC_TRANS_AUTOMAP"
)

// F5SPKIngressTCP is a TCP virtual server whose pool is the ready endpoints
// of a Service. Service sits beside spec, as in F5's CRD.
type F5SPKIngressTCP struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Service ServiceRef          `json:"service" yaml:"service"`
	Spec    F5SPKIngressTCPSpec `json:"spec" yaml:"spec"`
	Status  Status              `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// ServiceRef names the Service (in the CR's namespace) whose endpoints form
// the pool.
type ServiceRef struct {
	Name string `json:"name" yaml:"name"`
	Port int32  `json:"port" yaml:"port"`
}

// F5SPKIngressTCPSpec is the F5SPKIngressTCP spec.
type F5SPKIngressTCPSpec struct {
	// DestinationAddress is the IPv4 VIP.
	DestinationAddress string `json:"destinationAddress,omitempty" yaml:"destinationAddress,omitempty"`
	// DestinationPort is the VIP's port; 0 = every port.
	DestinationPort int32 `json:"destinationPort,omitempty" yaml:"destinationPort,omitempty"`
	// IPv6DestinationAddress is the IPv6 VIP.
	IPv6DestinationAddress string `json:"ipv6destinationAddress,omitempty" yaml:"ipv6destinationAddress,omitempty"`
	// IdleTimeout is the TCP idle timeout in seconds; 0 means DefaultIdleTimeout.
	IdleTimeout int64 `json:"idleTimeout,omitempty" yaml:"idleTimeout,omitempty"`
	// ClientTimeout (seconds) is accepted because the seed's example sets it.
	ClientTimeout       int64               `json:"clientTimeout,omitempty" yaml:"clientTimeout,omitempty"`
	LoadBalancingMethod LoadBalancingMethod `json:"loadBalancingMethod,omitempty" yaml:"loadBalancingMethod,omitempty"`
	// SNAT translates client sources (automap: to the TMM self IP, so
	// replies return through the same TMM).
	SNAT SNATType `json:"snat,omitempty" yaml:"snat,omitempty"`
	// VLANs limits the VLANs the virtual server listens on.
	VLANs *VLANList `json:"vlans,omitempty" yaml:"vlans,omitempty"`
	// Monitors health-check the endpoints.
	Monitors *Monitors `json:"monitors,omitempty" yaml:"monitors,omitempty"`
}

// VLANList selects VLANs by F5SPKVlan spec.name: only those listed, or
// (DisableListedVlans) all but those listed.
type VLANList struct {
	VLANList           []string `json:"vlanList,omitempty" yaml:"vlanList,omitempty"`
	DisableListedVlans bool     `json:"disableListedVlans,omitempty" yaml:"disableListedVlans,omitempty"`
}

// Monitors are the endpoint health monitors of an ingress.
type Monitors struct {
	ICMP []Monitor `json:"icmp,omitempty" yaml:"icmp,omitempty"`
	TCP  []Monitor `json:"tcp,omitempty" yaml:"tcp,omitempty"`
}

// Monitor probes every Interval seconds and marks a member down after
// Timeout seconds without an answer.
type Monitor struct {
	Interval int32 `json:"interval,omitempty" yaml:"interval,omitempty"`
	Timeout  int32 `json:"timeout,omitempty" yaml:"timeout,omitempty"`
}

// SetDefaults fills what F5 (and spklab, for snat) defaults when unset.
func (in *F5SPKIngressTCP) SetDefaults() {
	s := &in.Spec
	if s.IdleTimeout == 0 {
		s.IdleTimeout = DefaultIdleTimeout
	}
	if s.LoadBalancingMethod == "" {
		s.LoadBalancingMethod = RoundRobin
	}
	if s.SNAT == "" {
		// Automap, so that replies come back through the TMM that
		// forwarded the request (DESIGN.md §3).
		s.SNAT = SNATAutomap
	}
}

// F5SPKSnatpool is a SNAT pool: row i of AddressList belongs to TMM replica
// i; rows may mix IPv4 and IPv6. Egress refers to it by Spec.Name.
type F5SPKSnatpool struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKSnatpoolSpec `json:"spec" yaml:"spec"`
	Status Status            `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKSnatpoolSpec is the F5SPKSnatpool spec.
type F5SPKSnatpoolSpec struct {
	Name        string     `json:"name" yaml:"name"`
	AddressList [][]string `json:"addressList" yaml:"addressList"`
	// SharedSnatAddressEnabled lets every replica use every address (replies
	// are forwarded to the replica that owns the flow).
	SharedSnatAddressEnabled bool `json:"sharedSnatAddressEnabled,omitempty" yaml:"sharedSnatAddressEnabled,omitempty"`
}

// SetDefaults exists for symmetry; F5SPKSnatpool has no defaulted field.
func (*F5SPKSnatpool) SetDefaults() {}

// F5SPKEgress translates the sources of pod traffic leaving the cluster
// (its namespace's pods, in spklab), optionally with NAT64 and DNS46.
type F5SPKEgress struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKEgressSpec `json:"spec" yaml:"spec"`
	Status Status          `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKEgressSpec is the F5SPKEgress spec (the v2 fields, plus snatType and
// vlans from later versions).
type F5SPKEgressSpec struct {
	// EgressSnatpool names an F5SPKSnatpool by its spec.name.
	EgressSnatpool string `json:"egressSnatpool,omitempty" yaml:"egressSnatpool,omitempty"`
	// SNATType: empty means SNATPool when EgressSnatpool is set, else Automap.
	SNATType         SNATType `json:"snatType,omitempty" yaml:"snatType,omitempty"`
	DualStackEnabled bool     `json:"dualStackEnabled,omitempty" yaml:"dualStackEnabled,omitempty"`
	// MaxTmmReplicas is how many TMM replicas share the egress (and so how
	// many snatpool rows are used).
	MaxTmmReplicas       int32 `json:"maxTmmReplicas,omitempty" yaml:"maxTmmReplicas,omitempty"`
	MaxReservedStaticIps int32 `json:"maxReservedStaticIps,omitempty" yaml:"maxReservedStaticIps,omitempty"`

	NAT64Enabled bool `json:"nat64Enabled,omitempty" yaml:"nat64Enabled,omitempty"`
	// NAT64Ipv6Subnet is the prefix IPv4 destinations are embedded in.
	NAT64Ipv6Subnet string `json:"nat64Ipv6Subnet,omitempty" yaml:"nat64Ipv6Subnet,omitempty"`

	DNSNat46Enabled bool `json:"dnsNat46Enabled,omitempty" yaml:"dnsNat46Enabled,omitempty"`
	// DNSNat46PoolIps are the DNS servers DNS46 queries go to.
	DNSNat46PoolIps []string `json:"dnsNat46PoolIps,omitempty" yaml:"dnsNat46PoolIps,omitempty"`
	// DNSNat46Ipv4Subnet is the pool IPv4 addresses are handed out from for
	// IPv6-only destinations.
	DNSNat46Ipv4Subnet string `json:"dnsNat46Ipv4Subnet,omitempty" yaml:"dnsNat46Ipv4Subnet,omitempty"`
	DNSNat46SorryIp    string `json:"dnsNat46SorryIp,omitempty" yaml:"dnsNat46SorryIp,omitempty"`
	MaxDNS46TTL        int32  `json:"maxDNS46TTL,omitempty" yaml:"maxDNS46TTL,omitempty"`
	DNSCacheName       string `json:"dnsCacheName,omitempty" yaml:"dnsCacheName,omitempty"`
	DNSRateLimit       int64  `json:"dnsRateLimit,omitempty" yaml:"dnsRateLimit,omitempty"`

	DebugLogEnabled bool      `json:"debugLogEnabled,omitempty" yaml:"debugLogEnabled,omitempty"`
	VLANs           *VLANList `json:"vlans,omitempty" yaml:"vlans,omitempty"`
}

// EffectiveSNATType is the SNAT mode the egress uses.
func (e *F5SPKEgress) EffectiveSNATType() SNATType {
	switch {
	case e.Spec.SNATType != "":
		return e.Spec.SNATType
	case e.Spec.EgressSnatpool != "":
		return SNATPool
	}
	return SNATAutomap
}

// SetDefaults fills the SNAT type and, with NAT64 on, its prefix.
func (e *F5SPKEgress) SetDefaults() {
	e.Spec.SNATType = e.EffectiveSNATType()
	if e.Spec.NAT64Enabled && e.Spec.NAT64Ipv6Subnet == "" {
		e.Spec.NAT64Ipv6Subnet = DefaultNAT64Subnet
	}
}

// VXLANKey is the VNI of the egress's tenant: the annotation when set and
// valid, else DerivedVXLANKey of the namespace. ok is false when the
// annotation is present but not a VNI (Check reports it).
func (e *F5SPKEgress) VXLANKey() (vni uint32, ok bool) {
	s, set := e.Annotations[AnnotationVXLANKey]
	if !set {
		return DerivedVXLANKey(e.Namespace), true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil || n < 1 || n > MaxVXLANKey {
		return 0, false
	}
	return uint32(n), true
}

// DerivedVXLANKey maps a namespace to a VNI in [4096, MaxVXLANKey] with FNV-1a,
// above the small keys people write by hand.
func DerivedVXLANKey(namespace string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(namespace))
	return 4096 + h.Sum32()%(MaxVXLANKey-4096+1)
}

// RouteTypeGateway is the only F5SPKStaticRoute type spklab implements: the
// destination is reached through the gateway.
const RouteTypeGateway = "gateway"

// F5SPKStaticRoute is a static route in TMM's routing table.
type F5SPKStaticRoute struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKStaticRouteSpec `json:"spec" yaml:"spec"`
	Status Status               `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKStaticRouteSpec is the F5SPKStaticRoute spec, with F5's field names.
type F5SPKStaticRouteSpec struct {
	// Destination is the network address (host bits zero).
	Destination string `json:"destination" yaml:"destination"`
	PrefixLen   int32  `json:"prefixLen" yaml:"prefixLen"`
	// Type is "gateway" (the default).
	Type    string `json:"type,omitempty" yaml:"type,omitempty"`
	Gateway string `json:"gateway,omitempty" yaml:"gateway,omitempty"`
}

// SetDefaults fills the route type.
func (r *F5SPKStaticRoute) SetDefaults() {
	if r.Spec.Type == "" {
		r.Spec.Type = RouteTypeGateway
	}
}

// StaticEndpoints is spklab's own kind for standalone mode: the ready
// endpoints of the Service named by metadata.name/namespace, replacing
// Services, EndpointSlices and Nodes when there is no Kubernetes.
type StaticEndpoints struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Endpoints []StaticEndpoint `json:"endpoints" yaml:"endpoints"`
	Status    Status           `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// StaticEndpoint is one ready pod: its IP and port, the node hosting it and
// that node's egress-net address (where TMM sends the pod's packets).
type StaticEndpoint struct {
	IP          string `json:"ip" yaml:"ip"`
	Port        int32  `json:"port" yaml:"port"`
	Node        string `json:"node,omitempty" yaml:"node,omitempty"`
	NodeAddress string `json:"nodeAddress" yaml:"nodeAddress"`
}

// SetDefaults exists for symmetry; StaticEndpoints has no defaulted field.
func (*StaticEndpoints) SetDefaults() {}

// Objects is a set of CRs: what a directory of CR files holds, or what the
// lab applies for a topology.
type Objects struct {
	VLANs     []F5SPKVlan
	Ingresses []F5SPKIngressTCP
	Snatpools []F5SPKSnatpool
	Egresses  []F5SPKEgress
	Routes    []F5SPKStaticRoute
	Endpoints []StaticEndpoints
	// Routing is the TMM's dynamic routing from the Helm values (not a CR);
	// nil = none.
	Routing *DynamicRouting
}

// SetDefaults fills every object's defaults.
func (o *Objects) SetDefaults() {
	for i := range o.VLANs {
		o.VLANs[i].SetDefaults()
	}
	for i := range o.Ingresses {
		o.Ingresses[i].SetDefaults()
	}
	for i := range o.Egresses {
		o.Egresses[i].SetDefaults()
	}
	for i := range o.Routes {
		o.Routes[i].SetDefaults()
	}
}

// Snatpool returns the snatpool whose spec.name is name, or nil.
func (o *Objects) Snatpool(name string) *F5SPKSnatpool {
	for i := range o.Snatpools {
		if o.Snatpools[i].Spec.Name == name {
			return &o.Snatpools[i]
		}
	}
	return nil
}

// typeMeta builds the TypeMeta of a kind.
func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// Remove deletes the object of kind with that namespace and name; it
// reports whether there was one.
func (o *Objects) Remove(kind, namespace, name string) bool {
	match := func(m *metav1.ObjectMeta) bool { return m.Namespace == namespace && m.Name == name }
	n := o.Len()
	switch kind {
	case KindVLAN:
		o.VLANs = slices.DeleteFunc(o.VLANs, func(v F5SPKVlan) bool { return match(&v.ObjectMeta) })
	case KindIngressTCP:
		o.Ingresses = slices.DeleteFunc(o.Ingresses, func(v F5SPKIngressTCP) bool { return match(&v.ObjectMeta) })
	case KindSnatpool:
		o.Snatpools = slices.DeleteFunc(o.Snatpools, func(v F5SPKSnatpool) bool { return match(&v.ObjectMeta) })
	case KindEgress:
		o.Egresses = slices.DeleteFunc(o.Egresses, func(v F5SPKEgress) bool { return match(&v.ObjectMeta) })
	case KindStaticRoute:
		o.Routes = slices.DeleteFunc(o.Routes, func(v F5SPKStaticRoute) bool { return match(&v.ObjectMeta) })
	case KindStaticEndpoints:
		o.Endpoints = slices.DeleteFunc(o.Endpoints, func(v StaticEndpoints) bool { return match(&v.ObjectMeta) })
	}
	return o.Len() < n
}

// Len is the number of objects.
func (o *Objects) Len() int {
	return len(o.VLANs) + len(o.Ingresses) + len(o.Snatpools) + len(o.Egresses) + len(o.Routes) + len(o.Endpoints)
}
