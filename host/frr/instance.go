// Package frr runs the real FRR (Debian's 8.4: zebra, staticd, bgpd) inside
// a named network namespace with every file under one run dir, and reads
// any FRR — one it started, or one in a container — through vtysh JSON as
// typed Go values.
//
// Isolation: FRR's -N pathspace would still put files under /etc/frr/<name>
// and /var/run/frr/<name> on the host, so an Instance instead gives every
// daemon each path as a flag (-f, -i, -z, --vty_socket, --log) pointing into
// <rundir>/frr, and applies the integrated frr.conf with vtysh -b
// --config_dir, as frrinit.sh does. The one path no flag moves is
// /var/tmp/frr (FRR's crash-log and log-buffer directory, compiled in);
// each daemon runs in the private mount namespace "ip netns exec" makes,
// with <rundir>/frr/tmp bind-mounted over /var/tmp, so that too stays in
// the run dir and the host never sees the mount.
//
// The daemons run as root (-u root) so the run dir may be anywhere, even in
// a root-only temporary directory; their group is frrvty when it exists,
// because FRR refuses to start when its user is not in the vty group.
package frr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/host/proc"
	"github.com/spklab/spklab/topology/render"
)

// netnsDir is where named network namespaces are mounted (ip netns).
const netnsDir = "/run/netns"

// defaultVtyshConf makes vtysh treat frr.conf as the one integrated file.
const defaultVtyshConf = "service integrated-vtysh-config\n"

// maxSocketPath is the longest unix socket path (sun_path less its NUL).
const maxSocketPath = 107

// stopGrace is how long daemons get to end after SIGTERM.
const stopGrace = 5 * time.Second

// readyTimeout bounds the wait for daemons to answer after starting.
const readyTimeout = 15 * time.Second

// Files are the configuration files an Instance writes to its etc dir.
type Files struct {
	// Conf is the integrated frr.conf; required.
	Conf []byte
	// Daemons is Debian's daemons file: which daemons run (zebra and
	// staticd always; bgpd when bgpd=yes) and their extra options. Nil runs
	// zebra, staticd and bgpd.
	Daemons []byte
	// VtyshConf is vtysh.conf; nil means "service integrated-vtysh-config".
	VtyshConf []byte
}

// FilesFrom picks frr.conf, daemons and vtysh.conf from the renderer's
// output (render.FRRFiles).
func FilesFrom(rendered []render.File) (Files, error) {
	var f Files
	for _, r := range rendered {
		switch r.Name {
		case "frr.conf":
			f.Conf = r.Data
		case "daemons":
			f.Daemons = r.Data
		case "vtysh.conf":
			f.VtyshConf = r.Data
		}
	}
	if len(f.Conf) == 0 {
		return f, errors.New("rendered FRR files: no frr.conf")
	}
	return f, nil
}

// Options describe one FRR instance.
type Options struct {
	// Netns is the named network namespace (ip netns) the daemons run in;
	// it must exist.
	Netns string
	// RunDir is the lab's run dir; the instance uses RunDir/frr only.
	RunDir string
	Files  Files
	// BinDir holds the daemons; default DefaultBinDir.
	BinDir string
	// Vtysh is the vtysh program; default vtysh on $PATH.
	Vtysh string
	// Logger receives progress; default slog.Default().
	Logger *slog.Logger
}

// Instance is one FRR in one network namespace. It holds no state beyond
// its options: pid files and /proc are the record, so a new Instance with
// the same options can stop what an earlier one started.
type Instance struct {
	opts    Options
	daemons []daemonSpec
	vtysh   string
	group   string
	log     *slog.Logger
}

// New checks the options and that FRR is installed.
func New(opts Options) (*Instance, error) {
	if opts.Netns == "" {
		return nil, errors.New("frr instance: no network namespace")
	}
	if opts.RunDir == "" {
		return nil, errors.New("frr instance: no run dir")
	}
	dir, err := filepath.Abs(opts.RunDir)
	if err != nil {
		return nil, fmt.Errorf("frr instance: run dir: %w", err)
	}
	opts.RunDir = dir
	if len(bytes.TrimSpace(opts.Files.Conf)) == 0 {
		return nil, errors.New("frr instance: no frr.conf")
	}
	if opts.Files.VtyshConf == nil {
		opts.Files.VtyshConf = []byte(defaultVtyshConf)
	}
	if opts.BinDir == "" {
		opts.BinDir = DefaultBinDir
	}
	if opts.Vtysh == "" {
		opts.Vtysh = "vtysh"
	}
	i := &Instance{opts: opts, log: opts.Logger, group: vtyGroup()}
	if i.log == nil {
		i.log = slog.Default()
	}
	if i.daemons, err = parseDaemons(opts.Files.Daemons); err != nil {
		return nil, fmt.Errorf("frr instance: %w", err)
	}
	for _, d := range i.daemons {
		if p := i.vtySocket(d.Name); len(p) > maxSocketPath {
			return nil, fmt.Errorf("frr instance: socket path %s is longer than %d bytes; use a shorter run dir", p, maxSocketPath)
		}
	}
	var names []string
	for _, d := range i.daemons {
		names = append(names, d.Name)
	}
	if i.vtysh, err = checkInstalled(opts.BinDir, opts.Vtysh, names); err != nil {
		return nil, err
	}
	return i, nil
}

// vtyGroup is the group the daemons run as: FRR exits at start unless its
// group is, or its user belongs to, the vty group Debian builds it with.
func vtyGroup() string {
	if _, err := user.LookupGroup("frrvty"); err == nil {
		return "frrvty"
	}
	return "root"
}

// Dir is the instance's directory, RunDir/frr.
func (i *Instance) Dir() string { return filepath.Join(i.opts.RunDir, "frr") }

// LogFile is where the daemons log.
func (i *Instance) LogFile() string { return filepath.Join(i.Dir(), "frr.log") }

func (i *Instance) etcDir() string  { return filepath.Join(i.Dir(), "etc") }
func (i *Instance) runDir() string  { return filepath.Join(i.Dir(), "run") }
func (i *Instance) tmpDir() string  { return filepath.Join(i.Dir(), "tmp") }
func (i *Instance) outFile() string { return filepath.Join(i.Dir(), "daemons.out") }

func (i *Instance) pidFile(daemon string) string {
	return filepath.Join(i.runDir(), daemon+".pid")
}

func (i *Instance) vtySocket(daemon string) string {
	return filepath.Join(i.runDir(), daemon+".vty")
}

// VTY queries this instance through its own sockets (vtysh runs on the
// host: the sockets are files, wherever the daemons' network is).
func (i *Instance) VTY() *VTY {
	return &VTY{exec: Command(), vtysh: []string{i.vtysh, "--vty_socket", i.runDir(), "--config_dir", i.etcDir()}}
}

// Start writes the configuration files, starts the daemons in the
// namespace, applies frr.conf and returns once every daemon answers vtysh.
//
// Start converges: when the instance already runs with the same files it
// does nothing; when only frr.conf differs it applies the difference with
// frr-reload.py, so sessions the change does not touch stay up (and
// restarts if that fails); otherwise, or when an earlier run left only
// part of it, it stops what runs first. A failed Start stops what it
// started.
func (i *Instance) Start(ctx context.Context) error {
	begin := time.Now()
	running := i.Running()
	if running && i.filesCurrent() {
		i.log.Info("FRR already running", "netns", i.opts.Netns, "dir", i.Dir())
		return nil
	}
	if err := i.checkNetns(); err != nil {
		return err
	}
	if err := i.checkConfig(ctx); err != nil {
		return err
	}
	if running && i.onlyConfChanged() {
		err := i.reload(ctx)
		if err == nil {
			i.log.Info("FRR reloaded", "netns", i.opts.Netns, "dir", i.Dir(), "took", time.Since(begin).Round(time.Millisecond))
			return nil
		}
		i.log.Warn("FRR reload failed; restarting", "netns", i.opts.Netns, "err", err)
	}
	if err := i.Stop(ctx); err != nil {
		return fmt.Errorf("stopping the earlier FRR run: %w", err)
	}
	if err := i.writeFiles(); err != nil {
		return err
	}
	if err := i.startDaemons(ctx); err != nil {
		return i.failed(err)
	}
	// As frrinit.sh does: the daemons start empty, vtysh hands each its part.
	boot := []string{"--vty_socket", i.runDir(), "--config_dir", i.etcDir(), "-b"}
	if out, err := exec.CommandContext(ctx, i.vtysh, boot...).CombinedOutput(); err != nil {
		return i.failed(fmt.Errorf("applying frr.conf (vtysh -b): %w: %s", err, strings.TrimSpace(string(out))))
	}
	if err := i.waitReady(ctx); err != nil {
		return i.failed(err)
	}
	i.log.Info("FRR started", "netns", i.opts.Netns, "dir", i.Dir(), "daemons", len(i.daemons), "took", time.Since(begin).Round(time.Millisecond))
	return nil
}

// failed stops what a failed Start left and returns its error.
func (i *Instance) failed(err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopGrace+10*time.Second)
	defer cancel()
	if serr := i.Stop(ctx); serr != nil {
		return fmt.Errorf("%w (and stopping FRR again: %v)", err, serr)
	}
	return err
}

func (i *Instance) checkNetns() error {
	if _, err := os.Stat(filepath.Join(netnsDir, i.opts.Netns)); err != nil {
		return fmt.Errorf("frr instance: network namespace %s: %w", i.opts.Netns, err)
	}
	return nil
}

// checkConfig has vtysh parse frr.conf before anything runs (vtysh -C), so
// a bad file leaves a running instance alone.
func (i *Instance) checkConfig(ctx context.Context) error {
	if err := os.MkdirAll(i.Dir(), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", i.Dir(), err)
	}
	check, err := os.MkdirTemp(i.Dir(), "check-")
	if err != nil {
		return fmt.Errorf("frr.conf check: %w", err)
	}
	defer os.RemoveAll(check)
	conf := filepath.Join(check, "frr.conf")
	if err := os.WriteFile(conf, i.opts.Files.Conf, 0o644); err != nil {
		return fmt.Errorf("frr.conf check: %w", err)
	}
	if err := os.WriteFile(filepath.Join(check, "vtysh.conf"), i.opts.Files.VtyshConf, 0o644); err != nil {
		return fmt.Errorf("frr.conf check: %w", err)
	}
	out, err := exec.CommandContext(ctx, i.vtysh, "--config_dir", check, "-C", "-f", conf).CombinedOutput()
	if err != nil {
		said := strings.ReplaceAll(strings.TrimSpace(string(out)), conf, "frr.conf")
		return fmt.Errorf("frr.conf is not valid FRR 8.4 configuration: %w: %s", err, said)
	}
	return nil
}

// configFiles are the etc files and their contents.
func (i *Instance) configFiles() map[string][]byte {
	return map[string][]byte{
		"frr.conf":   i.opts.Files.Conf,
		"daemons":    i.opts.Files.Daemons,
		"vtysh.conf": i.opts.Files.VtyshConf,
	}
}

func (i *Instance) writeFiles() error {
	for _, d := range []string{i.etcDir(), i.runDir(), i.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	for name, data := range i.configFiles() {
		if err := os.WriteFile(filepath.Join(i.etcDir(), name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// filesCurrent reports whether the etc dir holds exactly the options' files.
func (i *Instance) filesCurrent() bool {
	return len(i.changedFiles()) == 0
}

// onlyConfChanged reports whether frr.conf is the one file that differs.
func (i *Instance) onlyConfChanged() bool {
	return slices.Equal(i.changedFiles(), []string{"frr.conf"})
}

// changedFiles lists the etc files whose contents differ from the
// options', sorted.
func (i *Instance) changedFiles() []string {
	var out []string
	for name, data := range i.configFiles() {
		have, err := os.ReadFile(filepath.Join(i.etcDir(), name))
		if err != nil || !bytes.Equal(have, data) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// reload writes the new frr.conf and has frr-reload.py apply what differs
// from the running configuration. --stdout keeps its log out of
// /var/log/frr, --rundir its temporary files in the instance's dir.
func (i *Instance) reload(ctx context.Context) error {
	conf := filepath.Join(i.etcDir(), "frr.conf")
	if err := os.WriteFile(conf, i.opts.Files.Conf, 0o644); err != nil {
		return fmt.Errorf("writing frr.conf: %w", err)
	}
	script := filepath.Join(i.opts.BinDir, "frr-reload.py")
	out, err := exec.CommandContext(ctx, script, "--reload", "--stdout",
		"--bindir", filepath.Dir(i.vtysh), "--confdir", i.etcDir(), "--rundir", i.Dir(),
		"--vty_socket", i.runDir(), conf).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// daemonArgv is the command that starts one daemon. With -d the daemon
// forks and the command returns once the daemon is up (or failed), so
// starts are ordered: zebra's socket exists before staticd and bgpd dial it.
func (i *Instance) daemonArgv(d daemonSpec) []string {
	argv := []string{
		"ip", "netns", "exec", i.opts.Netns,
		// ip netns exec gives the command a mount namespace of its own
		// (slave to the host's), so this mount stays private to the daemon.
		"sh", "-c", `mount --bind "$0" /var/tmp && exec "$@"`, i.tmpDir(),
		filepath.Join(i.opts.BinDir, d.Name),
	}
	argv = append(argv, d.Options...)
	return append(argv,
		"-d", "-u", "root", "-g", i.group,
		"-P", "0", // no TCP vty: several instances on one host, vtysh uses the socket
		"-f", os.DevNull, // start empty; vtysh -b applies frr.conf
		"-i", i.pidFile(d.Name),
		"-z", filepath.Join(i.runDir(), "zserv.api"),
		"--vty_socket", i.runDir(),
		"--log", "file:"+i.LogFile(),
	)
}

func (i *Instance) startDaemons(ctx context.Context) error {
	out, err := os.OpenFile(i.outFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", i.outFile(), err)
	}
	defer out.Close()
	for _, d := range i.daemons {
		argv := i.daemonArgv(d)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		// A file, not a pipe: the daemon may keep the descriptors, and Wait
		// would block on a pipe until it exits.
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("starting %s in %s: %w (%s)", d.Name, i.opts.Netns, err, i.tails())
		}
	}
	return nil
}

// tails is the end of the launch output and the daemons' log, for errors.
func (i *Instance) tails() string {
	var parts []string
	for _, f := range []string{i.outFile(), i.LogFile()} {
		b, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		parts = append(parts, filepath.Base(f)+": "+strings.Join(lines, " | "))
	}
	if len(parts) == 0 {
		return "no output"
	}
	return strings.Join(parts, "; ")
}

// waitReady waits until every daemon answers a vtysh command of its own.
func (i *Instance) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	vty := i.VTY()
	for _, d := range i.daemons {
		for {
			_, err := vty.runDaemon(ctx, d.Name, "show version")
			if err == nil {
				break
			}
			if !proc.Alive(i.daemonPid(d.Name)) {
				return fmt.Errorf("%s exited after starting (%s)", d.Name, i.tails())
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s does not answer vtysh: %w", d.Name, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// daemonPid is the pid in a daemon's pid file if that process is alive and
// is this instance's, else 0.
func (i *Instance) daemonPid(daemon string) int {
	pid, err := proc.ReadPIDFile(i.pidFile(daemon))
	if err != nil || pid == 0 || !proc.Alive(pid) || !i.owns(pid) {
		return 0
	}
	return pid
}

// owns reports whether pid was started for this instance: its command line
// names this instance's socket dir.
func (i *Instance) owns(pid int) bool {
	argv, err := proc.Cmdline(pid)
	if err != nil {
		return false
	}
	for k := 0; k+1 < len(argv); k++ {
		if argv[k] == "--vty_socket" && argv[k+1] == i.runDir() {
			return true
		}
	}
	return false
}

// Running reports whether every daemon of the instance runs, inside its
// namespace.
func (i *Instance) Running() bool {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, i.opts.Netns), &st); err != nil {
		return false
	}
	for _, d := range i.daemons {
		pid := i.daemonPid(d.Name)
		if pid == 0 {
			return false
		}
		if ino, err := proc.NetnsInode(pid); err != nil || ino != st.Ino {
			return false
		}
	}
	return true
}

// pids lists every live process of this instance: the daemons, and any
// launch that did not finish (found by command line, so a lost pid file
// or a deleted namespace hides nothing).
func (i *Instance) pids() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	var out []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if proc.Alive(pid) && i.owns(pid) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Stop stops the instance's daemons (SIGTERM, then SIGKILL after a grace
// period) and removes their state: the socket and pid dir, and the tmp dir
// unless a daemon left something there (a crash log stays as evidence).
// The etc dir and the logs stay. Stopping a stopped instance does nothing.
func (i *Instance) Stop(ctx context.Context) error {
	pids, err := i.pids()
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		if err := proc.Stop(ctx, pids, stopGrace); err != nil {
			return fmt.Errorf("stopping FRR in %s: %w", i.opts.Netns, err)
		}
		i.log.Info("FRR stopped", "netns", i.opts.Netns, "dir", i.Dir(), "processes", len(pids))
	}
	if err := os.RemoveAll(i.runDir()); err != nil {
		return fmt.Errorf("removing %s: %w", i.runDir(), err)
	}
	left, err := removeEmptyDirs(i.tmpDir())
	if err != nil {
		return err
	}
	if len(left) > 0 {
		i.log.Warn("FRR left files in its tmp dir (a crash?)", "files", left)
	}
	return nil
}

// removeEmptyDirs removes dir and the directories below it that hold no
// files, and returns the files it found.
func removeEmptyDirs(dir string) ([]string, error) {
	var files, dirs []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		} else {
			files = append(files, path)
		}
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", dir, err)
	}
	slices.Reverse(dirs) // children first
	for _, d := range dirs {
		// A directory that still holds a file fails to go; that is the point.
		if err := os.Remove(d); err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return files, fmt.Errorf("removing %s: %w", d, err)
		}
	}
	return files, nil
}
