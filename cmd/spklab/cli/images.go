package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/host/docker"
	"github.com/spklab/spklab/images"
	"github.com/spklab/spklab/images/catalog"
)

// newImagesCommand is `spklab images`: the lab's images, built offline.
func newImagesCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List, build, pull, save and load the lab's images",
		Long: `Every image the lab runs for the topology: the kind node and what it preloads, the
CNI images, the router (FRR), client (nginx), syslog (rsyslog) and our spk-tmm,
spk-controller and spk-node.

Each can be built locally from Debian packages and Go module sources, so the lab works
with no registry. A built image carries the labels io.spklab.image and io.spklab.inputs
(a hash of everything its build read): "current" means the image under its ref carries
today's hash; "stale" that something it was built from changed since. Nothing else is
stored. Building our own images needs the spklab source tree (run from the repository).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImagesListCommand(o), newImagesBuildCommand(o), newImagesPullCommand(o),
		newImagesSaveCommand(o), newImagesLoadCommand(o))
	return cmd
}

// imagesEnv is what every images subcommand needs: the catalog for the
// topology and a manager on the local Docker daemon.
type imagesEnv struct {
	imgs []images.Image
	m    *images.Manager
}

func (o *options) imagesEnv(ctx context.Context, log *slog.Logger, progress io.Writer) (*imagesEnv, func(), error) {
	t, err := o.validTopology()
	if err != nil {
		return nil, nil, err
	}
	imgs, err := catalog.Images(t, catalog.Options{Log: log})
	if err != nil {
		return nil, nil, &ExitError{Code: ExitProblems, Err: err}
	}
	dc, err := docker.New()
	if err != nil {
		return nil, nil, &ExitError{Code: ExitProblems, Err: err}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := dc.Ping(pctx); err != nil {
		dc.Close()
		return nil, nil, &ExitError{Code: ExitProblems, Err: fmt.Errorf("%w (is dockerd running? spklab doctor --fix starts it)", err)}
	}
	return &imagesEnv{imgs: imgs, m: &images.Manager{Docker: dc, Log: log, Output: progress}}, func() { dc.Close() }, nil
}

func (o *options) imagesLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level}))
}

func newImagesListCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Show every image: ref, present, current, pull or build, inputs hash, size",
		Long: `Show every image the topology's lab runs: its ref, whether it is present and current
(carries the hash of today's inputs), how it is obtained (pull: a registry serves it
upstream; build: only built here), its inputs hash, size and purpose.

Computing the hashes of our own images builds their Go binaries (cached by Go: seconds).
Exit status 0 when every image is present and current, 1 otherwise.`,
		Example: `  spklab images list
  spklab images list -o json | jq '.[] | select(.current | not) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(output, formatTable, formatJSON); err != nil {
				return err
			}
			ctx, cancel := interruptible(cmd)
			defer cancel()
			env, done, err := o.imagesEnv(ctx, o.imagesLogger(slog.LevelWarn), nil)
			if err != nil {
				return err
			}
			defer done()
			states, err := env.m.Status(ctx, env.imgs)
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			rows := images.Rows(states)
			if output == formatJSON {
				err = writeData(o.stdout, formatJSON, rows)
			} else {
				err = images.WriteTable(o.stdout, rows)
			}
			if err != nil {
				return err
			}
			var notReady int
			for _, r := range rows {
				if !r.Current {
					notReady++
				}
			}
			if notReady > 0 {
				return &ExitError{Code: ExitProblems, Err: fmt.Errorf("%d of %d images missing or stale: spklab images build", notReady, len(rows))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", formatTable, "output format: table|json")
	return cmd
}

func newImagesBuildCommand(o *options) *cobra.Command {
	var (
		verbose bool
		jobs    int
	)
	cmd := &cobra.Command{
		Use:   "build [NAME...]",
		Short: "Build the images (or those named) that are missing or stale, and what they need",
		Long: `Build, in dependency order, the named images (all when none is named) and the images
they are built from, each only when missing or stale; two build at once (--jobs), an image
starting when those it is built from are done. Nothing is pulled: everything comes
from Debian packages (the host's apt mirror) and Go module sources. Images present and
current are left alone, so a second run with no change builds nothing.

The first failure stops the builds; its error names the image and the failing step, with
that step's output. Needs root for the Debian base (debootstrap).`,
		Example: `  sudo spklab images build
  sudo spklab images build spk-tmm client
  sudo spklab images build -v frr`,
		RunE: func(cmd *cobra.Command, names []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			var progress io.Writer
			if verbose {
				progress = o.stderr
			}
			env, done, err := o.imagesEnv(ctx, o.imagesLogger(slog.LevelInfo), progress)
			if err != nil {
				return err
			}
			defer done()
			env.m.Jobs = jobs
			start := time.Now()
			built, err := env.m.BuildMissing(ctx, env.imgs, names)
			writeBuilt(o.stdout, built)
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			n := 0
			for _, b := range built {
				if b.Built {
					n++
				}
			}
			fmt.Fprintf(o.stdout, "%d built, %d up to date, in %v\n", n, len(built)-n, time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the docker build and debootstrap output")
	cmd.Flags().IntVarP(&jobs, "jobs", "j", images.DefaultJobs, "how many images build at once (each waits for the images it needs)")
	return cmd
}

func writeBuilt(w io.Writer, built []images.Built) {
	if len(built) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tRESULT\tTOOK")
	for _, b := range built {
		result, took := "up to date", "-"
		if b.Built {
			result, took = "built ("+b.Reason+")", b.Duration.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", b.Name, result, took)
	}
	tw.Flush()
}

func newImagesPullCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "pull",
		Short: "Pull the images a registry serves (when one is reachable)",
		Long: `Pull, for every image that has an upstream reference and is not present, that reference,
and tag it with the ref the lab runs. When no registry answers (an offline machine) it says
so in one line at once: build the images instead (spklab images build).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			env, done, err := o.imagesEnv(ctx, o.imagesLogger(slog.LevelInfo), nil)
			if err != nil {
				return err
			}
			defer done()
			pulled, err := env.m.Pull(ctx, env.imgs)
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			fmt.Fprintf(o.stdout, "%d pulled\n", len(pulled))
			return nil
		},
	}
}

func newImagesSaveCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "save FILE [NAME...]",
		Short: "Write the images (or those named) to one docker save tarball (.gz: compressed)",
		Long: `Write the images (all, or those named) to FILE as one docker save tarball, gzip-compressed
when FILE ends in .gz, for machines that can neither pull nor build: copy it there and
run spklab images load FILE. Every image must be present (spklab images build first).`,
		Example: `  spklab images save lab-images.tar.gz
  spklab images save ours.tar spk-tmm spk-controller spk-node`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			env, done, err := o.imagesEnv(ctx, o.imagesLogger(slog.LevelInfo), nil)
			if err != nil {
				return err
			}
			defer done()
			imgs := env.imgs
			if len(args) > 1 {
				if imgs, err = selectImages(env.imgs, args[1:]); err != nil {
					return &ExitError{Code: ExitUsage, Err: err}
				}
			}
			if err := env.m.Save(ctx, args[0], imgs); err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			fmt.Fprintf(o.stdout, "saved %d images to %s\n", len(imgs), args[0])
			return nil
		},
	}
}

// selectImages returns the named images only (not what they need: save
// copies images, it does not build them).
func selectImages(imgs []images.Image, names []string) ([]images.Image, error) {
	if _, err := images.Order(imgs, names); err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []images.Image
	for _, img := range imgs {
		if want[img.Name] {
			out = append(out, img)
		}
	}
	return out, nil
}

func newImagesLoadCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "load FILE",
		Short: "Load images written by spklab images save",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := interruptible(cmd)
			defer cancel()
			dc, err := docker.New()
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			defer dc.Close()
			m := &images.Manager{Docker: dc, Log: o.imagesLogger(slog.LevelInfo)}
			loaded, err := m.Load(ctx, args[0])
			if err != nil {
				return &ExitError{Code: ExitProblems, Err: err}
			}
			for _, l := range loaded {
				fmt.Fprintln(o.stdout, "loaded "+l)
			}
			return nil
		},
	}
}

// usageArgs makes a wrong argument count a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w\nsee '%s --help'", err, cmd.CommandPath())}
		}
		return nil
	}
}
