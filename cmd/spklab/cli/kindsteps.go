package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/lab/kind"
	"github.com/spklab/spklab/lab/steps"
)

// kindStepCommands are the kind lab's guide steps, one command group each
// (`spklab cluster create|delete`, `spklab infra up|down`, …), built from
// the steps' own descriptions.
func kindStepCommands(o *options) []*cobra.Command {
	var out []*cobra.Command
	for _, sd := range kind.StepDocs() {
		var kubeconfig string
		parent := &cobra.Command{Use: sd.Name, Short: sd.Short, Args: cobra.NoArgs}
		parent.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file the cluster's context goes to (default: kind's, $KUBECONFIG or ~/.kube/config)")
		parent.AddCommand(&cobra.Command{
			Use: sd.Verb, Short: sd.VerbShort, Long: sd.Long, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKindStep(cmd, o, kubeconfig, sd.Name, false) },
		}, &cobra.Command{
			Use: sd.UndoVerb, Short: "Remove what `" + sd.Command(sd.Name) + "` made (nothing else)", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error { return runKindStep(cmd, o, kubeconfig, sd.Name, true) },
		})
		out = append(out, parent)
	}
	return out
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
