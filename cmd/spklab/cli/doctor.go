package cli

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/host/doctor"
)

// newDoctorCommand is `spklab doctor`.
func newDoctorCommand(o *options) *cobra.Command {
	var (
		output, wrapper, dockerHost string
		fix, undo                   bool
		only                        []string
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the host (docker, privileged containers, kernel features) and fix it",
		Long: `Check that this machine can run the kind lab and explain every problem in plain words,
with its fix. Checks, in order:

  docker      Docker answers (server and API version)
  privileged  a --privileged container really starts (a throwaway container from a tiny
              local image: no registry needed). Docker before 23 asks for every capability
              the kernel knows (moby#42906) and fails where the machine's capability bounding
              set lacks one (CAP_SYS_RESOURCE on some VMs); kind nodes are privileged containers
  inotify     fs.inotify.max_user_instances ≥ 512 and max_user_watches ≥ 524288 (kind)
  subnets     the topology's subnets (networks, kind's, pods, services) against the host's
              routes and existing docker networks
  kernel      macvlan, vxlan, br_netfilter, overlay; the cgroup version
  memory      ≥ 4 GiB available (fails below 2.5 GiB, the lab's measured steady state)
  disk        ≥ 15 GiB free where docker keeps images (DockerRootDir; fails below 8 GiB)

--fix repairs what it can and checks again: starts dockerd; installs spklab-runc (a runc
wrapper that drops capabilities the machine cannot grant, built next to spklab by make build)
into /usr/local/libexec/spklab and makes it dockerd's default runtime in daemon.json (merged,
original backed up) with a SIGHUP — no restart, running containers keep running; raises the
inotify limits (until reboot); loads kernel modules. --undo-runc-wrapper gives dockerd its
own runc back.

Exit status: 0 when nothing blocks the lab (warnings do not), 1 while a problem blocks it,
2 for bad flags.`,
		Example: `  sudo spklab doctor
  sudo spklab doctor --fix
  spklab doctor -o json --only docker,privileged
  sudo spklab doctor --undo-runc-wrapper`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatTable, formatJSON); err != nil {
				return err
			}
			if fix && undo {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--fix and --undo-runc-wrapper: choose one")}
			}
			level := slog.LevelWarn
			if fix || undo {
				level = slog.LevelInfo // say what is being changed while it happens
			}
			cfg := doctor.Config{
				Fix:           fix,
				Only:          splitList(only),
				DockerHost:    dockerHost,
				WrapperBinary: wrapper,
				Logger:        slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level})),
			}
			ctx, cancel := interruptible(cmd)
			defer cancel()
			if undo {
				did, err := doctor.UndoRuncWrapper(ctx, cfg)
				for _, d := range did {
					fmt.Fprintln(o.stdout, "- "+d)
				}
				if err != nil {
					return &ExitError{Code: ExitProblems, Err: fmt.Errorf("undoing the runc wrapper: %w", err)}
				}
				return nil
			}
			for _, id := range cfg.Only {
				if !slices.Contains(doctor.CheckIDs(), id) {
					return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--only %s: checks are %s", id, strings.Join(doctor.CheckIDs(), ","))}
				}
			}
			t, err := o.validTopology()
			if err != nil {
				return err
			}
			cfg.Topology = t
			rep, err := doctor.Run(ctx, cfg)
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			if output == formatJSON {
				err = rep.WriteJSON(o.stdout)
			} else {
				err = rep.WriteTable(o.stdout)
			}
			if err != nil {
				return err
			}
			if b := rep.Blocking(); len(b) > 0 {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%d problem(s) block the lab: %s", len(b), strings.Join(b, ", "))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table|json")
	cmd.Flags().BoolVar(&fix, "fix", false, "repair what can be repaired (root), then check again")
	cmd.Flags().BoolVar(&undo, "undo-runc-wrapper", false, "make runc dockerd's default runtime again and unregister spklab-runc (root)")
	cmd.Flags().StringSliceVar(&only, "only", nil, "run only these checks, comma-separated: "+strings.Join(doctor.CheckIDs(), ","))
	cmd.Flags().StringVar(&wrapper, "runc-wrapper", "", "the spklab-runc program to install and probe with (default: next to spklab, else on $PATH)")
	cmd.Flags().StringVar(&dockerHost, "docker-host", "", "the Docker daemon to check (default: $DOCKER_HOST, else the local socket)")
	return cmd
}
