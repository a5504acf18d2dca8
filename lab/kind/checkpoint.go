package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// CheckItem is one plain-words check of a checkpoint.
type CheckItem struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
	// Hint says what to look at when the check fails.
	Hint string `json:"hint,omitempty"`
}

// Checkpoint is what a student sees after a guide step: the step, its
// checks, and the command of the next step.
type Checkpoint struct {
	Step string `json:"step"`
	// Command is the step's guide command ("spklab cluster create").
	Command string      `json:"command"`
	Items   []CheckItem `json:"items"`
	Next    string      `json:"next,omitempty"`
}

// OK reports whether every check passed.
func (c *Checkpoint) OK() bool {
	for _, it := range c.Items {
		if !it.OK {
			return false
		}
	}
	return len(c.Items) > 0
}

// LastDoneStep is the last step of the unbroken run of done steps from
// the first ("" when the first is not done): the step a student just ran.
func (l *Lab) LastDoneStep(ctx context.Context) string {
	last := ""
	for _, r := range steps.CheckAll(ctx, l.Steps()) {
		if r.Before.State != steps.Done {
			break
		}
		last = r.Step
	}
	return last
}

// Checkpoint checks one step in a student's words: the step's own Check,
// then its plain-words checks, and the next step's command.
func (l *Lab) Checkpoint(ctx context.Context, step string) (*Checkpoint, error) {
	all := guideSteps(l)
	i := slices.IndexFunc(all, func(s guideStep) bool { return s.Name() == step })
	if i < 0 {
		_, err := l.Step(step)
		return nil, err
	}
	s := all[i]
	cp := &Checkpoint{Step: step, Command: s.Doc().Command(step), Next: "spklab test"}
	if i+1 < len(all) {
		cp.Next = all[i+1].Doc().Command(all[i+1].Name())
	}
	st := s.checkpoint(ctx, cp)
	first := CheckItem{OK: st.State == steps.Done, Text: fmt.Sprintf("%s: %s", step, st.Reason)}
	if !first.OK {
		first.Hint = "run " + s.Doc().Command(step) + " (again): it repairs what is missing"
	}
	cp.Items = append([]CheckItem{first}, cp.Items...)
	return cp, nil
}

func (c *Checkpoint) add(ok bool, text, hint string) {
	c.Items = append(c.Items, item(ok, text, hint))
}

// item is one line of a checkpoint; the hint shows only when it failed.
func item(ok bool, text, hint string) CheckItem {
	it := CheckItem{OK: ok, Text: text}
	if !ok {
		it.Hint = hint
	}
	return it
}

func (l *Lab) checkpointCluster(ctx context.Context, cp *Checkpoint) {
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		cp.add(false, "the API server answers", err.Error())
		return
	}
	var names []string
	for _, n := range kn {
		names = append(names, n.Name)
	}
	cp.add(len(kn) == len(l.Topo.Cluster.Nodes), fmt.Sprintf("%d nodes registered: %s", len(kn), strings.Join(names, ", ")),
		fmt.Sprintf("the topology has %d nodes", len(l.Topo.Cluster.Nodes)))
	ok, _ := l.HasKubeContext()
	cp.add(ok, fmt.Sprintf("kubectl context %s in %s", l.KubeContext(), l.KubeconfigPath()), "spklab cluster create exports it")
}

func (l *Lab) checkpointCNI(ctx context.Context, cp *Checkpoint) {
	if kn, err := l.kubeNodes(ctx); err == nil {
		var notReady []string
		for _, n := range kn {
			if !n.Ready {
				notReady = append(notReady, n.Name)
			}
		}
		cp.add(len(notReady) == 0, fmt.Sprintf("%d nodes Ready (pods get addresses from Calico)", len(kn)-len(notReady)),
			"not Ready: "+strings.Join(notReady, ", "))
	}
	out, err := l.Kubectl(ctx, nil, "-n", "kube-system", "get", "daemonsets", "-o", "json")
	if err != nil {
		cp.add(false, "CNI DaemonSets readable", err.Error())
		return
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
			Status   struct {
				Desired int `json:"desiredNumberScheduled"`
				Ready   int `json:"numberReady"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		cp.add(false, "CNI DaemonSets readable", err.Error())
		return
	}
	for _, ds := range cniDaemonSets {
		found := false
		for _, it := range list.Items {
			if it.Metadata.Name == ds {
				found = true
				cp.add(it.Status.Ready == it.Status.Desired && it.Status.Desired > 0,
					fmt.Sprintf("%s ready on %d of %d nodes", ds, it.Status.Ready, it.Status.Desired),
					"kubectl -n kube-system describe daemonset "+ds)
			}
		}
		if !found {
			cp.add(false, ds+" deployed", "spklab cni deploy")
		}
	}
}

func (l *Lab) checkpointAttachments(ctx context.Context, cp *Checkpoint) {
	got, err := l.nadConfigs(ctx, l.Topo.SPK.Namespace)
	if err != nil {
		cp.add(false, "NetworkAttachmentDefinitions readable", err.Error())
		return
	}
	for _, nad := range render.NADs(l.Topo) {
		var conf struct {
			Type, Master, Mode string
		}
		_ = json.Unmarshal([]byte(got[nad.Name]), &conf)
		cp.add(got[nad.Name] == nad.Spec.Config,
			fmt.Sprintf("NAD %s/%s: %s on the node's %s (%s mode): TMM's interface 1.%d", l.Topo.SPK.Namespace, nad.Name, conf.Type, conf.Master, conf.Mode, tmmInterfaceIndex(l, nad.Name)),
			"spklab attachments create")
	}
}

func tmmInterfaceIndex(l *Lab, network string) int {
	for i, ifc := range l.Topo.TMM.Interfaces {
		if ifc.Network == network {
			return i + 1
		}
	}
	return 0
}

func (l *Lab) checkpointInfra(ctx context.Context, cp *Checkpoint) {
	cs, err := l.InfraContainers()
	if err != nil {
		cp.add(false, "compose project", err.Error())
		return
	}
	for _, c := range cs {
		info, err := l.docker.ContainerInspect(ctx, c.Name)
		running := err == nil && info.State != nil && info.State.Running
		cp.add(running, fmt.Sprintf("container %s (%s) running", c.Name, c.Service), "docker logs "+c.Name)
	}
	out, err := l.RouterVTY().Run(ctx, "show bgp summary")
	cp.add(err == nil && strings.Contains(string(out), "local AS"),
		fmt.Sprintf("router %s runs BGP, AS %d, waiting for the TMMs", l.Topo.RouterContainer(), l.Topo.Router.ASN),
		"docker exec "+l.Topo.RouterContainer()+" vtysh -c 'show bgp summary'")
	route, err := l.containerExec(ctx, l.Topo.ClientContainer(), "ip", "-4", "route", "show", "default")
	gw := ""
	if ifc, ok := l.Topo.RouterInterfaceOn(l.Topo.Client.Network); ok {
		gw = ifc.IPv4
	}
	cp.add(err == nil && strings.Contains(route, "via "+gw+" "),
		fmt.Sprintf("client %s routes through the router (%s)", l.Topo.ClientContainer(), gw),
		"default route: "+strings.TrimSpace(route))
}

func (l *Lab) checkpointSPK(ctx context.Context, cp *Checkpoint) {
	for _, t := range l.tmmStatus(ctx) {
		cp.add(t.Ready && slices.Contains(l.Topo.Cluster.TMMNodes, t.Node),
			fmt.Sprintf("TMM %s Ready on DPU node %s", t.Pod, dash(t.Node)),
			"kubectl -n "+l.Topo.SPK.Namespace+" describe pod "+t.Pod)
	}
	for _, w := range spkWorkloads[1:] {
		_, err := l.Kubectl(ctx, nil, "-n", l.Topo.SPK.Namespace, "rollout", "status", w, "--timeout=1s")
		cp.add(err == nil, w+" ready", "kubectl -n "+l.Topo.SPK.Namespace+" describe "+w)
	}
	crds, err := l.Kubectl(ctx, nil, "get", "crds", "-o", "name")
	cp.add(err == nil && strings.Count(crds, "f5net.com") >= 5, "the F5 SPK CRDs are installed", "spklab spk install applies them first")
}

func (l *Lab) checkpointTenants(ctx context.Context, cp *Checkpoint) {
	s := l.Status(ctx)
	for _, c := range s.CRs {
		cp.add(c.Programmed == "True", c.Object+" Programmed on every TMM", c.Message)
	}
	for _, t := range s.TMMs {
		cp.add(t.BGP == "Established", fmt.Sprintf("TMM %s (%s) BGP Established at the router", t.Pod, t.SelfIP), "BGP: "+t.BGP)
	}
	for _, r := range s.Routes {
		cp.add(r.Complete, fmt.Sprintf("router routes %s (%s) via %s", r.Prefix, r.What, strings.Join(r.Want, " and ")),
			"the router uses: "+dash(strings.Join(r.Got, " ")))
	}
	// The requests, two per tenant, each a docker or kubectl exec: at once,
	// their lines in the tenants' order.
	var probes []func() CheckItem
	for _, tn := range l.Topo.Tenants {
		if tn.Ingress == nil || tn.Ingress.IPv4 == "" {
			continue
		}
		probes = append(probes, func() CheckItem {
			out, err := l.containerExec(ctx, l.Topo.ClientContainer(), "curl", "-sI", "-m", "3", "http://"+tn.Ingress.IPv4)
			first, _, _ := strings.Cut(out, "\n")
			return item(err == nil && strings.Contains(first, " 200"),
				fmt.Sprintf("curl -I http://%s from the client: %s", tn.Ingress.IPv4, strings.TrimSpace(first)),
				"spklab test --label-filter ingress shows where it stops")
		})
	}
	for _, tn := range l.Topo.Tenants {
		if tn.SNATPool == nil {
			continue
		}
		probes = append(probes, func() CheckItem {
			pod, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "get", "pods", "-l", render.LabelApp+"="+tn.Deployment, "-o", "jsonpath={.items[0].metadata.name}")
			if err != nil || pod == "" {
				return item(false, "a "+tn.Namespace+" pod to curl from", "no pods")
			}
			out, err := l.Kubectl(ctx, nil, "-n", tn.Namespace, "exec", pod, "--", "curl", "-s", "-m", "3", "http://"+l.Topo.Client.IPv4+"/txt")
			seen := strings.TrimSpace(out)
			return item(err == nil && inPool(seen, tn.SNATPool.Rows),
				fmt.Sprintf("from %s/%s the client sees %s (SNAT pool %s)", tn.Namespace, pod, dash(seen), tn.SNATPool.Name),
				"spklab test --label-filter snat shows where it stops")
		})
	}
	items := make([]CheckItem, len(probes))
	var wg sync.WaitGroup
	for i, probe := range probes {
		wg.Go(func() { items[i] = probe() })
	}
	wg.Wait()
	cp.Items = append(cp.Items, items...)
}

func inPool(addr string, rows [][]string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	for _, r := range rows {
		for _, s := range r {
			if b, err := netip.ParseAddr(s); err == nil && b == a {
				return true
			}
		}
	}
	return false
}

// WriteText prints the checkpoint with ✓ and ✗ marks.
func (c *Checkpoint) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Checkpoint after `%s`:\n", c.Command)
	for _, it := range c.Items {
		mark := "✓"
		if !it.OK {
			mark = "✗"
		}
		fmt.Fprintf(w, "  %s %s\n", mark, it.Text)
		if it.Hint != "" {
			fmt.Fprintf(w, "      → %s\n", it.Hint)
		}
	}
	if c.OK() && c.Next != "" {
		fmt.Fprintf(w, "Next: %s\n", c.Next)
	}
}

// containerExec runs a command in a docker container and returns its
// output (stdout and stderr); a non-zero exit is an error carrying it.
func (l *Lab) containerExec(ctx context.Context, name string, argv ...string) (string, error) {
	r, err := docker.Wrap(l.docker).Exec(ctx, name, argv...)
	if err == nil && r.ExitCode != 0 {
		err = fmt.Errorf("%s in %s exited %d: %s", strings.Join(argv, " "), name, r.ExitCode, strings.TrimSpace(r.Output))
	}
	return r.Output, err
}
