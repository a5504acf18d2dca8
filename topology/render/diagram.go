package render

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spklab/spklab/topology"
)

// Both diagrams draw the same facts; the helpers below derive them once so
// the text and the mermaid drawing cannot disagree.

// member is one thing with an address on a docker network.
type member struct {
	kind   string // node, router, client, syslog, tmm
	name   string
	iface  string
	v4, v6 string
	note   string
}

// networkMembers lists everything on network n: kind nodes, the router, the
// client, syslog and the TMM replicas' self IPs, in that order.
func networkMembers(t *topology.Topology, n topology.Network) []member {
	var out []member
	if a := n.Attach; a != nil {
		iface := a.Interface
		if a.VLAN != 0 {
			iface += "." + strconv.Itoa(a.VLAN)
		}
		s4, s6 := attachSubnets(t, n)
		for _, node := range t.AttachedNodes(n) {
			m := member{kind: "node", name: node, iface: iface, v4: "docker-assigned"}
			if na, ok := a.NodeAddress(node); ok {
				m.v4, m.v6 = withLen(na.IPv4, s4), withLen(na.IPv6, s6)
			}
			if !a.KeepAddress {
				m.note = "flushed"
			}
			out = append(out, m)
		}
	}
	for _, ri := range t.Router.Interfaces {
		if ri.Network != n.Name {
			continue
		}
		s4, s6 := n.Subnets()
		iface := ""
		if ri.VLAN != 0 {
			iface = "vlan " + strconv.Itoa(ri.VLAN)
			s4, s6 = t.TaggedVLANSubnets(n.Name, ri.VLAN)
		}
		out = append(out, member{kind: "router", name: t.RouterContainer(), iface: iface,
			v4: withLen(ri.IPv4, s4), v6: withLen(ri.IPv6, s6)})
	}
	s4, s6 := n.Subnets()
	if t.Client.Network == n.Name {
		out = append(out, member{kind: "client", name: t.ClientContainer(),
			v4: withLen(t.Client.IPv4, s4), v6: withLen(t.Client.IPv6, s6)})
	}
	if t.Syslog.Network == n.Name {
		out = append(out, member{kind: "syslog", name: t.Syslog.ContainerName,
			v4: withLen(t.Syslog.IPv4, s4), note: "port " + strconv.Itoa(t.Syslog.Port)})
	}
	for _, v := range t.TMM.VLANs {
		vn := t.VLANNetwork(v)
		if vn == nil || vn.Name != n.Name {
			continue
		}
		v4, v6 := t.VLANSubnets(v)
		for i, sip := range v.SelfIPs {
			note := "VLAN " + v.Name
			if u := unusedReplica(t, i); u != "" {
				note += ", " + u
			}
			out = append(out, member{kind: "tmm", name: replicaName(i), iface: tmmIface(v),
				v4: withLen(sip.IPv4, v4), v6: withLen(sip.IPv6, v6), note: note})
		}
	}
	return out
}

// attachSubnets are the subnets of the node addresses on n: the network's,
// or those of the TMM VLAN the attachment is tagged with.
func attachSubnets(t *topology.Topology, n topology.Network) (netip.Prefix, netip.Prefix) {
	if n.Attach != nil && n.Attach.VLAN != 0 {
		return t.TaggedVLANSubnets(n.Name, n.Attach.VLAN)
	}
	return n.Subnets()
}

// withLen appends the prefix length of p to addr when p holds it.
func withLen(addr string, p netip.Prefix) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !p.IsValid() || !p.Contains(a) {
		return addr
	}
	return addr + "/" + strconv.Itoa(p.Bits())
}

func replicaName(i int) string { return "tmm-" + strconv.Itoa(i) }

// unusedReplica says why row i (self IP, SNAT row) carries no traffic:
// it belongs to a replica that does not run.
func unusedReplica(t *topology.Topology, i int) string {
	if i < t.TMM.Replicas {
		return ""
	}
	return fmt.Sprintf("unused (%d %s)", t.TMM.Replicas, plural(t.TMM.Replicas, "replica"))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// tmmIface is where a VLAN sits: "1.1" or "1.1 tag 3334".
func tmmIface(v topology.VLAN) string {
	if v.Tag == 0 {
		return v.Interface
	}
	return v.Interface + " tag " + strconv.Itoa(v.Tag)
}

func tagText(tag int) string {
	if tag == 0 {
		return "untagged"
	}
	return "tag " + strconv.Itoa(tag)
}

// hostPort is a VIP with its port; port 0 means every port.
func hostPort(addr string, port int) string {
	if port == 0 {
		return addr + " (all ports)"
	}
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return addr + ":" + strconv.Itoa(port)
}

// vips are the tenant's virtual server addresses with their port.
func vips(ing *topology.Ingress) []string {
	if ing == nil {
		return nil
	}
	var out []string
	for _, a := range []string{ing.IPv4, ing.IPv6} {
		if a != "" {
			out = append(out, hostPort(a, ing.Port))
		}
	}
	return out
}

// subnetsText joins the valid subnets of a pair, "-" when none.
func subnetsText(v4, v6 netip.Prefix) string {
	var s []string
	for _, p := range []netip.Prefix{v4, v6} {
		if p.IsValid() {
			s = append(s, p.String())
		}
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}

// rawSubnets is a network's subnets as written (unparsable ones included,
// so an invalid topology still shows what it says).
func rawSubnets(n topology.Network) string {
	return joinNonEmpty(", ", n.IPv4Subnet, n.IPv6Subnet)
}

func joinNonEmpty(sep string, parts ...string) string {
	var s []string
	for _, p := range parts {
		if p != "" {
			s = append(s, p)
		}
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, sep)
}

// egressNetwork is the network of the first internal VLAN: where the
// tenants' VXLAN tunnels run.
func egressNetwork(t *topology.Topology) string {
	for _, v := range t.TMM.VLANs {
		if v.Internal {
			if n := t.VLANNetwork(v); n != nil {
				return n.Name
			}
		}
	}
	return ""
}

// attachText says how kind nodes join a network, one line per fact.
func attachText(n topology.Network) []string {
	a := n.Attach
	if a == nil {
		return nil
	}
	who := "every worker"
	if len(a.Nodes) > 0 {
		who = strings.Join(a.Nodes, ", ")
	}
	s := fmt.Sprintf("nodes: %s on %s", a.Interface, who)
	if a.KeepAddress {
		s += ", address kept"
	} else {
		s += ", address flushed (only TMM uses it)"
	}
	out := []string{s}
	if a.VLAN != 0 {
		out = append(out, fmt.Sprintf("node addresses on VLAN %d: %s.%d", a.VLAN, a.Interface, a.VLAN))
	}
	if a.Annotation != "" {
		out = append(out, "node address recorded as annotation "+a.Annotation)
	}
	return out
}

// neighborText describes a TMM BGP neighbor without its password.
func neighborText(nb topology.BGPNeighbor) string {
	s := fmt.Sprintf("AS %d", nb.ASN)
	var fams []string
	if nb.AcceptsIPv4 {
		fams = append(fams, "IPv4")
	}
	if nb.AcceptsIPv6 {
		fams = append(fams, "IPv6")
	}
	if len(fams) > 0 {
		s += ", " + strings.Join(fams, "+")
	}
	if nb.EBGPMultihop != 0 {
		s += fmt.Sprintf(", ebgp-multihop %d", nb.EBGPMultihop)
	}
	if nb.Password != "" {
		s += ", password set"
	}
	return s
}

func gracefulText(g topology.GracefulRestart) string {
	if !g.Enabled {
		return "graceful restart off"
	}
	return fmt.Sprintf("graceful restart %d s", g.RestartTime)
}

// routerIDs are the per-replica BGP router-ids, bounded by the self IPs
// that exist (Replicas may be anything in an invalid topology).
func routerIDs(t *topology.Topology) []string {
	v := t.BGPVLAN()
	if v == nil {
		return nil
	}
	var out []string
	for i := 0; i < t.TMM.Replicas && i < len(v.SelfIPs); i++ {
		out = append(out, t.TMMRouterID(i))
	}
	return out
}

func snatRowText(row []string) string {
	return joinNonEmpty(", ", row...)
}

// ---- plain text ----

// textTable aligns columns; raw lines pass through between rows without
// taking part in the widths.
type textTable struct {
	lines []textLine
}

type textLine struct {
	raw   string
	cells []string
	cell  bool
}

func (tb *textTable) row(cells ...string) {
	tb.lines = append(tb.lines, textLine{cells: cells, cell: true})
}

func (tb *textTable) line(format string, args ...any) {
	tb.lines = append(tb.lines, textLine{raw: fmt.Sprintf(format, args...)})
}

func (tb *textTable) write(b *strings.Builder) {
	var widths []int
	for _, l := range tb.lines {
		// A row's last cell is not padded, so it does not widen its column.
		for i := 0; i < len(l.cells)-1; i++ {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(l.cells[i]))
		}
	}
	for _, l := range tb.lines {
		if !l.cell {
			b.WriteString(strings.TrimRight(l.raw, " "))
			b.WriteByte('\n')
			continue
		}
		var sb strings.Builder
		for i, c := range l.cells {
			sb.WriteString(c)
			if i < len(l.cells)-1 {
				sb.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(sb.String(), " "))
		b.WriteByte('\n')
	}
}

// DiagramText draws the lab as plain text for a terminal: what is on each
// network with which address, the nodes, TMM, the router and the tenants.
func DiagramText(t *topology.Topology) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	section := func(tb *textTable) {
		tb.write(&b)
		b.WriteByte('\n')
	}

	hd := &textTable{}
	hd.line("spklab lab %q: kind cluster %s, Kubernetes %s", t.Base, t.Cluster.Name, t.Cluster.KubernetesVersion)
	hd.row("  node image", t.Images.Node)
	hd.row("  subnets", fmt.Sprintf("pods %s, services %s", t.Cluster.PodSubnet, t.Cluster.ServiceSubnet))
	hd.row("  CNI", fmt.Sprintf("Calico %s (kind's default CNI disabled), Multus %s, CNI plugins %s",
		t.CNI.CalicoVersion, t.CNI.MultusVersion, t.CNI.CNIPluginsVersion))
	hd.row("  infra", "compose project "+t.Infra.Project)
	hd.row("  SPK", "namespace "+t.SPK.Namespace)
	section(hd)

	nw := &textTable{}
	nw.line("NETWORKS")
	nw.line("  kind  bridge, made by kind: every node's eth0")
	for _, n := range t.Networks {
		nw.line("")
		nw.line("  %s  %s  %s", n.Name, n.Driver, rawSubnets(n))
		if n.ComposeManaged() {
			nw.line("    docker network %s, compose project %s", t.DockerName(n), t.Infra.Project)
		} else {
			nw.line("    docker network %s, made by spklab", t.DockerName(n))
			for _, l := range attachText(n) {
				nw.line("    %s", l)
			}
		}
		for _, m := range networkMembers(t, n) {
			nw.row("    "+m.kind, m.name, dash(m.iface), dash(m.v4), dash(m.v6), m.note)
		}
	}
	section(nw)

	nd := &textTable{}
	nd.line("NODES")
	for i, name := range t.Cluster.NodeNames() {
		tmm := ""
		if t.Cluster.IsTMMNode(name) {
			tmm = fmt.Sprintf("TMM node: label %s, taint %s", t.Cluster.TMMNodeLabel, t.Cluster.TMMNodeTaint)
		}
		nd.row("  "+name, t.Cluster.Nodes[i].Role, tmm)
	}
	section(nd)

	tmmText(t, &b)
	b.WriteByte('\n')
	routerText(t, &b)
	b.WriteByte('\n')
	tenantsText(t, &b)
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tmmText(t *topology.Topology, b *strings.Builder) {
	ifs := &textTable{}
	ifs.line("TMM  %d %s on TMM nodes %s, image %s", t.TMM.Replicas, plural(t.TMM.Replicas, "replica"),
		joinNonEmpty(", ", t.Cluster.TMMNodes...), t.Images.TMM)
	nads := NADs(t)
	for i, ifc := range t.TMM.Interfaces {
		nad := "NAD " + t.SPK.Namespace + "/" + nads[i].Name
		if n := t.Network(ifc.Network); n != nil && n.Attach != nil {
			nad += " (macvlan on " + n.Attach.Interface + ")"
		}
		ifs.row("  interface "+ifc.Name, ifc.Network, nad)
	}
	ifs.line("  pod annotation k8s.v1.cni.cncf.io/networks: %s", MultusAnnotation(t))
	ifs.write(b)

	// One table for every VLAN so self IPs line up across VLANs.
	vl := &textTable{}
	for _, v := range t.TMM.VLANs {
		vl.line("")
		net := "?"
		if n := t.VLANNetwork(v); n != nil {
			net = n.Name
		}
		internal := ""
		if v.Internal {
			internal = ", internal"
		}
		vl.line("  VLAN %s on %s (%s), %s, MTU %d%s", v.Name, v.Interface, net, tagText(v.Tag), v.MTU, internal)
		s4, s6 := t.VLANSubnets(v)
		vl.line("    subnets %s", subnetsText(s4, s6))
		for i, sip := range v.SelfIPs {
			vl.row("    "+replicaName(i), dash(withLen(sip.IPv4, s4)), dash(withLen(sip.IPv6, s6)), unusedReplica(t, i))
		}
	}
	vl.write(b)

	bgp := t.TMM.BGP
	bt := &textTable{}
	bt.line("")
	bt.line("  BGP  AS %d, %s", bgp.ASN, gracefulText(bgp.GracefulRestart))
	if bgp.Hostname != "" {
		bt.row("    hostname", bgp.Hostname)
	}
	for i, id := range routerIDs(t) {
		bt.row("    "+replicaName(i), "router-id "+dash(id))
	}
	for _, nb := range bgp.Neighbors {
		bt.row("    neighbor", nb.IP, neighborText(nb))
	}
	bt.write(b)
}

func routerText(t *topology.Topology, b *strings.Builder) {
	r := t.Router
	tb := &textTable{}
	tb.line("ROUTER  %s (FRR, image %s)", t.RouterContainer(), t.Images.Router)
	tb.row("  AS", strconv.FormatInt(r.ASN, 10))
	tb.row("  router-id", r.RouterID)
	tb.row("  listen ranges", joinNonEmpty(", ", t.EffectiveListenRanges()...)+" (dynamic BGP peers)")
	tb.row("  announces", joinNonEmpty(", ", r.Announce...))
	tb.row("  ECMP", fmt.Sprintf("maximum-paths %d, fib_multipath_hash_policy %d", r.MaximumPaths, r.MultipathHashPolicy))
	tb.write(b)
}

func tenantsText(t *topology.Topology, b *strings.Builder) {
	tb := &textTable{}
	tb.line("TENANTS")
	egress := egressNetwork(t)
	for i, tn := range t.Tenants {
		if i > 0 {
			tb.line("")
		}
		tb.line("  namespace %s", tn.Namespace)
		tb.row("    pods", fmt.Sprintf("%s x%d behind Service %s:%d", tn.Deployment, tn.Replicas, tn.Service.Name, tn.Service.Port))
		if ing := tn.Ingress; ing != nil {
			tb.row("    ingress", fmt.Sprintf("%s, %s, idle %d s", ing.Name, ing.LoadBalancingMethod, ing.IdleTimeout))
			for _, vip := range vips(ing) {
				tb.row("    VIP", vip)
			}
		}
		if sp := tn.SNATPool; sp != nil {
			tb.row("    SNAT pool", sp.Name)
			for j, rowAddrs := range sp.Rows {
				tb.row("      "+replicaName(j), snatRowText(rowAddrs), unusedReplica(t, j))
			}
			over := ""
			if egress != "" {
				over = " over " + egress
			}
			tb.row("    egress", fmt.Sprintf("VXLAN key %d, nodes -> TMM%s", tn.VXLANKey, over))
		}
	}
	tb.write(b)
}

// ---- mermaid ----

// mermaidIDs hands out unique mermaid ids made only of [A-Za-z0-9_], one
// per (kind, name), in call order so the output is deterministic.
type mermaidIDs struct {
	byKey map[string]string
	used  map[string]bool
}

func (m *mermaidIDs) id(kind, name string) string {
	key := kind + "\x00" + name
	if id, ok := m.byKey[key]; ok {
		return id
	}
	base := kind
	if name != "" {
		base += "_" + mermaidSanitize(name)
	}
	id := base
	for n := 2; m.used[id]; n++ {
		id = base + "_" + strconv.Itoa(n)
	}
	m.used[id] = true
	m.byKey[key] = id
	return id
}

func mermaidSanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// mermaidText escapes one line of label text with mermaid entity codes, so
// quotes, brackets, pipes and HTML cannot end the label early.
func mermaidText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString("#quot;")
		case strings.ContainsRune("#&<>[](){}|`;", r):
			fmt.Fprintf(&b, "#%d;", r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mermaidLabel is a quoted label of escaped lines.
func mermaidLabel(lines ...string) string {
	esc := make([]string, len(lines))
	for i, l := range lines {
		esc[i] = mermaidText(l)
	}
	return `"` + strings.Join(esc, "<br/>") + `"`
}

// DiagramMermaid draws the lab as a mermaid flowchart: the kind cluster with
// its nodes, TMM and tenants, the docker networks, and the infra containers.
func DiagramMermaid(t *topology.Topology) string {
	if t == nil {
		return "flowchart LR\n"
	}
	ids := &mermaidIDs{byKey: map[string]string{}, used: map[string]bool{}}
	var b strings.Builder
	w := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	w(0, "flowchart LR")

	// Fixed ids first so a topology name cannot take them.
	clusterID := ids.id("cluster", t.Cluster.Name)
	tmmID := ids.id("tmm", "")
	bgpID := ids.id("tmm_bgp", "")
	routerID := ids.id("router", "")
	clientID := ids.id("client", "")
	syslogID := ids.id("syslog", "")
	kindNetID := ids.id("kind_net", "")

	w(1, "subgraph %s[%s]", clusterID, mermaidLabel(fmt.Sprintf("kind cluster %s, Kubernetes %s", t.Cluster.Name, t.Cluster.KubernetesVersion)))
	var tmmNodes []string
	for i, name := range t.Cluster.NodeNames() {
		lines := []string{name, t.Cluster.Nodes[i].Role}
		if t.Cluster.IsTMMNode(name) {
			lines = append(lines, "TMM node", "label "+t.Cluster.TMMNodeLabel, "taint "+t.Cluster.TMMNodeTaint)
			tmmNodes = append(tmmNodes, ids.id("node", name))
		}
		w(2, "%s[%s]", ids.id("node", name), mermaidLabel(lines...))
	}
	w(2, "subgraph %s[%s]", tmmID, mermaidLabel(fmt.Sprintf("TMM, %d %s, namespace %s, networks %s",
		t.TMM.Replicas, plural(t.TMM.Replicas, "replica"), t.SPK.Namespace, MultusAnnotation(t))))
	for _, v := range t.TMM.VLANs {
		internal := ""
		if v.Internal {
			internal = ", internal"
		}
		s4, s6 := t.VLANSubnets(v)
		lines := []string{
			fmt.Sprintf("VLAN %s on %s, %s, MTU %d%s", v.Name, v.Interface, tagText(v.Tag), v.MTU, internal),
			"subnets " + subnetsText(s4, s6),
		}
		for i, sip := range v.SelfIPs {
			l := replicaName(i) + " " + joinNonEmpty(", ", withLen(sip.IPv4, s4), withLen(sip.IPv6, s6))
			if u := unusedReplica(t, i); u != "" {
				l += " " + u
			}
			lines = append(lines, l)
		}
		w(3, "%s[%s]", ids.id("vlan", v.Name), mermaidLabel(lines...))
	}
	bgp := t.TMM.BGP
	bgpLines := []string{fmt.Sprintf("BGP AS %d", bgp.ASN)}
	for i, id := range routerIDs(t) {
		bgpLines = append(bgpLines, replicaName(i)+" router-id "+dash(id))
	}
	bgpLines = append(bgpLines, gracefulText(bgp.GracefulRestart))
	w(3, "%s[%s]", bgpID, mermaidLabel(bgpLines...))
	w(2, "end")
	for _, tn := range t.Tenants {
		lines := []string{
			"tenant " + tn.Namespace,
			fmt.Sprintf("%s x%d, Service %s:%d", tn.Deployment, tn.Replicas, tn.Service.Name, tn.Service.Port),
		}
		if ing := tn.Ingress; ing != nil {
			for _, vip := range vips(ing) {
				lines = append(lines, "VIP "+vip)
			}
			lines = append(lines, fmt.Sprintf("%s %s, idle %d s", ing.Name, ing.LoadBalancingMethod, ing.IdleTimeout))
		}
		if sp := tn.SNATPool; sp != nil {
			lines = append(lines, "SNAT pool "+sp.Name)
			for j, row := range sp.Rows {
				l := replicaName(j) + " " + snatRowText(row)
				if u := unusedReplica(t, j); u != "" {
					l += " " + u
				}
				lines = append(lines, l)
			}
			lines = append(lines, fmt.Sprintf("VXLAN key %d", tn.VXLANKey))
		}
		w(2, "%s[%s]", ids.id("tenant", tn.Namespace), mermaidLabel(lines...))
	}
	w(1, "end")

	w(1, "%s{{%s}}", kindNetID, mermaidLabel("kind", "bridge, made by kind"))
	for _, n := range t.Networks {
		lines := []string{n.Name, n.Driver + ", docker " + t.DockerName(n)}
		for _, s := range []string{n.IPv4Subnet, n.IPv6Subnet} {
			if s != "" {
				lines = append(lines, s)
			}
		}
		w(1, "%s{{%s}}", ids.id("net", n.Name), mermaidLabel(lines...))
	}
	r := t.Router
	w(1, "%s[%s]", routerID, mermaidLabel(t.RouterContainer(),
		fmt.Sprintf("FRR, AS %d, router-id %s", r.ASN, r.RouterID),
		"listen "+joinNonEmpty(", ", t.EffectiveListenRanges()...),
		"announces "+joinNonEmpty(", ", r.Announce...)))
	w(1, "%s[%s]", clientID, mermaidLabel(t.ClientContainer(), "nginx client"))
	w(1, "%s[%s]", syslogID, mermaidLabel(t.Syslog.ContainerName, fmt.Sprintf("rsyslog, port %d", t.Syslog.Port)))

	w(1, "%s ---|%s| %s", clusterID, mermaidLabel("eth0"), kindNetID)
	memberIDs := map[string]string{"router": routerID, "client": clientID, "syslog": syslogID}
	for _, n := range t.Networks {
		netID := ids.id("net", n.Name)
		for _, m := range networkMembers(t, n) {
			var from string
			switch m.kind {
			case "node":
				from = ids.id("node", m.name)
			case "tmm":
				continue // drawn per VLAN below
			default:
				from = memberIDs[m.kind]
			}
			w(1, "%s ---|%s| %s", from, mermaidLabel(joinFields(m.iface, m.v4, m.v6, m.note)), netID)
		}
	}
	for _, v := range t.TMM.VLANs {
		n := t.VLANNetwork(v)
		if n == nil {
			continue
		}
		label := tmmIface(v)
		if n.Attach != nil {
			label += ", macvlan on " + n.Attach.Interface
		}
		w(1, "%s ---|%s| %s", ids.id("vlan", v.Name), mermaidLabel(label), ids.id("net", n.Name))
	}
	for _, nb := range bgp.Neighbors {
		peer := routerID
		if !routerHas(t, nb.IP) {
			peer = ids.id("bgp_peer", nb.IP)
			w(1, "%s[%s]", peer, mermaidLabel("BGP peer "+nb.IP))
		}
		w(1, "%s -.-|%s| %s", bgpID, mermaidLabel(fmt.Sprintf("BGP AS %d to AS %d, neighbor %s", bgp.ASN, nb.ASN, nb.IP)), peer)
	}
	for _, id := range tmmNodes {
		w(1, "%s -.-|%s| %s", id, mermaidLabel("runs TMM"), tmmID)
	}
	for _, tn := range t.Tenants {
		tid := ids.id("tenant", tn.Namespace)
		if tn.Ingress != nil {
			w(1, "%s -->|%s| %s", tmmID, mermaidLabel("ingress "+strings.Join(vips(tn.Ingress), ", ")), tid)
		}
		if tn.SNATPool != nil {
			w(1, "%s -->|%s| %s", tid, mermaidLabel(fmt.Sprintf("egress VXLAN key %d", tn.VXLANKey)), tmmID)
		}
	}
	if len(tmmNodes) > 0 {
		w(1, "classDef tmmNode fill:#fde7d9,stroke:#c0504d")
		w(1, "class %s tmmNode", strings.Join(tmmNodes, ","))
	}
	return b.String()
}

// routerHas reports whether ip is one of the router's addresses.
func routerHas(t *topology.Topology, ip string) bool {
	for _, ri := range t.Router.Interfaces {
		if ip != "" && (ri.IPv4 == ip || ri.IPv6 == ip) {
			return true
		}
	}
	return false
}

func joinFields(parts ...string) string {
	var s []string
	for _, p := range parts {
		if p != "" {
			s = append(s, p)
		}
	}
	return strings.Join(s, " ")
}
