// Command spk-tmm is the emulated TMM: a user-space data plane on raw
// interfaces (AF_PACKET), with the config/stats API the controller pushes
// to. Standalone: `spk-tmm --config DIR --replica N --interfaces net1,net2`
// reads the SPK CR files of DIR. In a cluster, `spk-tmm --api
// unix:/run/spk-tmm/api.sock --api POD_IP:9443 --api-tls DIR --interfaces
// net1,net2` starts empty and runs what spk-controller pushes over mutual
// TLS. `spk-tmm stats` reads a running one, `spk-tmm health` is its probe.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/spklab/spklab/dataplane/bgp"
	"github.com/spklab/spklab/dataplane/config"
	"github.com/spklab/spklab/dataplane/engine"
	"github.com/spklab/spklab/dataplane/tmmapi"
	"github.com/spklab/spklab/dataplane/tmmd"
	"github.com/spklab/spklab/internal/apicerts"
	"github.com/spklab/spklab/internal/version"
	"github.com/spklab/spklab/spk"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "spk-tmm:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var opts tmmd.Options
	var valuesFile string
	var logFile, logLevel, syslogAddr, apiTLS string
	root := &cobra.Command{
		Use:           "spk-tmm (--config DIR --replica N | --api ADDR) --interfaces DEV,DEV",
		Short:         "The emulated TMM data plane",
		Version:       version.Get().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, closeLog, err := newLogger(logFile, logLevel, syslogAddr)
			if err != nil {
				return err
			}
			defer closeLog()
			opts.Logger = log
			if apiTLS != "" {
				id, err := apicerts.Load(apiTLS)
				if err != nil {
					return fmt.Errorf("--api-tls: %w", err)
				}
				if opts.APITLS, err = apicerts.ServerConfig(id); err != nil {
					return fmt.Errorf("--api-tls %s: %w", apiTLS, err)
				}
			}
			if opts.ConfigDir != "" {
				dir, replica := opts.ConfigDir, opts.Replica
				opts.LoadConfig = func() (*config.Config, error) { return spk.LoadTMMConfig(dir, valuesFile, replica) }
			} else if valuesFile != "" {
				return errors.New("--values without --config: with spk-controller, BGP comes from the controller's values")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := tmmd.Run(ctx, opts); err != nil {
				log.Error("TMM stopped", "err", err)
				return err
			}
			return nil
		},
	}
	f := root.Flags()
	f.StringVar(&opts.ConfigDir, "config", "", "directory of SPK CR files (F5SPKVlan, F5SPKIngressTCP, F5SPKSnatpool, F5SPKEgress, F5SPKStaticRoute, StaticEndpoints, StaticNodes); none = wait for spk-controller to push the config over --api")
	f.StringVar(&valuesFile, "values", "", "Helm values file whose tmm.dynamicRouting block configures BGP (none = no BGP)")
	f.IntVar(&opts.Replica, "replica", 0, "this TMM's replica index (element i of self IP lists and snatpool rows)")
	f.StringSliceVar(&opts.Interfaces, "interfaces", []string{"net1", "net2"}, "kernel devices of TMM interfaces 1.1, 1.2, …")
	f.StringArrayVar(&opts.APIs, "api", nil, `config/stats API address, repeatable: "unix:/path" (made 0600) or "host:port" (one other hosts can reach needs --api-tls)`)
	f.StringVar(&apiTLS, "api-tls", "", "directory holding ca.crt, tls.crt and tls.key (a mounted Secret): serve the TCP API addresses over mutual TLS, to clients whose certificate that CA made for client authentication only")
	f.IntVar(&opts.MaxFlows, "max-flows", 262144, "connection table size")
	f.StringVar(&logFile, "log-file", "", "append logs to this file instead of stderr")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&syslogAddr, "syslog", "", `also send logs to a syslog server, e.g. "udp:192.0.2.200:514"`)
	root.AddCommand(newStats(), newHealth())
	return root
}

// apiFlags are how the read commands reach a TMM's API.
type apiFlags struct {
	api, tlsDir, serverName string
}

func (a *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.api, "api", "", `the TMM's API address ("unix:/path" or "host:port")`)
	cmd.Flags().StringVar(&a.tlsDir, "api-tls", "", "directory holding ca.crt, tls.crt and tls.key of a client identity: reach a TCP address over mutual TLS")
	cmd.Flags().StringVar(&a.serverName, "api-server-name", "", "the name the TMM's certificate carries (with --api-tls)")
}

func (a *apiFlags) client() (*tmmapi.Client, error) {
	if a.api == "" {
		return nil, errors.New("--api ADDR is required")
	}
	if a.tlsDir == "" {
		return tmmapi.NewClient(a.api), nil
	}
	if a.serverName == "" {
		return nil, errors.New("--api-tls needs --api-server-name: the name the TMM's certificate carries")
	}
	id, err := apicerts.Load(a.tlsDir)
	if err != nil {
		return nil, fmt.Errorf("--api-tls: %w", err)
	}
	cfg, err := apicerts.ClientConfig(id, a.serverName)
	if err != nil {
		return nil, fmt.Errorf("--api-tls %s: %w", a.tlsDir, err)
	}
	return tmmapi.NewClient(a.api, tmmapi.WithTLS(cfg)), nil
}

// newHealth is the TMM pod's readiness probe: the API's health service
// over the pod's own unix socket (the kubelet's gRPC probe speaks no TLS).
func newHealth() *cobra.Command {
	var a apiFlags
	cmd := &cobra.Command{
		Use:   "health --api ADDR",
		Short: "Exit 0 when a running TMM's API answers (and print the config version it runs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			version, err := c.Health(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "serving config", version)
			return nil
		},
	}
	a.register(cmd)
	return cmd
}

func newLogger(file, level, syslogAddr string) (*slog.Logger, func(), error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var w io.Writer = os.Stderr
	var closers []io.Closer
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("--log-file: %w", err)
		}
		w, closers = f, append(closers, f)
	}
	if syslogAddr != "" {
		network, addr, ok := strings.Cut(syslogAddr, ":")
		if !ok || (network != "udp" && network != "tcp") {
			return nil, nil, fmt.Errorf(`--syslog %q: want "udp:HOST:PORT" or "tcp:HOST:PORT"`, syslogAddr)
		}
		sw, err := syslog.Dial(network, addr, syslog.LOG_INFO|syslog.LOG_DAEMON, "spk-tmm")
		if err != nil {
			return nil, nil, fmt.Errorf("--syslog: %w", err)
		}
		w, closers = io.MultiWriter(w, sw), append(closers, sw)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}))
	return log, func() {
		for _, c := range closers {
			c.Close()
		}
	}, nil
}

func newStats() *cobra.Command {
	var a apiFlags
	var output string
	var flows int
	cmd := &cobra.Command{
		Use:   "stats --api ADDR",
		Short: "Print a running TMM's counters (and flows)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			ctx := context.Background()
			s, err := c.Stats(ctx)
			if err != nil {
				return err
			}
			var fl []engine.FlowInfo
			if flows != 0 {
				if fl, err = c.Flows(ctx, max(flows, 0)); err != nil {
					return err
				}
			}
			b, err := c.BGP(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "json":
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					*engine.Stats
					BGP      *bgp.Status       `json:"bgp"`
					FlowList []engine.FlowInfo `json:"flowList,omitempty"`
				}{s, b, fl})
			case "table":
				printStats(out, s, b, fl)
				return nil
			}
			return fmt.Errorf("-o %q: want table or json", output)
		},
	}
	a.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	cmd.Flags().IntVar(&flows, "flows", 0, "also list up to N flows (-1 = all)")
	return cmd
}

func printStats(out io.Writer, s *engine.Stats, b *bgp.Status, flows []engine.FlowInfo) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "replica %d\tconfig %s\tuptime %.0fs\n", s.Replica, s.Version, s.UptimeSeconds)
	fmt.Fprintf(tw, "flows %d/%d\tinserted %d\tearly-dropped %d\trefused-full %d\texpired %d\n",
		s.Flows.Active, s.Flows.Max, s.Flows.Inserts, s.Flows.EarlyDrops, s.Flows.Full, s.Flows.Expired)
	fmt.Fprintf(tw, "drops\t%s\n", dropList(s.Drops))
	fmt.Fprintln(tw, "\nINTERFACE\tDEVICE\tRX PKTS\tRX BYTES\tTX PKTS\tTX BYTES\tRX DROPS")
	for _, p := range s.Ports {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", p.Interface, p.Device, p.RxPackets, p.RxBytes, p.TxPackets, p.TxBytes, p.RxDrops)
	}
	fmt.Fprintln(tw, "\nVLAN\tRX PKTS\tRX BYTES\tTX PKTS\tTX BYTES\tDROPS")
	for _, v := range s.VLANs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", v.Name, v.RxPackets, v.RxBytes, v.TxPackets, v.TxBytes, dropList(v.Drops))
	}
	fmt.Fprintln(tw, "\nVIRTUAL SERVER\tADDRESS\tCONNS\tACTIVE\tPKTS\tBYTES\tRESETS\tDROPS")
	for _, v := range s.VirtualServers {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", v.Name, v.Address, v.Connections, v.ActiveFlows, v.Packets, v.Bytes, v.Resets, dropList(v.Drops))
		for _, m := range v.Members {
			fmt.Fprintf(tw, "  member\t%s (%s)\t%d\t%d\t%d\t%d\t\t\n", m.Address, m.Node, m.Connections, m.ActiveFlows, m.Packets, m.Bytes)
		}
	}
	fmt.Fprintln(tw, "\nSNAT POOL\tTENANT\tVNI\tADDRESSES\tCONNS\tACTIVE\tPKTS\tDROPS")
	for _, p := range s.SNATPools {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%d\t%s\n", p.Snatpool, p.Tenant, p.VNI, strings.Join(p.Addresses, ","), p.Connections, p.ActiveFlows, p.Packets, dropList(p.Drops))
	}
	if b.Running {
		fmt.Fprintf(tw, "\nBGP AS %d\trouter-id %s\n", b.ASN, b.RouterID)
		fmt.Fprintln(tw, "NEIGHBOR\tAS\tSTATE\tUP SINCE\tRECEIVED\tACCEPTED\tSENT\tLAST ERROR")
		for _, n := range b.Neighbors {
			up := "-"
			if !n.Up.IsZero() {
				up = n.Up.Format("15:04:05")
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", n.Address, n.ASN, n.State, up, n.Received, n.Accepted, n.Sent, n.LastError)
		}
		var ann []string
		for _, p := range b.Announced {
			ann = append(ann, p.String())
		}
		fmt.Fprintf(tw, "announced\t%s\n", strings.Join(ann, " "))
		for _, r := range b.Learned {
			fmt.Fprintf(tw, "learned\t%s\n", r)
		}
	}
	if len(flows) > 0 {
		fmt.Fprintln(tw, "\nKIND\tORIGINAL\tREPLY\tSTATE\tTARGET\tEXPIRES IN")
		for _, f := range flows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Kind, f.Original, f.Reply, f.State, f.Target, f.ExpiresIn)
		}
	}
	tw.Flush()
}

func dropList(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
