package render

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spklab/spklab/internal/golden"
	"github.com/spklab/spklab/topology"
)

func TestDiagramGolden(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := renderBuiltin(t, name)
			golden.Check(t, "testdata/diagram/"+name+".mmd", []byte(DiagramMermaid(topo)))
			golden.Check(t, "testdata/diagram/"+name+".txt", []byte(DiagramText(topo)))
		})
	}
}

// labAddresses are the addresses a student must find in a diagram: VIPs,
// self IPs, SNAT addresses, router-ids, node, router, client and syslog
// addresses.
func labAddresses(topo *topology.Topology) []string {
	var out []string
	add := func(ss ...string) {
		for _, s := range ss {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	for _, v := range topo.TMM.VLANs {
		for _, s := range v.SelfIPs {
			add(s.IPv4, s.IPv6)
		}
	}
	for _, tn := range topo.Tenants {
		if tn.Ingress != nil {
			add(tn.Ingress.IPv4, tn.Ingress.IPv6)
		}
		if tn.SNATPool != nil {
			for _, row := range tn.SNATPool.Rows {
				add(row...)
			}
		}
	}
	for _, n := range topo.Networks {
		if n.Attach != nil {
			for _, a := range n.Attach.Addresses {
				add(a.IPv4, a.IPv6)
			}
		}
	}
	for _, ri := range topo.Router.Interfaces {
		add(ri.IPv4, ri.IPv6)
	}
	for i := 0; i < topo.TMM.Replicas; i++ {
		add(topo.TMMRouterID(i))
	}
	add(topo.Router.RouterID, topo.Client.IPv4, topo.Client.IPv6, topo.Syslog.IPv4)
	return out
}

func TestDiagramsShowEveryAddress(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := renderBuiltin(t, name)
			diagrams := map[string]string{"mermaid": DiagramMermaid(topo), "text": DiagramText(topo)}
			addrs := labAddresses(topo)
			if len(addrs) < 10 {
				t.Fatalf("only %d addresses collected", len(addrs))
			}
			for kind, d := range diagrams {
				for _, a := range addrs {
					// Bounded so 192.0.2.20 is not found inside 192.0.2.201.
					re := regexp.MustCompile(`(^|[^0-9a-fA-F:.])` + regexp.QuoteMeta(a) + `($|[^0-9a-fA-F.])`)
					if !re.MatchString(d) {
						t.Errorf("%s diagram lacks %s", kind, a)
					}
				}
			}
		})
	}
}

func TestDiagramTextShape(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			topo := renderBuiltin(t, name)
			txt := DiagramText(topo)
			for i, line := range strings.Split(txt, "\n") {
				if n := utf8.RuneCountInString(line); n > 100 {
					t.Errorf("line %d has %d columns: %q", i+1, n, line)
				}
				if strings.TrimRight(line, " ") != line {
					t.Errorf("line %d has trailing spaces: %q", i+1, line)
				}
			}
			for _, want := range []string{"NETWORKS", "NODES", "TMM", "ROUTER", "TENANTS",
				topo.RouterContainer(), "Kubernetes " + topo.Cluster.KubernetesVersion,
				"label " + topo.Cluster.TMMNodeLabel, "taint " + topo.Cluster.TMMNodeTaint} {
				if !strings.Contains(txt, want) {
					t.Errorf("text diagram lacks %q", want)
				}
			}
			for _, r := range topo.EffectiveListenRanges() {
				if !strings.Contains(txt, r) {
					t.Errorf("text diagram lacks listen range %s", r)
				}
			}
		})
	}
}

func TestDiagramTextDefaultFacts(t *testing.T) {
	txt := DiagramText(renderBuiltin(t, topology.BuiltinDefault))
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^    node +bnk-worker +eth1 +192\.0\.2\.3/24 +2001::192:0:2:3/112 +flushed$`),
		regexp.MustCompile(`(?m)^    node +bnk-worker3 +eth2 +198\.18\.100\.5/24 +2001::198:18:100:5/112$`),
		regexp.MustCompile(`(?m)^  bnk-worker2 +worker +TMM node: label app=f5-tmm, taint dpu=true:NoSchedule$`),
		regexp.MustCompile(`(?m)^  bnk-worker +worker$`),
		regexp.MustCompile(`(?m)^    tmm-1 +router-id 192\.0\.2\.202$`),
		regexp.MustCompile(`(?m)^    VIP +\[2001::198:20:20:100\]:80$`),
		regexp.MustCompile(`(?m)^      tmm-1 +192\.0\.2\.111, 2001::192:0:2:111$`),
		regexp.MustCompile(`(?m)^ +egress +VXLAN key 200, nodes -> TMM over egress-net$`),
	} {
		if !want.MatchString(txt) {
			t.Errorf("text diagram does not match %s", want)
		}
	}
}

// mermaidLine is every statement DiagramMermaid may emit.
var (
	mmLabel = `"[^"]*"`
	mmID    = `[A-Za-z0-9_]+`
	mmLine  = regexp.MustCompile(`^(flowchart LR|\s*end|\s*subgraph ` + mmID + `\[` + mmLabel + `\]` +
		`|\s*` + mmID + `(\[` + mmLabel + `\]|\{\{` + mmLabel + `\}\})` +
		`|\s*` + mmID + ` (---|-\.-|-->)\|` + mmLabel + `\| ` + mmID +
		`|\s*classDef ` + mmID + ` [a-z0-9:#,-]+|\s*class ` + mmID + `(,` + mmID + `)* ` + mmID + `)$`)
	mmLabels = regexp.MustCompile(mmLabel)
	// Inside a label: no quote, bracket, brace, parenthesis, pipe, angle
	// bracket or backtick; '#' only as an entity code; <br/> between lines.
	mmLabelBody = regexp.MustCompile("^([^\"\\[\\]{}()|<>`#&;]|#(quot|[0-9]+);)*$")
)

func checkMermaid(t *testing.T, d string) {
	t.Helper()
	if !strings.HasPrefix(d, "flowchart LR\n") {
		t.Errorf("mermaid does not start with flowchart LR")
	}
	depth := 0
	for i, line := range strings.Split(strings.TrimSuffix(d, "\n"), "\n") {
		if !mmLine.MatchString(line) {
			t.Errorf("mermaid line %d is not a known statement: %q", i+1, line)
			continue
		}
		switch trimmed := strings.TrimSpace(line); {
		case strings.HasPrefix(trimmed, "subgraph "):
			depth++
		case trimmed == "end":
			depth--
		}
		for _, l := range mmLabels.FindAllString(line, -1) {
			for _, part := range strings.Split(strings.Trim(l, `"`), "<br/>") {
				if !mmLabelBody.MatchString(part) {
					t.Errorf("mermaid line %d has an unescaped label %q", i+1, part)
				}
			}
		}
	}
	if depth != 0 {
		t.Errorf("subgraphs not balanced (%d)", depth)
	}
}

func TestDiagramMermaidSyntax(t *testing.T) {
	for _, name := range topology.Builtins() {
		t.Run(name, func(t *testing.T) {
			checkMermaid(t, DiagramMermaid(renderBuiltin(t, name)))
		})
	}
	t.Run("hostile names", func(t *testing.T) {
		topo := renderBuiltin(t, topology.BuiltinDefault)
		topo.Cluster.Name = `end"]`
		topo.Networks[1].Name = "external net|<b>x</b>"
		topo.Networks[0].Name = "end"
		topo.TMM.Interfaces[0].Network = topo.Networks[1].Name
		topo.TMM.VLANs[0].Name = `ext"[1]{2}(3)`
		topo.Tenants[0].Namespace = "red\nblue;#quot;`x`"
		topo.Tenants[1].Namespace = "red\nblue;#quot;`x`" // same id twice
		topo.Syslog.ContainerName = "a&amp;b"
		d := DiagramMermaid(topo)
		checkMermaid(t, d)
		if !strings.Contains(d, "subgraph cluster_end__[") {
			t.Errorf("cluster id not sanitized:\n%s", d)
		}
	})
}

func TestMermaidIDsUnique(t *testing.T) {
	ids := &mermaidIDs{byKey: map[string]string{}, used: map[string]bool{}}
	a := ids.id("net", "a-b")
	b := ids.id("net", "a_b")
	c := ids.id("net", "a.b")
	if a != "net_a_b" || b != "net_a_b_2" || c != "net_a_b_3" {
		t.Errorf("ids = %s %s %s", a, b, c)
	}
	if again := ids.id("net", "a_b"); again != b {
		t.Errorf("same key got %s, then %s", b, again)
	}
}

// Renderers run on whatever topology.Parse returns, valid or not.
func TestRenderersDoNotPanic(t *testing.T) {
	broken := func() *topology.Topology {
		topo := renderBuiltin(t, topology.BuiltinDefault)
		topo.Networks[1].Attach = nil
		topo.Networks[2].Attach.Nodes = []string{"ghost", "bnk-control-plane"}
		topo.Networks[2].Attach.VLAN = 99
		topo.Networks[0].IPv4Subnet = "not-a-cidr"
		topo.Tenants[0].Ingress = nil
		topo.Tenants[1].SNATPool = nil
		topo.Tenants = append(topo.Tenants, topology.Tenant{Namespace: "x", SNATPool: &topology.SNATPool{Rows: [][]string{nil, {""}}}})
		topo.TMM.Replicas = 1 << 40
		topo.TMM.Interfaces = append(topo.TMM.Interfaces, topology.TMMInterface{Name: "1.9", Network: "nowhere"})
		topo.TMM.VLANs = append(topo.TMM.VLANs, topology.VLAN{Name: "lost", Interface: "9.9", SelfIPs: []topology.SelfIP{{IPv4: "zz"}}})
		topo.TMM.BGP.Neighbors = append(topo.TMM.BGP.Neighbors, topology.BGPNeighbor{IP: "::zz"})
		topo.Cluster.Nodes = append(topo.Cluster.Nodes, topology.Node{Role: "bogus"})
		topo.Cluster.TMMNodes = []string{"bnk-worker2", "ghost"}
		return topo
	}
	parsed, err := topology.Parse("fuzz.yaml", []byte("tmm:\n  replicas: -3\n  vlans: [{name: v}]\ntenants: [{namespace: a}]\nnetworks: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, topo := range map[string]*topology.Topology{"broken": broken(), "parsed": parsed, "empty": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			_ = KindConfig(topo)
			if _, err := KindConfigYAML(topo); err != nil {
				t.Error(err)
			}
			_ = NADs(topo)
			if _, err := NADsYAML(topo); err != nil {
				t.Error(err)
			}
			_ = MultusAnnotation(topo)
			_ = DiagramText(topo)
			checkMermaid(t, DiagramMermaid(topo))
		})
	}
}
