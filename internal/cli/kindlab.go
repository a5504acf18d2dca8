package cli

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/lab/kindlab"
)

// newKindLab builds the kind lab of the validated topology.
func newKindLab(o *options, kubeconfig string) (*kindlab.Lab, error) {
	topo, err := o.validTopology()
	if err != nil {
		return nil, err
	}
	lab, err := kindlab.New(topo, kubeconfig, slog.New(slog.NewTextHandler(o.stderr, nil)))
	if err != nil {
		return nil, &ExitError{Code: ExitProblems, Err: err}
	}
	return lab, nil
}

func runKindUp(cmd *cobra.Command, o *options, kubeconfig string) error {
	lab, err := newKindLab(o, kubeconfig)
	if err != nil {
		return err
	}
	defer lab.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	if _, err := lab.Up(ctx, o.stdout); err != nil {
		return &ExitError{Code: ExitProblems, Err: err}
	}
	fmt.Fprintf(o.stdout, "kind lab %s is up: try  docker exec %s curl -sI http://%s\n",
		lab.Topo.Cluster.Name, lab.Topo.ClientContainer(), firstVIP(lab))
	return nil
}

// firstVIP is the first tenant's IPv4 VIP, for the hint after up.
func firstVIP(lab *kindlab.Lab) string {
	for _, tn := range lab.Topo.Tenants {
		if tn.Ingress != nil && tn.Ingress.IPv4 != "" {
			return tn.Ingress.IPv4
		}
	}
	return "<vip>"
}

func runKindDown(cmd *cobra.Command, o *options, kubeconfig string) error {
	lab, err := newKindLab(o, kubeconfig)
	if err != nil {
		return err
	}
	defer lab.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	if _, err := lab.Down(ctx, o.stdout); err != nil {
		return &ExitError{Code: ExitProblems, Err: err}
	}
	fmt.Fprintf(o.stdout, "kind lab %s is down\n", lab.Topo.Cluster.Name)
	return nil
}

func runKindStatus(cmd *cobra.Command, o *options, kubeconfig, output string) error {
	lab, err := newKindLab(o, kubeconfig)
	if err != nil {
		return err
	}
	defer lab.Close()
	ctx, cancel := interruptible(cmd)
	defer cancel()
	s := lab.Status(ctx)
	if output == formatJSON {
		err = writeData(o.stdout, formatJSON, s)
	} else {
		err = s.WriteTable(o.stdout)
	}
	if err != nil {
		return err
	}
	if !s.Up() {
		return &ExitError{Code: ExitProblems, Err: fmt.Errorf("kind lab %s is not (fully) up", lab.Topo.Cluster.Name)}
	}
	return nil
}
