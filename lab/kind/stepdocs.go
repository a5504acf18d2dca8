package kind

import (
	"context"

	"github.com/spklab/spklab/lab/steps"
)

// guideStep is one of the guide's steps as this runtime runs it: the step
// itself, how it presents itself (its command and help) and the student's
// checkpoint after it.
type guideStep interface {
	steps.Step
	Doc() steps.Doc
	// checkpoint adds the step's plain-words checks and returns its Check
	// verdict, both judged from the same facts where the step gathers them
	// once (networks).
	checkpoint(ctx context.Context, cp *Checkpoint) steps.Status
}

// guideSteps are the steps in the guide's order. Doc never touches the
// lab, so guideSteps(nil) serves for building commands.
func guideSteps(l *Lab) []guideStep {
	return []guideStep{ClusterStep{l}, CNIStep{l}, NetworksStep{l}, AttachmentsStep{l}, InfraStep{l}, SPKStep{l}, TenantsStep{l}}
}

// StepDoc is a step's name with its Doc.
type StepDoc struct {
	Name string
	steps.Doc
}

// StepDocs are the guide's steps, in order, as the CLI presents them.
func StepDocs() []StepDoc {
	var out []StepDoc
	for _, s := range guideSteps(nil) {
		out = append(out, StepDoc{Name: s.Name(), Doc: s.Doc()})
	}
	return out
}

func (ClusterStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "The kind cluster of the lab", Verb: "create", UndoVerb: "delete",
		VerbShort: "Create the kind cluster and wait for its API server and nodes",
		Long: `Create the kind cluster of the topology (kind as a library, the topology's node image,
default CNI disabled), wait until the API server answers and every node has registered
(nodes become Ready with "spklab cni deploy"), and export the kubeconfig context
kind-<cluster>. An existing cluster is left alone.`,
	}
}

func (s ClusterStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointCluster(ctx, cp)
	return st
}

func (CNIStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "Pod networking: Calico, Multus, CNI plugins", Verb: "deploy", UndoVerb: "delete",
		VerbShort: "Load the CNI images, apply Calico, Multus and the CNI plugins, wait for Ready nodes",
		Long: `Load into every node the CNI images it lacks (no registry needed), server-side apply
Calico, Multus and the CNI plugins DaemonSet (field manager spklab), and wait until every
node is Ready. Needs "spklab cluster create".`,
	}
}

func (s CNIStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointCNI(ctx, cp)
	return st
}

func (NetworksStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "The docker networks the workers join", Verb: "create", UndoVerb: "delete",
		VerbShort: "Create the lab's docker networks and attach the workers",
		Long: `Create the topology's docker networks (labelled io.spklab.lab=<cluster>; a macvlan network
gets an address-less project bridge as parent where the kernel has no dummy links), connect
every worker with the topology's interface names (eth1, eth2), flush the addresses of
interfaces only TMM uses, record the egress address as the node annotation and set the
node sysctls. Needs "spklab cni deploy".`,
	}
}

func (s NetworksStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	f := s.l.gatherNetworks(ctx)
	f.items(cp)
	return f.status()
}

func (AttachmentsStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "The TMM pod's Multus NetworkAttachmentDefinitions", Verb: "create", UndoVerb: "delete",
		VerbShort: "Server-side apply the NADs",
		Long: `Server-side apply the NetworkAttachmentDefinitions of the TMM interfaces (and their
namespace). Needs "spklab networks create".`,
	}
}

func (s AttachmentsStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointAttachments(ctx, cp)
	return st
}

func (InfraStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "The router, client and syslog containers", Verb: "up", UndoVerb: "down",
		VerbShort: "Start the compose project infra: router, client, syslog",
		Long: `Render the compose file and the router's FRR files into the lab's infra directory
(~/.cache/spklab/<cluster>/infra) and bring compose project "infra" up in-process
(testcontainers-go's compose module): the FRR router infra-frr-1, the nginx client
infra-client-1 and syslog-server, on infra_client-net and the lab's external-net.
Needs "spklab attachments create" (the networks must exist).`,
	}
}

func (s InfraStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointInfra(ctx, cp)
	return st
}

func (SPKStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "The emulated SPK: TMM, controller, node agent", Verb: "install", UndoVerb: "delete",
		VerbShort: "Load our images, mark the TMM nodes, install the Helm chart",
		Long: `Load spk-tmm, spk-controller and spk-node into every node that lacks them or holds an
older build, label and taint the TMM nodes (app=f5-tmm, dpu=true:NoSchedule by default),
install or upgrade the SPK Helm chart with the topology's values (CRDs first), restart
the workloads whose image was rebuilt, and wait for the rollout. Needs "spklab infra up".`,
	}
}

func (s SPKStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointSPK(ctx, cp)
	return st
}

func (TenantsStep) Doc() steps.Doc {
	return steps.Doc{
		Short: "Tenants red and blue and their SPK CRs", Verb: "apply", UndoVerb: "delete",
		VerbShort: "Apply the tenants and the SPK CRs, wait for Programmed",
		Long: `Apply the tenant namespaces, their nginx Deployments and Services, and the SPK CRs
(F5SPKVlan, F5SPKSnatpool, F5SPKEgress, F5SPKIngressTCP), then wait until the pods are
ready and every CR is Programmed (every TMM replica runs it). Needs "spklab spk install".`,
	}
}

func (s TenantsStep) checkpoint(ctx context.Context, cp *Checkpoint) steps.Status {
	st := s.Check(ctx)
	s.l.checkpointTenants(ctx, cp)
	return st
}
