// Package hosttools names the host programs each part of spklab runs and
// the Debian package that provides each, and finds the missing ones. The
// netns lab, the benchmark and `spklab doctor` read the same lists, so a
// fresh machine is refused with the package to install instead of
// degrading silently (FRR without frr-reload.py restarts where it should
// reload).
package hosttools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Tool is one program: a name looked up on $PATH, or an absolute path.
type Tool struct {
	// Program is a command name ("nginx") or an absolute path
	// ("/usr/lib/frr/frr-reload.py").
	Program string
	// Package is the Debian package that installs it.
	Package string
	// Why says in a few words what spklab runs it for.
	Why string
}

// FRRBinDir is where Debian's frr package puts the daemons and
// frr-pythontools the reload script.
const FRRBinDir = "/usr/lib/frr"

// NetnsLab is what `spklab up --runtime netns` runs on the host.
func NetnsLab() []Tool {
	return []Tool{
		{"ip", "iproute2", "namespaces, links and routes"},
		{filepath.Join(FRRBinDir, "zebra"), "frr", "the router's FRR"},
		{filepath.Join(FRRBinDir, "bgpd"), "frr", "the router's FRR"},
		{filepath.Join(FRRBinDir, "staticd"), "frr", "the router's FRR"},
		{"vtysh", "frr", "the router's FRR"},
		{filepath.Join(FRRBinDir, "frr-reload.py"), "frr-pythontools", "changing the router's config without resetting its BGP sessions"},
		{"nginx", "nginx-light", "the client and the tenant pods"},
		{"curl", "curl", "the client's requests"},
		{"ethtool", "ethtool", "the veths' offload settings"},
		{"nft", "nftables", "the kernel reference data plane"},
	}
}

// Bench is what `spklab bench` runs on top of the netns lab.
func Bench() []Tool {
	return append(NetnsLab(),
		Tool{"iperf3", "iperf3", "the throughput workloads"},
		Tool{"wrk", "wrk", "the request-rate and latency workloads"},
	)
}

// Missing returns the tools that are not installed (not executable), in
// list order.
func Missing(tools []Tool) []Tool {
	var out []Tool
	for _, t := range tools {
		if !installed(t.Program) {
			out = append(out, t)
		}
	}
	return out
}

func installed(program string) bool {
	if !filepath.IsAbs(program) {
		_, err := exec.LookPath(program)
		return err == nil
	}
	st, err := os.Stat(program)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Packages lists the Debian packages of tools, each once, sorted.
func Packages(tools []Tool) []string {
	var pkgs []string
	for _, t := range tools {
		if !slices.Contains(pkgs, t.Package) {
			pkgs = append(pkgs, t.Package)
		}
	}
	slices.Sort(pkgs)
	return pkgs
}

// Require returns nil when every tool is installed, else one error that
// names each missing program with its package and the apt-get command.
func Require(what string, tools []Tool) error {
	missing := Missing(tools)
	if len(missing) == 0 {
		return nil
	}
	return &MissingError{What: what, Tools: missing}
}

// MissingError is Require's error: what needs the tools, and which are
// missing.
type MissingError struct {
	What  string
	Tools []Tool
}

func (e *MissingError) Error() string {
	var names []string
	for _, t := range e.Tools {
		names = append(names, fmt.Sprintf("%s (%s, for %s)", t.Program, t.Package, t.Why))
	}
	return fmt.Sprintf("%s needs %s: apt-get install %s", e.What, strings.Join(names, ", "),
		strings.Join(Packages(e.Tools), " "))
}
