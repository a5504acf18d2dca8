package kind

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/lab/steps"
	"github.com/spklab/spklab/topology/render"
)

// networkFacts is what the networks step's Check and its checkpoint both
// judge, gathered once: the docker networks, each attachment as the node
// sees it, and the node sysctls.
type networkFacts struct {
	// unreachable is why the cluster could not be read ("" when it could).
	unreachable string
	nets        []netFacts
	sysctls     []sysctlFact
	// sysctlErr is why the nodes could not be listed.
	sysctlErr error
}

type netFacts struct {
	dn render.DockerNetwork
	// missing: no docker network of that name; foreign: one without this
	// lab's label.
	missing, foreign bool
	// annotationKey is the node annotation recording the address ("" none).
	annotationKey string
	attach        []attachFacts
}

type attachFacts struct {
	a   render.NodeAttachmentSpec
	err error // the endpoint or the node's interfaces could not be read
	ep  *network.EndpointSettings
	// ifc is the node's interface with the endpoint's MAC (nil: none).
	ifc *ifaceInfo
	// annotation is the node's value under the network's annotation key.
	annotation string
}

type sysctlFact struct {
	node, key, want, got string
	err                  error
}

// gatherNetworks reads every fact the networks step is judged on.
func (l *Lab) gatherNetworks(ctx context.Context) networkFacts {
	var f networkFacts
	kn, err := l.kubeNodes(ctx)
	if err != nil {
		f.unreachable = err.Error()
		return f
	}
	annotations := map[string]map[string]string{}
	for _, n := range kn {
		annotations[n.Name] = n.Annotations
	}
	ifCache := map[string][]ifaceInfo{}
	ifaces := func(node string) ([]ifaceInfo, error) {
		if ifs, ok := ifCache[node]; ok {
			return ifs, nil
		}
		n, err := l.node(node)
		if err != nil {
			return nil, err
		}
		ifs, err := nodeIfaces(ctx, n)
		if err == nil {
			ifCache[node] = ifs
		}
		return ifs, err
	}
	for _, dn := range render.DockerNetworks(l.Topo) {
		nf := netFacts{dn: dn, annotationKey: l.annotationKey(dn.Name)}
		if nw, err := l.docker.NetworkInspect(ctx, dn.Name, network.InspectOptions{}); err != nil {
			nf.missing = true
		} else if nw.Labels[render.LabelLab] != l.Topo.Cluster.Name {
			nf.foreign = true
		}
		for _, a := range dn.Attach {
			af := attachFacts{a: a}
			if nf.annotationKey != "" {
				af.annotation = annotations[a.Node][nf.annotationKey]
			}
			af.ep, af.err = l.endpoint(ctx, a.Node, dn.Name)
			if af.err == nil && af.ep != nil {
				ifs, err := ifaces(a.Node)
				af.err = err
				for i := range ifs {
					if strings.EqualFold(ifs[i].MAC, af.ep.MacAddress) {
						af.ifc = &ifs[i]
					}
				}
			}
			nf.attach = append(nf.attach, af)
		}
		f.nets = append(f.nets, nf)
	}
	ns, err := l.Nodes()
	if err != nil {
		f.sysctlErr = err
		return f
	}
	keys := make([]string, len(nodeSysctls))
	for i, sc := range nodeSysctls {
		keys[i] = sc[0]
	}
	for _, n := range ns {
		// One exec per node: sysctl prints the values in the order asked.
		out, err := run(ctx, n, nil, "sysctl", append([]string{"-n"}, keys...)...)
		vals := strings.Split(strings.TrimSpace(out), "\n")
		for i, sc := range nodeSysctls {
			sf := sysctlFact{node: n.String(), key: sc[0], want: sc[1], err: err}
			if err == nil && i < len(vals) {
				sf.got = strings.TrimSpace(vals[i])
			}
			f.sysctls = append(f.sysctls, sf)
		}
	}
	return f
}

// status is the step's verdict: the first thing missing or wrong.
func (f networkFacts) status() steps.Status {
	notDone := func(format string, a ...any) steps.Status {
		return steps.Status{State: steps.NotDone, Reason: fmt.Sprintf(format, a...)}
	}
	broken := func(format string, a ...any) steps.Status {
		return steps.Status{State: steps.Broken, Reason: fmt.Sprintf(format, a...)}
	}
	if f.unreachable != "" {
		return notDone("cluster not reachable: %s", f.unreachable)
	}
	attached := 0
	for _, nf := range f.nets {
		switch {
		case nf.missing:
			return notDone("no docker network %s", nf.dn.Name)
		case nf.foreign:
			return broken("docker network %s exists without label %s=<this lab> (not this lab's)", nf.dn.Name, render.LabelLab)
		}
		for _, af := range nf.attach {
			a := af.a
			switch {
			case af.err != nil:
				return broken("%s", af.err)
			case af.ep == nil:
				return notDone("%s not connected to %s", a.Node, nf.dn.Name)
			}
			if wrong := pinnedMismatch(a, af.ep); wrong != "" {
				return notDone("%s on %s: %s", a.Node, nf.dn.Name, wrong)
			}
			if af.ifc == nil || af.ifc.Name != a.Interface {
				return notDone("%s: %s is not %s", a.Node, nf.dn.Name, a.Interface)
			}
			if !a.KeepAddress && len(af.ifc.globalAddrs("")) > 0 {
				return notDone("%s: %s still has %v", a.Node, a.Interface, af.ifc.globalAddrs(""))
			}
			if a.KeepAddress {
				if missing := missingAddrs(*af.ifc, af.ep); len(missing) > 0 {
					return notDone("%s: %s lacks %v", a.Node, a.Interface, missing)
				}
			}
			if nf.annotationKey != "" {
				if want := annotationValue(af.ep); af.annotation != want {
					return notDone("%s: annotation %s is %q, want %q", a.Node, nf.annotationKey, af.annotation, want)
				}
			}
			attached++
		}
	}
	if f.sysctlErr != nil {
		return broken("%s", f.sysctlErr)
	}
	for _, sf := range f.sysctls {
		switch {
		case sf.err != nil:
			return broken("%s", sf.err)
		case sf.got != sf.want:
			return notDone("%s: %s = %s, want %s", sf.node, sf.key, sf.got, sf.want)
		}
	}
	return steps.Status{State: steps.Done, Reason: fmt.Sprintf("%d networks, %d node attachments, sysctls set", len(f.nets), attached)}
}

// items adds one plain-words check per network with attachments.
func (f networkFacts) items(cp *Checkpoint) {
	for _, nf := range f.nets {
		dn := nf.dn
		if len(dn.Attach) == 0 {
			continue
		}
		ifName := dn.Attach[0].Interface
		var attached, clean, problems []string
		for _, af := range nf.attach {
			a := af.a
			switch {
			case af.err != nil:
				problems = append(problems, af.err.Error())
				continue
			case af.ep == nil:
				problems = append(problems, a.Node+" not attached")
				continue
			}
			attached = append(attached, a.Node)
			if af.ifc == nil {
				continue
			}
			addrs := af.ifc.globalAddrs("")
			switch {
			case af.ifc.Name != a.Interface:
				problems = append(problems, fmt.Sprintf("%s calls it %s, not %s", a.Node, af.ifc.Name, a.Interface))
			case !a.KeepAddress && len(addrs) > 0:
				problems = append(problems, fmt.Sprintf("%s %s still has %s", a.Node, a.Interface, strings.Join(addrs, ", ")))
			case a.KeepAddress:
				clean = append(clean, fmt.Sprintf("%s %s", a.Node, strings.Join(addrs, " ")))
			default:
				clean = append(clean, a.Node)
			}
		}
		text := fmt.Sprintf("%s attached to %d workers as %s", dn.Name, len(attached), ifName)
		if !dn.Attach[0].KeepAddress {
			text += ", " + ifName + " has no address (only TMM uses this wire)"
		} else {
			text += ", addresses: " + strings.Join(clean, "; ")
			if nf.annotationKey != "" {
				recorded := 0
				for _, af := range nf.attach {
					if af.annotation != "" {
						recorded++
					}
				}
				text += fmt.Sprintf("; recorded in %s on %d nodes", nf.annotationKey, recorded)
				if recorded != len(dn.Attach) {
					problems = append(problems, fmt.Sprintf("annotation %s on %d of %d nodes", nf.annotationKey, recorded, len(dn.Attach)))
				}
			}
		}
		cp.add(len(problems) == 0 && len(attached) == len(dn.Attach), text, strings.Join(problems, "; "))
	}
}
