package spk

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/spklab/spklab/internal/yamlerr"
	"github.com/spklab/spklab/topology"
)

// DynamicRouting is the part of the SPK Helm chart's values the TMM's
// routing follows: tmm.dynamicRouting. The seed's values block decodes
// unchanged; the rest of a values file (images, resources, …) is not the
// data plane's business and is ignored.
type DynamicRouting struct {
	Enabled    bool       `yaml:"enabled" json:"enabled"`
	TMMRouting TMMRouting `yaml:"tmmRouting" json:"tmmRouting"`
	// Source is the values file it was read from; problems name it.
	Source string `yaml:"-" json:"-"`
}

// TMMRouting is tmm.dynamicRouting.tmmRouting.
type TMMRouting struct {
	Config RoutingConfig `yaml:"config" json:"config"`
}

// RoutingConfig is tmm.dynamicRouting.tmmRouting.config.
type RoutingConfig struct {
	BGP BGPValues `yaml:"bgp" json:"bgp"`
}

// BGPValues is tmm.dynamicRouting.tmmRouting.config.bgp: one speaker per
// TMM replica, each peering with every neighbor from its self IP on the
// neighbor's VLAN (router-id = that replica's IPv4 self IP there).
type BGPValues struct {
	ASN      int64  `yaml:"asn" json:"asn"`
	Hostname string `yaml:"hostname,omitempty" json:"hostname,omitempty"`
	// GracefulRestart is spklab's spelling of the restart settings (F5's
	// chart sets them inside its routing daemon's config).
	GracefulRestart *BGPGracefulRestart `yaml:"gracefulRestart,omitempty" json:"gracefulRestart,omitempty"`
	Neighbors       []BGPNeighborValues `yaml:"neighbors" json:"neighbors"`
}

// BGPGracefulRestart keeps the router forwarding to a restarting TMM.
type BGPGracefulRestart struct {
	Enabled     bool  `yaml:"enabled" json:"enabled"`
	RestartTime int64 `yaml:"restartTime,omitempty" json:"restartTime,omitempty"` // seconds
}

// BGPNeighborValues is one neighbors[] entry.
type BGPNeighborValues struct {
	IP           string `yaml:"ip" json:"ip"`
	ASN          int64  `yaml:"asn" json:"asn"`
	Password     string `yaml:"password,omitempty" json:"password,omitempty"`
	EBGPMultihop int64  `yaml:"ebgpMultihop,omitempty" json:"ebgpMultihop,omitempty"`
	AcceptsIPv4  bool   `yaml:"acceptsIPv4,omitempty" json:"acceptsIPv4,omitempty"`
	AcceptsIPv6  bool   `yaml:"acceptsIPv6,omitempty" json:"acceptsIPv6,omitempty"`
}

// DefaultGracefulRestartTime is the restart time when graceful restart is
// on and no time is given (seconds), as in FRR and the lab guide.
const DefaultGracefulRestartTime = 120

// valuesDoc is the path from a values file's top to dynamicRouting; every
// other key of the file is skipped (yaml ignores unknown keys here, and
// dynamicRouting itself is decoded strictly).
type valuesDoc struct {
	TMM struct {
		DynamicRouting yaml.Node `yaml:"dynamicRouting"`
	} `yaml:"tmm"`
}

// LoadValues reads the TMM's routing from a Helm values file. A file
// without tmm.dynamicRouting gives nil (no BGP). Problems name
// "file:line: reason".
func LoadValues(path string) (*DynamicRouting, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading values: %w", err)
	}
	return ParseValues(path, data)
}

// ParseValues is LoadValues of data already read; name is the file name
// used in problems.
func ParseValues(name string, data []byte) (*DynamicRouting, error) {
	var doc valuesDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, valuesProblems(name, err)
	}
	node := &doc.TMM.DynamicRouting
	if node.Kind == 0 || (node.Kind == yaml.ScalarNode && node.Tag == "!!null") {
		return nil, nil
	}
	// node.Decode keeps the file's line numbers but has no strict mode:
	// unknown keys are found by walking the block against the types.
	if ps := unknownKeys(name, node, reflect.TypeFor[DynamicRouting]()); ps != nil {
		return nil, ps
	}
	dr := &DynamicRouting{Source: name}
	if err := node.Decode(dr); err != nil {
		return nil, valuesProblems(name, err)
	}
	if ps := dr.Check(name + ":tmm.dynamicRouting"); ps != nil {
		return nil, ps
	}
	return dr, nil
}

func valuesProblems(name string, err error) Problems {
	issues := yamlerr.NewSchema(reflect.TypeFor[DynamicRouting]()).Explain(err)
	out := make(Problems, 0, len(issues))
	for _, is := range issues {
		out = append(out, Problem{Path: is.At(name), Reason: is.Reason})
	}
	return out
}

// unknownKeys reports every mapping key under n that t (a struct, or a
// slice of them) does not accept, with the keys it does.
func unknownKeys(file string, n *yaml.Node, t reflect.Type) Problems {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode {
			var ps Problems
			for _, item := range n.Content {
				ps = append(ps, unknownKeys(file, item, t.Elem())...)
			}
			return ps
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.Type{}
	var known []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		known = append(known, name)
	}
	sort.Strings(known)
	var ps Problems
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			ps = append(ps, Problem{
				Path:   file + ":" + strconv.Itoa(k.Line),
				Reason: fmt.Sprintf("field %q is not known here; known fields: %s", k.Value, strings.Join(known, ", ")),
			})
			continue
		}
		ps = append(ps, unknownKeys(file, v, ft)...)
	}
	return ps
}

// Check reports what the schema cannot: ASN ranges, neighbor addresses,
// a neighbor that accepts no family. at prefixes every path.
func (d *DynamicRouting) Check(at string) Problems {
	if d == nil || !d.Enabled {
		return nil
	}
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: at + "." + path, Reason: fmt.Sprintf(format, args...)})
	}
	b := &d.TMMRouting.Config.BGP
	const bgpPath = "tmmRouting.config.bgp"
	if b.ASN < 1 || b.ASN > 4294967295 {
		add(bgpPath+".asn", "must be an AS number from 1 to 4294967295, got %d", b.ASN)
	}
	if gr := b.GracefulRestart; gr != nil && (gr.RestartTime < 0 || gr.RestartTime > 4095) {
		add(bgpPath+".gracefulRestart.restartTime", "must be 0 to 4095 seconds (the capability's 12 bits), got %d", gr.RestartTime)
	}
	if len(b.Neighbors) == 0 {
		add(bgpPath+".neighbors", "dynamic routing is enabled but no neighbor is given")
	}
	seen := map[netip.Addr]int{}
	for i, n := range b.Neighbors {
		p := fmt.Sprintf("%s.neighbors[%d]", bgpPath, i)
		a, err := netip.ParseAddr(n.IP)
		switch {
		case err != nil || a.Zone() != "":
			add(p+".ip", "must be an IPv4 or IPv6 address without a zone, got %q", n.IP)
		default:
			if j, dup := seen[a]; dup {
				add(p+".ip", "%s is already neighbors[%d]", a, j)
			}
			seen[a] = i
		}
		if n.ASN < 1 || n.ASN > 4294967295 {
			add(p+".asn", "must be an AS number from 1 to 4294967295, got %d", n.ASN)
		}
		if n.EBGPMultihop < 0 || n.EBGPMultihop > 255 {
			add(p+".ebgpMultihop", "must be a TTL from 0 to 255, got %d", n.EBGPMultihop)
		}
		if !n.AcceptsIPv4 && !n.AcceptsIPv6 {
			add(p, "accepts no address family: set acceptsIPv4 and/or acceptsIPv6")
		}
	}
	return ps
}

// ValuesFromTopology is the dynamic-routing block the topology's TMM BGP
// settings give (what the Helm chart gets in the kind lab and spk-tmm
// --values in the netns lab); nil when the topology has no BGP neighbors.
func ValuesFromTopology(t *topology.Topology) *DynamicRouting {
	b := t.TMM.BGP
	if len(b.Neighbors) == 0 {
		return nil
	}
	out := &DynamicRouting{Enabled: true}
	v := &out.TMMRouting.Config.BGP
	v.ASN = b.ASN
	v.Hostname = b.Hostname
	if b.GracefulRestart.Enabled {
		v.GracefulRestart = &BGPGracefulRestart{Enabled: true, RestartTime: int64(b.GracefulRestart.RestartTime)}
	}
	for _, n := range b.Neighbors {
		v.Neighbors = append(v.Neighbors, BGPNeighborValues{
			IP: n.IP, ASN: n.ASN, Password: n.Password, EBGPMultihop: int64(n.EBGPMultihop),
			AcceptsIPv4: n.AcceptsIPv4, AcceptsIPv6: n.AcceptsIPv6,
		})
	}
	return out
}

// ValuesYAML renders d as a Helm values file (tmm.dynamicRouting only).
func ValuesYAML(d *DynamicRouting) ([]byte, error) {
	doc := map[string]any{"tmm": map[string]any{"dynamicRouting": d}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding values: %w", err)
	}
	return buf.Bytes(), nil
}
