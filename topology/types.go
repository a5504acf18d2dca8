// Package topology is the lab model: every name, subnet, address, VLAN, ASN,
// node and image of an spklab lab, the built-in labs, loading and validating
// spklab.yaml, and pure renderers (kind config, docker networks, compose, FRR,
// NADs, diagram). Both runtimes (kind and netns) consume the same Topology.
//
// Nothing here does I/O beyond reading the topology file.
package topology

// Topology is one lab. Field names are the YAML keys of spklab.yaml.
type Topology struct {
	// Base names the built-in lab this one starts from ("default" or
	// "seed-example"); fields set in the file override it.
	Base     string    `yaml:"base,omitempty" json:"base,omitempty"`
	Cluster  Cluster   `yaml:"cluster" json:"cluster"`
	CNI      CNI       `yaml:"cni" json:"cni"`
	Images   Images    `yaml:"images" json:"images"`
	Networks []Network `yaml:"networks" json:"networks"`
	Infra    Infra     `yaml:"infra" json:"infra"`
	Router   Router    `yaml:"router" json:"router"`
	Client   Client    `yaml:"client" json:"client"`
	Syslog   Syslog    `yaml:"syslog" json:"syslog"`
	SPK      SPK       `yaml:"spk" json:"spk"`
	TMM      TMM       `yaml:"tmm" json:"tmm"`
	Tenants  []Tenant  `yaml:"tenants" json:"tenants"`
}

// Cluster is the kind cluster. Node names are not configurable: kind derives
// them from the cluster name and role (see NodeNames).
type Cluster struct {
	Name              string `yaml:"name" json:"name"`
	KubernetesVersion string `yaml:"kubernetesVersion" json:"kubernetesVersion"`
	PodSubnet         string `yaml:"podSubnet" json:"podSubnet"`
	ServiceSubnet     string `yaml:"serviceSubnet" json:"serviceSubnet"`
	Nodes             []Node `yaml:"nodes" json:"nodes"`
	// TMMNodes are the nodes that stand for DPU hosts: they get TMMNodeLabel
	// and TMMNodeTaint, and only TMM pods run there.
	TMMNodes     []string `yaml:"tmmNodes" json:"tmmNodes"`
	TMMNodeLabel string   `yaml:"tmmNodeLabel" json:"tmmNodeLabel"` // key=value
	TMMNodeTaint string   `yaml:"tmmNodeTaint" json:"tmmNodeTaint"` // key=value:Effect
}

// Node roles, as kind spells them.
const (
	RoleControlPlane = "control-plane"
	RoleWorker       = "worker"
)

// Node is one kind node.
type Node struct {
	Role string `yaml:"role" json:"role"`
}

// CNI pins the versions of the cluster's networking add-ons.
type CNI struct {
	CalicoVersion     string `yaml:"calicoVersion" json:"calicoVersion"`
	MultusVersion     string `yaml:"multusVersion" json:"multusVersion"`
	CNIPluginsVersion string `yaml:"cniPluginsVersion" json:"cniPluginsVersion"`
}

// Images names every image the lab runs.
type Images struct {
	Node       string `yaml:"node" json:"node"`
	Router     string `yaml:"router" json:"router"`
	Client     string `yaml:"client" json:"client"`
	Syslog     string `yaml:"syslog" json:"syslog"`
	TMM        string `yaml:"tmm" json:"tmm"`
	Controller string `yaml:"controller" json:"controller"`
	NodeAgent  string `yaml:"nodeAgent" json:"nodeAgent"`
	App        string `yaml:"app" json:"app"`
}

// Network drivers.
const (
	DriverBridge  = "bridge"
	DriverMacvlan = "macvlan"
)

// Network is a docker network. Networks that kind nodes attach to are
// created by spklab (and are external to the compose project); the others
// belong to the compose project and docker names them "<project>_<name>".
type Network struct {
	Name        string `yaml:"name" json:"name"`
	Driver      string `yaml:"driver" json:"driver"`
	IPv4Subnet  string `yaml:"ipv4Subnet,omitempty" json:"ipv4Subnet,omitempty"`
	IPv4Gateway string `yaml:"ipv4Gateway,omitempty" json:"ipv4Gateway,omitempty"`
	IPv6Subnet  string `yaml:"ipv6Subnet,omitempty" json:"ipv6Subnet,omitempty"`
	IPv6Gateway string `yaml:"ipv6Gateway,omitempty" json:"ipv6Gateway,omitempty"`
	// Attach says how kind nodes join this network; nil means no node does.
	Attach *NodeAttachment `yaml:"attach,omitempty" json:"attach,omitempty"`
}

// NodeAttachment connects kind nodes to a network.
type NodeAttachment struct {
	// Nodes that get an interface on the network; empty means every worker.
	Nodes []string `yaml:"nodes,omitempty" json:"nodes,omitempty"`
	// Interface is the name the network gets inside each node (eth1, eth2…).
	Interface string `yaml:"interface" json:"interface"`
	// KeepAddress keeps the node's address on Interface; false flushes it so
	// only TMM (through its Multus attachment) uses the wire.
	KeepAddress bool `yaml:"keepAddress" json:"keepAddress"`
	// VLAN, when not 0, puts the node addresses on Interface.VLAN instead of
	// Interface (a tagged TMM VLAN on this network).
	VLAN int `yaml:"vlan,omitempty" json:"vlan,omitempty"`
	// Addresses pins each node's address; nodes left out get one from docker.
	Addresses []NodeAddress `yaml:"addresses,omitempty" json:"addresses,omitempty"`
	// Annotation, when set, records the node's address on the Kubernetes node
	// as {"ipv4":"a/len","ipv6":"b/len"} (SPK reads k8s.ovn.org/node-primary-ifaddr).
	Annotation string `yaml:"annotation,omitempty" json:"annotation,omitempty"`
}

// NodeAddress is one node's address on a network.
type NodeAddress struct {
	Node string `yaml:"node" json:"node"`
	IPv4 string `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6 string `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
}

// Infra is the docker compose project holding router, client and syslog.
type Infra struct {
	Project string `yaml:"project" json:"project"`
}

// Router is the external FRR router.
type Router struct {
	// Service is the compose service name; the container is
	// "<project>-<service>-1".
	Service    string            `yaml:"service" json:"service"`
	ASN        int64             `yaml:"asn" json:"asn"`
	RouterID   string            `yaml:"routerID" json:"routerID"`
	Interfaces []RouterInterface `yaml:"interfaces" json:"interfaces"`
	// ListenRanges are the prefixes dynamic BGP peers may come from; empty
	// means the subnets of the TMM VLANs the router is on.
	ListenRanges []string `yaml:"listenRanges,omitempty" json:"listenRanges,omitempty"`
	// Announce are the prefixes the router originates into BGP.
	Announce []string `yaml:"announce" json:"announce"`
	// MaximumPaths is the ECMP width (FRR maximum-paths).
	MaximumPaths int `yaml:"maximumPaths" json:"maximumPaths"`
	// MultipathHashPolicy is net.ipv{4,6}.fib_multipath_hash_policy (1 = L4).
	MultipathHashPolicy int `yaml:"multipathHashPolicy" json:"multipathHashPolicy"`
}

// RouterInterface is the router's presence on one network (or on one tagged
// VLAN of it).
type RouterInterface struct {
	Network string `yaml:"network" json:"network"`
	VLAN    int    `yaml:"vlan,omitempty" json:"vlan,omitempty"`
	IPv4    string `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6    string `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
}

// Client is the nginx container that plays the outside world; its default
// route is the router's address on its network.
type Client struct {
	Service string `yaml:"service" json:"service"`
	Network string `yaml:"network" json:"network"`
	IPv4    string `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6    string `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
}

// Syslog is the rsyslog container TMM logs to.
type Syslog struct {
	Service       string `yaml:"service" json:"service"`
	ContainerName string `yaml:"containerName" json:"containerName"`
	Network       string `yaml:"network" json:"network"`
	IPv4          string `yaml:"ipv4" json:"ipv4"`
	Port          int    `yaml:"port" json:"port"`
}

// SPK is where the SPK control plane lives.
type SPK struct {
	Namespace string `yaml:"namespace" json:"namespace"`
}

// TMM is the emulated data plane: replicas, interfaces, VLANs and BGP.
type TMM struct {
	Replicas int `yaml:"replicas" json:"replicas"`
	// Interfaces map TMM interface names ("1.N") to networks, in attachment
	// order: "1.1" is the pod's first Multus attachment.
	Interfaces []TMMInterface `yaml:"interfaces" json:"interfaces"`
	VLANs      []VLAN         `yaml:"vlans" json:"vlans"`
	BGP        BGP            `yaml:"bgp" json:"bgp"`
}

// TMMInterface maps a TMM interface to a network.
type TMMInterface struct {
	Name    string `yaml:"name" json:"name"`
	Network string `yaml:"network" json:"network"`
}

// VLAN is an F5SPKVlan: a tagged or untagged VLAN on one TMM interface with
// one self IP per replica.
type VLAN struct {
	Name      string `yaml:"name" json:"name"`
	Interface string `yaml:"interface" json:"interface"`
	// Tag is the 802.1Q VLAN ID; 0 = untagged.
	Tag int `yaml:"tag" json:"tag"`
	// IPv4Subnet/IPv6Subnet default to the network's subnets for an untagged
	// VLAN; a tagged VLAN carries its own.
	IPv4Subnet string `yaml:"ipv4Subnet,omitempty" json:"ipv4Subnet,omitempty"`
	IPv6Subnet string `yaml:"ipv6Subnet,omitempty" json:"ipv6Subnet,omitempty"`
	MTU        int    `yaml:"mtu" json:"mtu"`
	// Internal marks the VLAN facing the cluster (F5SPKVlan internal).
	Internal bool `yaml:"internal" json:"internal"`
	// SelfIPs: entry i is TMM replica i's self IP.
	SelfIPs []SelfIP `yaml:"selfIPs" json:"selfIPs"`
}

// SelfIP is one replica's addresses on a VLAN.
type SelfIP struct {
	IPv4 string `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6 string `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
}

// BGP is the TMM's BGP speaker, in the shape of the Helm values
// tmm.dynamicRouting.tmmRouting.config.bgp. Each replica's router-id is its
// first IPv4 self IP on the VLAN its neighbors are on.
type BGP struct {
	ASN             int64           `yaml:"asn" json:"asn"`
	Hostname        string          `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	GracefulRestart GracefulRestart `yaml:"gracefulRestart" json:"gracefulRestart"`
	Neighbors       []BGPNeighbor   `yaml:"neighbors" json:"neighbors"`
}

// GracefulRestart keeps forwarding state across a speaker restart.
type GracefulRestart struct {
	Enabled     bool `yaml:"enabled" json:"enabled"`
	RestartTime int  `yaml:"restartTime" json:"restartTime"` // seconds
}

// BGPNeighbor is one peer of every TMM replica.
type BGPNeighbor struct {
	IP           string `yaml:"ip" json:"ip"`
	ASN          int64  `yaml:"asn" json:"asn"`
	Password     string `yaml:"password,omitempty" json:"password,omitempty"`
	EBGPMultihop int    `yaml:"ebgpMultihop,omitempty" json:"ebgpMultihop,omitempty"`
	AcceptsIPv4  bool   `yaml:"acceptsIPv4" json:"acceptsIPv4"`
	AcceptsIPv6  bool   `yaml:"acceptsIPv6" json:"acceptsIPv6"`
}

// Load balancing methods of F5SPKIngressTCP.
const (
	LBRoundRobin           = "ROUND_ROBIN"
	LBRatioLeastConnMember = "RATIO_LEAST_CONN_MEMBER"
)

// Tenant is one application namespace: its pods, the Service in front of
// them, its ingress virtual server, its SNAT pool and its egress VXLAN.
type Tenant struct {
	Namespace  string  `yaml:"namespace" json:"namespace"`
	Deployment string  `yaml:"deployment" json:"deployment"`
	Replicas   int     `yaml:"replicas" json:"replicas"`
	Service    Service `yaml:"service" json:"service"`
	// Ingress is the tenant's F5SPKIngressTCP; nil means none.
	Ingress *Ingress `yaml:"ingress,omitempty" json:"ingress,omitempty"`
	// SNATPool is the tenant's F5SPKSnatpool, used by its F5SPKEgress; nil
	// means the tenant has no egress.
	SNATPool *SNATPool `yaml:"snatPool,omitempty" json:"snatPool,omitempty"`
	// VXLANKey is the VNI of the tenant's egress tunnel from nodes to TMM.
	VXLANKey int `yaml:"vxlanKey" json:"vxlanKey"`
}

// Service is the Kubernetes Service in front of a tenant's pods.
type Service struct {
	Name string `yaml:"name" json:"name"`
	Port int    `yaml:"port" json:"port"`
}

// Ingress is an F5SPKIngressTCP virtual server.
type Ingress struct {
	Name string `yaml:"name" json:"name"`
	IPv4 string `yaml:"ipv4,omitempty" json:"ipv4,omitempty"`
	IPv6 string `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
	// Port is destinationPort; 0 means every port.
	Port                int    `yaml:"port" json:"port"`
	LoadBalancingMethod string `yaml:"loadBalancingMethod" json:"loadBalancingMethod"`
	IdleTimeout         int    `yaml:"idleTimeout" json:"idleTimeout"` // seconds
}

// SNATPool is an F5SPKSnatpool: row i belongs to TMM replica i.
type SNATPool struct {
	Name string     `yaml:"name" json:"name"`
	Rows [][]string `yaml:"rows" json:"rows"`
}
