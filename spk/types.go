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
	// APIVersionStaticEndpoints and APIVersionStaticNodes are spklab's own
	// group, for standalone mode.
	APIVersionStaticEndpoints = "spklab.io/v1alpha1"
	APIVersionStaticNodes     = "spklab.io/v1alpha1"

	KindVLAN            = "F5SPKVlan"
	KindIngressTCP      = "F5SPKIngressTCP"
	KindSnatpool        = "F5SPKSnatpool"
	KindEgress          = "F5SPKEgress"
	KindStaticRoute     = "F5SPKStaticRoute"
	KindStaticEndpoints = "StaticEndpoints"
	KindStaticNodes     = "StaticNodes"
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

// AnnotationSharedSnatpool marks an F5SPKSnatpool that more than one
// tenant may name ("true"); without it a pool serves the one tenant whose
// F5SPKEgress named it first (see Older), and another tenant's egress
// naming it is rejected.
const AnnotationSharedSnatpool = "spklab.io/shared-snatpool"

// Shared reports whether the pool is marked for several tenants.
func (sp *F5SPKSnatpool) Shared() bool { return sp.Annotations[AnnotationSharedSnatpool] == "true" }

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
// +kubebuilder:object:generate=true
type Status struct {
	// ObservedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are Accepted (the CR is valid and compiled into TMM config)
	// and Programmed (every TMM replica confirmed it).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// AutoLasthop says whether TMM returns packets to the MAC address they came
// from (F5's enum, as in BIG-IP).
// +kubebuilder:validation:Enum=AUTO_LASTHOP_ENABLED;AUTO_LASTHOP_DISABLED;AUTO_LASTHOP_DEFAULT
type AutoLasthop string

// AutoLasthop values.
const (
	AutoLasthopEnabled  AutoLasthop = "AUTO_LASTHOP_ENABLED"
	AutoLasthopDisabled AutoLasthop = "AUTO_LASTHOP_DISABLED"
	AutoLasthopDefault  AutoLasthop = "AUTO_LASTHOP_DEFAULT"
)

// F5SPKVlan configures one TMM VLAN: tag, interfaces, self IPs per replica.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
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
//
// The schema checks one object; what spans F5SPKVlans (one untagged VLAN per
// interface, a tag and a name used by one VLAN only) is checked by the
// controller (Objects.Check), which reports it in the Accepted condition.
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="!has(self.selfip_v4s) || size(self.selfip_v4s) == 0 || has(self.prefixlen_v4)",message="is required when selfip_v4s are given (1–32)",fieldPath=".prefixlen_v4",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.selfip_v6s) || size(self.selfip_v6s) == 0 || has(self.prefixlen_v6)",message="is required when selfip_v6s are given (1–128)",fieldPath=".prefixlen_v6",reason=FieldValueRequired
type F5SPKVlanSpec struct {
	// Name is the VLAN's name in TMM; ingress and egress refer to it. It must
	// be unique among F5SPKVlans (checked by the controller).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name" yaml:"name"`
	// Tag is the 802.1Q VLAN ID, 0–4094; 0 = untagged. One untagged VLAN per
	// interface and a tag used by one VLAN only span objects, so the
	// controller checks them, not the schema.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4094
	Tag int32 `json:"tag" yaml:"tag"`
	// Interfaces are TMM interfaces "1.N": the N-th network attachment of
	// the TMM pod. Each is listed once.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=12
	// +kubebuilder:validation:items:XValidation:rule=`self.matches('^1[.][1-9][0-9]*$')`,messageExpression=`'"' + self + '" is not a TMM interface like "1.1" (1.N is the TMM pod\'s N-th network attachment)'`
	// +kubebuilder:validation:XValidation:rule="self.all(i, self.exists_one(j, j == i))",message="must list each interface once"
	Interfaces []string `json:"interfaces,omitempty" yaml:"interfaces,omitempty"`
	// SelfIPv4s: element i is TMM replica i's IPv4 self IP; each replica
	// needs its own.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	// +kubebuilder:validation:items:XValidation:rule="!isIP(self) || ip(self).family() == 4",messageExpression=`'"' + self + '" is not an IPv4 address'`
	// +kubebuilder:validation:XValidation:rule="self.all(a, !isIP(a) || self.exists_one(b, isIP(b) && ip(b) == ip(a)))",message="lists an address twice; each replica needs its own self IP"
	SelfIPv4s []string `json:"selfip_v4s,omitempty" yaml:"selfip_v4s,omitempty"`
	// PrefixLenV4 is the IPv4 self IPs' prefix length, 1–32; required with
	// selfip_v4s.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	PrefixLenV4 int32 `json:"prefixlen_v4,omitempty" yaml:"prefixlen_v4,omitempty"`
	// SelfIPv6s: element i is TMM replica i's IPv6 self IP; each replica
	// needs its own.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	// +kubebuilder:validation:items:XValidation:rule="!isIP(self) || ip(self).family() == 6",messageExpression=`'"' + self + '" is not an IPv6 address'`
	// +kubebuilder:validation:XValidation:rule="self.all(a, !isIP(a) || self.exists_one(b, isIP(b) && ip(b) == ip(a)))",message="lists an address twice; each replica needs its own self IP"
	SelfIPv6s []string `json:"selfip_v6s,omitempty" yaml:"selfip_v6s,omitempty"`
	// PrefixLenV6 is the IPv6 self IPs' prefix length, 1–128; required with
	// selfip_v6s.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=128
	PrefixLenV6 int32 `json:"prefixlen_v6,omitempty" yaml:"prefixlen_v6,omitempty"`
	// MTU is 1500–9000 (default 1500). In Go, 0 means DefaultMTU.
	// +optional
	// +kubebuilder:default=1500
	// +kubebuilder:validation:Minimum=1500
	// +kubebuilder:validation:Maximum=9000
	MTU int32 `json:"mtu,omitempty" yaml:"mtu,omitempty"`
	// Internal marks the VLAN facing the cluster (egress comes in here).
	// +optional
	Internal bool `json:"internal,omitempty" yaml:"internal,omitempty"`
	// AutoLasthop: whether TMM returns packets to the MAC address they came
	// from (default AUTO_LASTHOP_ENABLED).
	// +optional
	// +kubebuilder:default=AUTO_LASTHOP_ENABLED
	AutoLasthop AutoLasthop `json:"auto_lasthop,omitempty" yaml:"auto_lasthop,omitempty"`
	// Bonded bonds the interfaces into one trunk.
	// +optional
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
// +kubebuilder:validation:Enum=ROUND_ROBIN;RATIO_LEAST_CONN_MEMBER
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
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
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
// +kubebuilder:object:generate=true
type ServiceRef struct {
	// Name is the Service's name, in the F5SPKIngressTCP's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",messageExpression=`'"' + self + '" is not a valid Service name'`
	Name string `json:"name" yaml:"name"`
	// Port is the Service port, 1–65535.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port" yaml:"port"`
}

// F5SPKIngressTCPSpec is the F5SPKIngressTCP spec.
//
// A VIP (address and port) used by one ingress only and VLAN names that
// exist span objects: the controller checks them (Objects.Check).
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="has(self.destinationAddress) || has(self.ipv6destinationAddress)",message="needs destinationAddress or ipv6destinationAddress (or both)"
type F5SPKIngressTCPSpec struct {
	// DestinationAddress is the IPv4 VIP.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip(self).family() == 4",messageExpression=`'"' + self + '" is not an IPv4 address'`
	DestinationAddress string `json:"destinationAddress,omitempty" yaml:"destinationAddress,omitempty"`
	// DestinationPort is the VIP's port, 0–65535; 0 = every port.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	DestinationPort int32 `json:"destinationPort,omitempty" yaml:"destinationPort,omitempty"`
	// IPv6DestinationAddress is the IPv6 VIP.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip(self).family() == 6",messageExpression=`'"' + self + '" is not an IPv6 address'`
	IPv6DestinationAddress string `json:"ipv6destinationAddress,omitempty" yaml:"ipv6destinationAddress,omitempty"`
	// IdleTimeout is the TCP idle timeout in seconds, 1–86400 (default 300);
	// in Go, 0 means DefaultIdleTimeout. A day is the cap because an idle
	// connection kept longer only holds a flow-table entry (MaxTimeout).
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	IdleTimeout int64 `json:"idleTimeout,omitempty" yaml:"idleTimeout,omitempty"`
	// ClientTimeout (seconds, 1–86400) is accepted because the seed's
	// example sets it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	ClientTimeout int64 `json:"clientTimeout,omitempty" yaml:"clientTimeout,omitempty"`
	// LoadBalancingMethod picks the pool member of a new connection
	// (default ROUND_ROBIN).
	// +optional
	// +kubebuilder:default=ROUND_ROBIN
	LoadBalancingMethod LoadBalancingMethod `json:"loadBalancingMethod,omitempty" yaml:"loadBalancingMethod,omitempty"`
	// SNAT translates client sources (automap: to the TMM self IP, so
	// replies return through the same TMM; the default).
	// +optional
	// +kubebuilder:default=SRC_TRANS_AUTOMAP
	// +kubebuilder:validation:Enum=SRC_TRANS_AUTOMAP;SRC_TRANS_NONE
	SNAT SNATType `json:"snat,omitempty" yaml:"snat,omitempty"`
	// VLANs limits the VLANs the virtual server listens on.
	// +optional
	VLANs *VLANList `json:"vlans,omitempty" yaml:"vlans,omitempty"`
	// Monitors health-check the endpoints.
	// +optional
	Monitors *Monitors `json:"monitors,omitempty" yaml:"monitors,omitempty"`
}

// VLANList selects VLANs by F5SPKVlan spec.name: only those listed, or
// (DisableListedVlans) all but those listed. That the names exist spans
// objects: the controller checks it.
// +kubebuilder:object:generate=true
type VLANList struct {
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	VLANList []string `json:"vlanList,omitempty" yaml:"vlanList,omitempty"`
	// +optional
	DisableListedVlans bool `json:"disableListedVlans,omitempty" yaml:"disableListedVlans,omitempty"`
}

// Monitors are the endpoint health monitors of an ingress.
// +kubebuilder:object:generate=true
type Monitors struct {
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ICMP []Monitor `json:"icmp,omitempty" yaml:"icmp,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=8
	TCP []Monitor `json:"tcp,omitempty" yaml:"tcp,omitempty"`
}

// Monitor probes every Interval seconds and marks a member down after
// Timeout seconds without an answer (both 1–86400).
// +kubebuilder:object:generate=true
type Monitor struct {
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	Interval int32 `json:"interval,omitempty" yaml:"interval,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	Timeout int32 `json:"timeout,omitempty" yaml:"timeout,omitempty"`
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
		// forwarded the request (docs/architecture.md, "Packet walks").
		s.SNAT = SNATAutomap
	}
}

// F5SPKSnatpool is a SNAT pool: row i of AddressList belongs to TMM replica
// i; rows may mix IPv4 and IPv6. Egress refers to it by Spec.Name.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKSnatpool struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKSnatpoolSpec `json:"spec" yaml:"spec"`
	Status Status            `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKSnatpoolSpec is the F5SPKSnatpool spec.
// +kubebuilder:object:generate=true
type F5SPKSnatpoolSpec struct {
	// Name is what F5SPKEgress egressSnatpool refers to; unique among
	// snatpools (checked by the controller).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name" yaml:"name"`
	// AddressList: row i holds TMM replica i's addresses. Rows may mix IPv4
	// and IPv6, but every row has the same shape: as many addresses as the
	// first, of the same family at each position. (A row that is empty or
	// has a bad address is reported for that alone.)
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinItems=1
	// +kubebuilder:validation:items:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self.all(r, size(r) == 0 || r.exists(a, !isIP(a)) || self[0].exists(a, !isIP(a)) || r.map(a, ip(a).family()) == self[0].map(a, ip(a).family()))",message="every row needs the shape of the first: as many addresses, of the same family at each position"
	AddressList [][]SNATAddress `json:"addressList" yaml:"addressList"`
	// SharedSnatAddressEnabled lets every replica use every address (replies
	// are forwarded to the replica that owns the flow).
	// +optional
	SharedSnatAddressEnabled bool `json:"sharedSnatAddressEnabled,omitempty" yaml:"sharedSnatAddressEnabled,omitempty"`
}

// SNATAddress is an alias, so AddressList stays a [][]string: it exists
// only so that controller-gen can put a length limit and a rule on the
// strings of the nested list (items markers reach one level down only).

// SNATAddress is an IPv4 or IPv6 address of a snatpool row.
// +kubebuilder:validation:MaxLength=45
// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
type SNATAddress = string

// SetDefaults exists for symmetry; F5SPKSnatpool has no defaulted field.
func (*F5SPKSnatpool) SetDefaults() {}

// F5SPKEgress translates the sources of pod traffic leaving the cluster
// (its namespace's pods, in spklab), optionally with NAT64 and DNS46.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKEgress struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKEgressSpec `json:"spec" yaml:"spec"`
	Status Status          `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKEgressSpec is the F5SPKEgress spec (the v2 fields, plus snatType and
// vlans from later versions).
//
// That egressSnatpool names an existing F5SPKSnatpool with enough rows, and
// the VLAN names, span objects: the controller checks them (Objects.Check).
// The tenant's VXLAN key annotation is checked there too (a CRD schema
// cannot see annotations).
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="!has(self.snatType) || self.snatType != 'SRC_TRANS_SNATPOOL' || (has(self.egressSnatpool) && size(self.egressSnatpool) > 0)",message="is required when snatType is SRC_TRANS_SNATPOOL",fieldPath=".egressSnatpool",reason=FieldValueRequired
type F5SPKEgressSpec struct {
	// EgressSnatpool names an F5SPKSnatpool by its spec.name.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	EgressSnatpool string `json:"egressSnatpool,omitempty" yaml:"egressSnatpool,omitempty"`
	// SNATType: unset means SRC_TRANS_SNATPOOL when egressSnatpool is set,
	// else SRC_TRANS_AUTOMAP (the controller fills it; it depends on
	// another field, so the schema has no default).
	// +optional
	// +kubebuilder:validation:Enum=SRC_TRANS_NONE;SRC_TRANS_SNATPOOL;SRC_TRANS_AUTOMAP
	SNATType SNATType `json:"snatType,omitempty" yaml:"snatType,omitempty"`
	// +optional
	DualStackEnabled bool `json:"dualStackEnabled,omitempty" yaml:"dualStackEnabled,omitempty"`
	// MaxTmmReplicas is how many TMM replicas share the egress (and so how
	// many snatpool rows are used).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxTmmReplicas int32 `json:"maxTmmReplicas,omitempty" yaml:"maxTmmReplicas,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxReservedStaticIps int32 `json:"maxReservedStaticIps,omitempty" yaml:"maxReservedStaticIps,omitempty"`

	// +optional
	NAT64Enabled bool `json:"nat64Enabled,omitempty" yaml:"nat64Enabled,omitempty"`
	// NAT64Ipv6Subnet is the /96 IPv6 prefix IPv4 destinations are embedded
	// in (RFC 6052; the controller uses 64:ff9b::/96 when NAT64 is on and
	// this is unset).
	// +optional
	// +kubebuilder:validation:MaxLength=49
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",messageExpression=`'"' + self + '" is not a CIDR'`
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() == 6",messageExpression=`'"' + self + '" is not an IPv6 CIDR'`
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",messageExpression=`'"' + self + '" has host bits set'`
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() != 6 || cidr(self).prefixLength() == 96",messageExpression=`'"' + self + '" is not a /96 (NAT64 puts the IPv4 destination in the last 32 bits)'`
	NAT64Ipv6Subnet string `json:"nat64Ipv6Subnet,omitempty" yaml:"nat64Ipv6Subnet,omitempty"`

	// +optional
	DNSNat46Enabled bool `json:"dnsNat46Enabled,omitempty" yaml:"dnsNat46Enabled,omitempty"`
	// DNSNat46PoolIps are the DNS servers DNS46 queries go to.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=45
	// +kubebuilder:validation:items:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	DNSNat46PoolIps []string `json:"dnsNat46PoolIps,omitempty" yaml:"dnsNat46PoolIps,omitempty"`
	// DNSNat46Ipv4Subnet is the pool IPv4 addresses are handed out from for
	// IPv6-only destinations.
	// +optional
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",messageExpression=`'"' + self + '" is not a CIDR'`
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() == 4",messageExpression=`'"' + self + '" is not an IPv4 CIDR'`
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",messageExpression=`'"' + self + '" has host bits set'`
	DNSNat46Ipv4Subnet string `json:"dnsNat46Ipv4Subnet,omitempty" yaml:"dnsNat46Ipv4Subnet,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip(self).family() == 4",messageExpression=`'"' + self + '" is not an IPv4 address'`
	DNSNat46SorryIp string `json:"dnsNat46SorryIp,omitempty" yaml:"dnsNat46SorryIp,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxDNS46TTL int32 `json:"maxDNS46TTL,omitempty" yaml:"maxDNS46TTL,omitempty"`
	// +optional
	DNSCacheName string `json:"dnsCacheName,omitempty" yaml:"dnsCacheName,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	DNSRateLimit int64 `json:"dnsRateLimit,omitempty" yaml:"dnsRateLimit,omitempty"`

	// +optional
	DebugLogEnabled bool `json:"debugLogEnabled,omitempty" yaml:"debugLogEnabled,omitempty"`
	// VLANs limits the VLANs egress traffic is accepted on.
	// +optional
	VLANs *VLANList `json:"vlans,omitempty" yaml:"vlans,omitempty"`
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
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKStaticRoute struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Spec   F5SPKStaticRouteSpec `json:"spec" yaml:"spec"`
	Status Status               `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// F5SPKStaticRouteSpec is the F5SPKStaticRoute spec, with F5's field names.
//
// That the destination has no host bits set for prefixLen is checked by the
// controller (Objects.Check): a CEL rule would have to build the CIDR from
// an integer, whose string the API server's cost estimate cannot bound.
// +kubebuilder:object:generate=true
// +kubebuilder:validation:XValidation:rule="!isIP(self.destination) || self.prefixLen <= (ip(self.destination).family() == 4 ? 32 : 128)",message="is out of range for the destination's family (0–32 for IPv4, 0–128 for IPv6)",fieldPath=".prefixLen"
// +kubebuilder:validation:XValidation:rule="has(self.gateway) && size(self.gateway) > 0",message="must not be empty for a gateway route",fieldPath=".gateway",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || !isIP(self.destination) || !isIP(self.gateway) || ip(self.gateway).family() == ip(self.destination).family()",messageExpression=`self.gateway + ' is ' + (ip(self.gateway).family() == 4 ? 'IPv4' : 'IPv6') + ' but the destination is ' + (ip(self.destination).family() == 4 ? 'IPv4' : 'IPv6')`,fieldPath=".gateway"
type F5SPKStaticRouteSpec struct {
	// Destination is the network address (host bits zero).
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
	Destination string `json:"destination" yaml:"destination"`
	// PrefixLen is the destination's prefix length: 0–32 for IPv4, 0–128
	// for IPv6.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	PrefixLen int32 `json:"prefixLen" yaml:"prefixLen"`
	// Type is "gateway" (the default), the only type spklab implements.
	// +optional
	// +kubebuilder:default=gateway
	// +kubebuilder:validation:Enum=gateway
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// Gateway is the next hop, of the destination's family.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression=`'"' + self + '" is not an IP address'`
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
// Services, EndpointSlices and Nodes when there is no Kubernetes. It has no
// CRD.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type StaticEndpoints struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Endpoints []StaticEndpoint `json:"endpoints" yaml:"endpoints"`
	Status    Status           `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// StaticEndpoint is one ready pod: its IP and port, the node hosting it and
// that node's egress-net address (where TMM sends the pod's packets).
// +kubebuilder:object:generate=true
type StaticEndpoint struct {
	IP          string `json:"ip" yaml:"ip"`
	Port        int32  `json:"port" yaml:"port"`
	Node        string `json:"node,omitempty" yaml:"node,omitempty"`
	NodeAddress string `json:"nodeAddress" yaml:"nodeAddress"`
}

// SetDefaults exists for symmetry; StaticEndpoints has no defaulted field.
func (*StaticEndpoints) SetDefaults() {}

// StaticNodes is spklab's own kind for standalone mode: the cluster's
// nodes with their egress-net addresses, replacing Nodes and their address
// annotation when there is no Kubernetes. Those addresses are the only
// senders a TMM takes tenant VXLAN from (config.Config.VTEPs). It has no
// CRD.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type StaticNodes struct {
	metav1.TypeMeta   `json:",inline" yaml:"-"`
	metav1.ObjectMeta `json:"metadata,omitempty" yaml:"-"`

	Nodes  []StaticNode `json:"nodes" yaml:"nodes"`
	Status Status       `json:"status,omitempty" yaml:"-"`

	Source string `json:"-" yaml:"-"`
}

// StaticNode is one node and its egress-net addresses (at least one).
// +kubebuilder:object:generate=true
type StaticNode struct {
	Name string `json:"name" yaml:"name"`
	IPv4 string `json:"ipv4,omitempty" yaml:"ipv4,omitempty"`
	IPv6 string `json:"ipv6,omitempty" yaml:"ipv6,omitempty"`
}

// The list types the API server returns for each kind with a CRD.

// F5SPKVlanList is a list of F5SPKVlan.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKVlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []F5SPKVlan `json:"items"`
}

// F5SPKIngressTCPList is a list of F5SPKIngressTCP.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKIngressTCPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []F5SPKIngressTCP `json:"items"`
}

// F5SPKSnatpoolList is a list of F5SPKSnatpool.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKSnatpoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []F5SPKSnatpool `json:"items"`
}

// F5SPKEgressList is a list of F5SPKEgress.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKEgressList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []F5SPKEgress `json:"items"`
}

// F5SPKStaticRouteList is a list of F5SPKStaticRoute.
// +kubebuilder:object:root=true
// +kubebuilder:object:generate=true
type F5SPKStaticRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []F5SPKStaticRoute `json:"items"`
}

// Objects is a set of CRs: what a directory of CR files holds, or what the
// lab applies for a topology.
type Objects struct {
	VLANs     []F5SPKVlan
	Ingresses []F5SPKIngressTCP
	Snatpools []F5SPKSnatpool
	Egresses  []F5SPKEgress
	Routes    []F5SPKStaticRoute
	Endpoints []StaticEndpoints
	Nodes     []StaticNodes
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
	case KindStaticNodes:
		o.Nodes = slices.DeleteFunc(o.Nodes, func(v StaticNodes) bool { return match(&v.ObjectMeta) })
	}
	return o.Len() < n
}

// Len is the number of objects.
func (o *Objects) Len() int {
	return len(o.VLANs) + len(o.Ingresses) + len(o.Snatpools) + len(o.Egresses) + len(o.Routes) + len(o.Endpoints) + len(o.Nodes)
}
