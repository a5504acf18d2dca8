package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"text/template"

	"github.com/spklab/spklab/topology"
)

// frrPeerGroup is the router's peer group of every TMM replica.
const frrPeerGroup = "TMM"

// frrTemplates are parsed once and only ever executed.
var frrTemplates = template.Must(template.New("frr").Funcs(template.FuncMap{
	"join": strings.Join,
}).Parse(frrConfTemplate + networkScriptTemplate))

// FRRConfigDigest is a short digest of the router's rendered ./frr files
// (names and contents), carried by the router container as LabelFRRConfig.
func FRRConfigDigest(t *topology.Topology) (string, error) {
	files, err := FRRFiles(t)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.Name, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// FRRFiles renders the external router's /etc/frr for FRR 8.4: the
// integrated frr.conf, daemons, vtysh.conf and network.sh (the host-side
// setup FRR cannot do itself, run before FRR starts). Files are sorted by
// name.
func FRRFiles(t *topology.Topology) ([]File, error) {
	if t == nil {
		return nil, fmt.Errorf("rendering FRR config: no topology")
	}
	conf, err := frrConfData(t)
	if err != nil {
		return nil, fmt.Errorf("rendering FRR config: %w", err)
	}
	script, err := networkScriptData(t)
	if err != nil {
		return nil, fmt.Errorf("rendering router network.sh: %w", err)
	}
	var confBuf, scriptBuf bytes.Buffer
	if err := frrTemplates.ExecuteTemplate(&confBuf, "frr.conf", conf); err != nil {
		return nil, fmt.Errorf("rendering frr.conf: %w", err)
	}
	if err := frrTemplates.ExecuteTemplate(&scriptBuf, "network.sh", script); err != nil {
		return nil, fmt.Errorf("rendering network.sh: %w", err)
	}
	return []File{
		{Name: "daemons", Mode: 0o644, Data: []byte(frrDaemons)},
		{Name: "frr.conf", Mode: 0o644, Data: confBuf.Bytes()},
		{Name: "network.sh", Mode: 0o755, Data: scriptBuf.Bytes()},
		{Name: "vtysh.conf", Mode: 0o644, Data: []byte(frrVtyshConf)},
	}, nil
}

// frrConf is what frr.conf is rendered from.
type frrConf struct {
	Hostname        string
	ASN             int64
	RouterID        string
	GracefulRestart bool
	RestartTime     int
	PeerGroup       string
	Password        string
	EBGPMultihop    int
	ListenRanges    []string
	Families        []frrFamily
}

// frrFamily is one address-family block.
type frrFamily struct {
	AFI          string // "ipv4" or "ipv6"
	Networks     []string
	MaximumPaths int
}

func frrConfData(t *topology.Topology) (frrConf, error) {
	r := t.Router
	c := frrConf{
		Hostname:  t.RouterContainer(),
		ASN:       r.ASN,
		PeerGroup: frrPeerGroup,
	}
	if err := checkToken("router hostname", c.Hostname); err != nil {
		return c, err
	}
	if r.ASN < 1 || r.ASN > topology.MaxASN {
		return c, fmt.Errorf("router.asn: %d is out of range 1–%d", r.ASN, int64(topology.MaxASN))
	}
	id, err := parseFamilyAddr("router.routerID", r.RouterID, 4)
	if err != nil {
		return c, err
	}
	c.RouterID = id.String()
	if r.MaximumPaths < 1 {
		return c, fmt.Errorf("router.maximumPaths: %d is not a positive number", r.MaximumPaths)
	}

	if gr := t.TMM.BGP.GracefulRestart; gr.Enabled {
		if gr.RestartTime < 0 || gr.RestartTime > topology.MaxGracefulRestartTime {
			return c, fmt.Errorf("tmm.bgp.gracefulRestart.restartTime: %d is out of range 0–%d", gr.RestartTime, topology.MaxGracefulRestartTime)
		}
		c.GracefulRestart, c.RestartTime = true, gr.RestartTime
	}

	// One peer group serves every replica, so it can hold only one password.
	passwords := map[string]bool{}
	for i, nb := range t.TMM.BGP.Neighbors {
		passwords[nb.Password] = true
		if nb.EBGPMultihop > 255 {
			return c, fmt.Errorf("tmm.bgp.neighbors[%d].ebgpMultihop: %d is out of range 0–255", i, nb.EBGPMultihop)
		}
		c.EBGPMultihop = max(c.EBGPMultihop, nb.EBGPMultihop)
	}
	if len(passwords) > 1 {
		return c, fmt.Errorf("tmm.bgp.neighbors: passwords differ, but the router's peer group %s can hold only one", frrPeerGroup)
	}
	for pw := range passwords {
		if strings.ContainsFunc(pw, func(r rune) bool { return r < ' ' || r == 0x7f }) || strings.TrimSpace(pw) != pw {
			return c, fmt.Errorf("tmm.bgp.neighbors: the BGP password may not hold control characters or surrounding spaces")
		}
		c.Password = pw
	}

	var nets4, nets6 []string
	var any4, any6 bool
	seen := map[string]bool{}
	for i, s := range t.EffectiveListenRanges() {
		what := fmt.Sprintf("router.listenRanges[%d]", i)
		if len(r.ListenRanges) == 0 {
			what = "listen range from the TMM VLAN subnets"
		}
		p, err := parseCIDR(what, s)
		if err != nil {
			return c, err
		}
		if seen[p.String()] {
			continue
		}
		seen[p.String()] = true
		c.ListenRanges = append(c.ListenRanges, p.String())
		any4, any6 = any4 || p.Addr().Is4(), any6 || p.Addr().Is6()
	}
	clear(seen)
	for i, s := range r.Announce {
		p, err := parseCIDR(fmt.Sprintf("router.announce[%d]", i), s)
		if err != nil {
			return c, err
		}
		if seen[p.String()] {
			continue
		}
		seen[p.String()] = true
		if p.Addr().Is4() {
			nets4 = append(nets4, p.String())
		} else {
			nets6 = append(nets6, p.String())
		}
	}
	if any4 || len(nets4) > 0 {
		c.Families = append(c.Families, frrFamily{AFI: "ipv4", Networks: nets4, MaximumPaths: r.MaximumPaths})
	}
	if any6 || len(nets6) > 0 {
		c.Families = append(c.Families, frrFamily{AFI: "ipv6", Networks: nets6, MaximumPaths: r.MaximumPaths})
	}
	return c, nil
}

const frrConfTemplate = `{{define "frr.conf" -}}
! Generated by ` + "`spklab render frr`" + ` from the topology; do not edit.
!
! The lab's external router (FRR 8.4): TMM replicas peer with it dynamically
! from the listen ranges, and it announces the client side to them.
!
hostname {{.Hostname}}
log syslog informational
ip forwarding
ipv6 forwarding
!
router bgp {{.ASN}}
 bgp router-id {{.RouterID}}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
{{- if .GracefulRestart}}
 bgp graceful-restart
{{- if .RestartTime}}
 bgp graceful-restart restart-time {{.RestartTime}}
{{- end}}
{{- end}}
 bgp bestpath as-path multipath-relax
 neighbor {{.PeerGroup}} peer-group
 neighbor {{.PeerGroup}} remote-as external
{{- if .Password}}
 neighbor {{.PeerGroup}} password {{.Password}}
{{- end}}
{{- if .EBGPMultihop}}
 neighbor {{.PeerGroup}} ebgp-multihop {{.EBGPMultihop}}
{{- end}}
{{- range .ListenRanges}}
 bgp listen range {{.}} peer-group {{$.PeerGroup}}
{{- end}}
{{- range .Families}}
 !
 address-family {{.AFI}} unicast
{{- range .Networks}}
  network {{.}}
{{- end}}
  neighbor {{$.PeerGroup}} activate
  maximum-paths {{.MaximumPaths}}
 exit-address-family
{{- end}}
exit
!
{{end}}`

// frrDaemons is Debian's daemons file cut to what the router runs.
const frrDaemons = `# Generated by ` + "`spklab render frr`" + ` from the topology; do not edit.
#
# Which FRR daemons frrinit.sh starts. watchfrr, zebra and staticd always
# start; the router needs only bgpd besides them.
zebra=yes
bgpd=yes
ospfd=no
ospf6d=no
ripd=no
ripngd=no
isisd=no
pimd=no
pim6d=no
ldpd=no
nhrpd=no
eigrpd=no
babeld=no
sharpd=no
pbrd=no
bfdd=no
fabricd=no
vrrpd=no
pathd=no

vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
`

const frrVtyshConf = `! Generated by ` + "`spklab render frr`" + ` from the topology; do not edit.
service integrated-vtysh-config
`

// sysctl is one kernel setting of the router's network namespace.
type sysctl struct {
	Key, Value string
}

// Path is the setting's file under /proc/sys.
func (s sysctl) Path() string {
	return "/proc/sys/" + strings.ReplaceAll(s.Key, ".", "/")
}

// routerSysctls are the settings network.sh and the compose service share.
func routerSysctls(t *topology.Topology) ([]sysctl, error) {
	p := t.Router.MultipathHashPolicy
	if p < 0 || p > 3 {
		return nil, fmt.Errorf("router.multipathHashPolicy: %d is not a Linux fib_multipath_hash_policy (0–3)", p)
	}
	policy := fmt.Sprint(p)
	return []sysctl{
		{"net.ipv4.ip_forward", "1"},
		{"net.ipv6.conf.all.forwarding", "1"},
		{"net.ipv4.fib_multipath_hash_policy", policy},
		{"net.ipv6.fib_multipath_hash_policy", policy},
	}, nil
}

// networkScript is what network.sh is rendered from.
type networkScript struct {
	Sysctls []sysctl
	VLANs   []routerVLAN
}

// routerVLAN is a tagged router interface: Parent is found by the untagged
// addresses it holds (kernel interface names depend on attach order).
type routerVLAN struct {
	Network string
	Tag     int
	Parent  []string // untagged addresses on the network
	CIDRs   []string // the VLAN's addresses with the VLAN subnet's length
}

func networkScriptData(t *topology.Topology) (networkScript, error) {
	var s networkScript
	var err error
	if s.Sysctls, err = routerSysctls(t); err != nil {
		return s, err
	}
	for i, ri := range t.Router.Interfaces {
		if ri.VLAN == 0 {
			continue
		}
		what := fmt.Sprintf("router.interfaces[%d]", i)
		v, err := routerVLANData(t, what, ri)
		if err != nil {
			return s, err
		}
		s.VLANs = append(s.VLANs, v)
	}
	return s, nil
}

func routerVLANData(t *topology.Topology, what string, ri topology.RouterInterface) (routerVLAN, error) {
	v := routerVLAN{Network: ri.Network, Tag: ri.VLAN}
	if err := checkToken(what+".network", ri.Network); err != nil {
		return v, err
	}
	if ri.VLAN < 1 || ri.VLAN > topology.MaxVLANTag {
		return v, fmt.Errorf("%s.vlan: %d is out of range 1–%d", what, ri.VLAN, topology.MaxVLANTag)
	}
	parent, ok := t.RouterInterfaceOn(ri.Network)
	if !ok {
		return v, fmt.Errorf("%s: VLAN %d needs an untagged router interface on %s to tag", what, ri.VLAN, ri.Network)
	}
	for _, f := range []struct {
		fam  int
		addr string
	}{{4, parent.IPv4}, {6, parent.IPv6}} {
		if f.addr == "" {
			continue
		}
		a, err := parseFamilyAddr(fmt.Sprintf("router's untagged ipv%d on %s", f.fam, ri.Network), f.addr, f.fam)
		if err != nil {
			return v, err
		}
		v.Parent = append(v.Parent, a.String())
	}
	if len(v.Parent) == 0 {
		return v, fmt.Errorf("%s: the router's untagged interface on %s has no address to find it by", what, ri.Network)
	}
	vl := t.VLANByTag(ri.Network, ri.VLAN)
	if vl == nil {
		return v, fmt.Errorf("%s.vlan: no TMM VLAN with tag %d runs over %s, so its subnet is unknown", what, ri.VLAN, ri.Network)
	}
	sub4, sub6 := t.VLANSubnets(*vl)
	if ri.IPv4 != "" {
		a, err := parseFamilyAddr(what+".ipv4", ri.IPv4, 4)
		if err != nil {
			return v, err
		}
		if !sub4.IsValid() {
			return v, fmt.Errorf("%s.ipv4: VLAN %s has no IPv4 subnet", what, vl.Name)
		}
		v.CIDRs = append(v.CIDRs, fmt.Sprintf("%s/%d", a, sub4.Bits()))
	}
	if ri.IPv6 != "" {
		a, err := parseFamilyAddr(what+".ipv6", ri.IPv6, 6)
		if err != nil {
			return v, err
		}
		if !sub6.IsValid() {
			return v, fmt.Errorf("%s.ipv6: VLAN %s has no IPv6 subnet", what, vl.Name)
		}
		v.CIDRs = append(v.CIDRs, fmt.Sprintf("%s/%d", a, sub6.Bits()))
	}
	if len(v.CIDRs) == 0 {
		return v, fmt.Errorf("%s: VLAN %d has no address", what, ri.VLAN)
	}
	return v, nil
}

// networkScriptTemplate is POSIX sh; every value in it was parsed or checked
// as a token, so nothing needs quoting.
const networkScriptTemplate = `{{define "network.sh" -}}
#!/bin/sh
# Generated by ` + "`spklab render frr`" + ` from the topology; do not edit.
#
# The router's setup that FRR cannot do itself. It runs in the router's
# container or network namespace before FRR starts, and may run again.
set -eu

# set_sysctl FILE VALUE writes only on change: docker mounts /proc/sys
# read-only, and compose has set these already.
set_sysctl() {
	if [ "$(cat "$1")" != "$2" ]; then
		echo "$2" >"$1"
	fi
}
{{- if .VLANs}}

# ifname_with ADDR... prints the interface holding one of the addresses.
ifname_with() {
	ip -o addr show | awk -v want=" $* " '{
		split($4, a, "/")
		if (index(want, " " a[1] " ")) { sub(/@.*/, "", $2); print $2; exit }
	}'
}

# vlan_up PARENT TAG CIDR... creates PARENT.TAG and gives it the addresses.
vlan_up() {
	dev=$1.$2
	if ! ip link show dev "$dev" >/dev/null 2>&1; then
		ip link add link "$1" name "$dev" type vlan id "$2"
	fi
	ip link set dev "$dev" up
	shift 2
	for cidr in "$@"; do
		ip addr replace "$cidr" dev "$dev"
	done
}
{{- end}}

{{range .Sysctls -}}
set_sysctl {{.Path}} {{.Value}}
{{end -}}
{{range .VLANs}}
# {{.Network}} VLAN {{.Tag}}, tagged on the router's untagged interface there.
parent=$(ifname_with {{join .Parent " "}})
if [ -z "$parent" ]; then
	echo "network.sh: no interface holds {{join .Parent " or "}} ({{.Network}})" >&2
	exit 1
fi
vlan_up "$parent" {{.Tag}} {{join .CIDRs " "}}
{{end -}}
{{end}}`
