package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/lab/kind"
	"github.com/spklab/spklab/lab/steps"
)

// kindStepCommands are the kind lab's guide steps, one command each:
// `spklab cluster create|delete`, `cni deploy|delete`,
// `networks create|delete`, `attachments create|delete`.
func kindStepCommands(o *options) []*cobra.Command {
	var kubeconfig string
	group := func(step, short, createVerb, createShort, long string) *cobra.Command {
		deleteVerb := "delete"
		if createVerb == "up" {
			deleteVerb = "down"
		}
		parent := &cobra.Command{Use: step, Short: short, Args: cobra.NoArgs}
		parent.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file the cluster's context goes to (default: kind's, $KUBECONFIG or ~/.kube/config)")
		parent.AddCommand(&cobra.Command{
			Use: createVerb, Short: createShort, Long: long, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKindStep(cmd, o, kubeconfig, step, false) },
		}, &cobra.Command{
			Use: deleteVerb, Short: "Remove what `" + step + " " + createVerb + "` made (nothing else)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKindStep(cmd, o, kubeconfig, step, true) },
		})
		return parent
	}
	return []*cobra.Command{
		group("cluster", "The kind cluster of the lab", "create", "Create the kind cluster and wait for its API server and nodes",
			`Create the kind cluster of the topology (kind as a library, the topology's node image,
default CNI disabled), wait until the API server answers and every node has registered
(nodes become Ready with "spklab cni deploy"), and export the kubeconfig context
kind-<cluster>. An existing cluster is left alone.`),
		group("cni", "Pod networking: Calico, Multus, CNI plugins", "deploy", "Load the CNI images, apply Calico, Multus and the CNI plugins, wait for Ready nodes",
			`Load into every node the CNI images it lacks (no registry needed), server-side apply
Calico, Multus and the CNI plugins DaemonSet (field manager spklab), and wait until every
node is Ready. Needs "spklab cluster create".`),
		group("networks", "The docker networks the workers join", "create", "Create the lab's docker networks and attach the workers",
			`Create the topology's docker networks (labelled io.spklab.lab=<cluster>; a macvlan network
gets an address-less project bridge as parent where the kernel has no dummy links), connect
every worker with the topology's interface names (eth1, eth2), flush the addresses of
interfaces only TMM uses, record the egress address as the node annotation and set the
node sysctls. Needs "spklab cni deploy".`),
		group("attachments", "The TMM pod's Multus NetworkAttachmentDefinitions", "create", "Server-side apply the NADs",
			`Server-side apply the NetworkAttachmentDefinitions of the TMM interfaces (and their
namespace). Needs "spklab networks create".`),
		group("infra", "The router, client and syslog containers", "up", "Start the compose project infra: router, client, syslog",
			`Render the compose file and the router's FRR files into the lab's infra directory
(~/.cache/spklab/<cluster>/infra) and bring compose project "infra" up in-process
(testcontainers-go's compose module): the FRR router infra-frr-1, the nginx client
infra-client-1 and syslog-server, on infra_client-net and the lab's external-net.
Needs "spklab attachments create" (the networks must exist).`),
		group("spk", "The emulated SPK: TMM, controller, node agent", "install", "Load our images, mark the TMM nodes, install the Helm chart",
			`Load spk-tmm, spk-controller and spk-node into every node that lacks them or holds an
older build, label and taint the TMM nodes (app=f5-tmm, dpu=true:NoSchedule by default),
install or upgrade the SPK Helm chart with the topology's values (CRDs first), restart
the workloads whose image was rebuilt, and wait for the rollout. Needs "spklab infra up".`),
		group("tenants", "Tenants red and blue and their SPK CRs", "apply", "Apply the tenants and the SPK CRs, wait for Programmed",
			`Apply the tenant namespaces, their nginx Deployments and Services, and the SPK CRs
(F5SPKVlan, F5SPKSnatpool, F5SPKEgress, F5SPKIngressTCP), then wait until the pods are
ready and every CR is Programmed (every TMM replica runs it). Needs "spklab spk install".`),
	}
}

// runKindStep applies (after checking that the steps before it are done)
// or destroys one step, printing what it found and did.
func runKindStep(cmd *cobra.Command, o *options, kubeconfig, name string, destroy bool) error {
	return withKindLab(cmd, o, kubeconfig, func(ctx context.Context, lab *kind.Lab) error {
		step, err := lab.Step(name)
		if err != nil {
			return &ExitError{Code: ExitProblems, Err: err}
		}
		runner := steps.Runner{Out: o.stdout}
		if destroy {
			if _, err := runner.Destroy(ctx, []steps.Step{step}); err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			return nil
		}
		for _, before := range lab.Steps() {
			if before.Name() == name {
				break
			}
			if st := before.Check(ctx); st.State != steps.Done {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("step %s is %s (%s): run it first", before.Name(), st.State, st.Reason)}
			}
		}
		if _, err := runner.Apply(ctx, []steps.Step{step}); err != nil {
			return &ExitError{Code: ExitProblems, Err: err}
		}
		fmt.Fprintln(o.stdout, "check it: spklab checkpoint "+name)
		return nil
	})
}
