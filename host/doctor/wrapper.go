package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/spklab/spklab/host/docker"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/host/doctor/daemonconf"
	"github.com/spklab/spklab/host/doctor/runcwrap"
)

// WrapperRuntime is the runtime name spklab-runc gets in daemon.json.
const WrapperRuntime = "spklab-runc"

// BackupSuffix is appended to daemon.json's name for the copy the first
// install keeps.
const BackupSuffix = ".spklab-backup"

// findWrapperBinary locates spklab-runc: the configured path, beside this
// executable (make build puts both in bin/), on $PATH, or the installed copy.
func (h *host) findWrapperBinary() (string, error) {
	if p := h.cfg.WrapperBinary; p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("runc wrapper %s: %w", p, err)
		}
		return p, nil
	}
	var tried []string
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), runcwrap.WrapperName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if p, err := exec.LookPath(runcwrap.WrapperName); err == nil {
		return p, nil
	}
	tried = append(tried, "$PATH")
	installed := filepath.Join(h.cfg.installDir(), runcwrap.WrapperName)
	if _, err := os.Stat(installed); err == nil {
		return installed, nil
	}
	tried = append(tried, installed)
	return "", fmt.Errorf("no %s program (looked at %s): build it with make build, or go build -o bin/ ./cmd/spklab-runc",
		runcwrap.WrapperName, strings.Join(tried, ", "))
}

// dockerd is the running daemon the doctor reloads.
type dockerd struct {
	PID int
	// ConfigFile is the daemon.json it reads (--config-file, else the default).
	ConfigFile string
}

// findDockerd finds the one dockerd process on this machine.
func findDockerd() (dockerd, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return dockerd{}, fmt.Errorf("listing processes: %w", err)
	}
	var found []dockerd
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		found = append(found, dockerd{PID: pid, ConfigFile: dockerdConfigFile(args)})
	}
	switch len(found) {
	case 0:
		return dockerd{}, errors.New("no dockerd process found")
	case 1:
		return found[0], nil
	}
	var pids []string
	for _, d := range found {
		pids = append(pids, strconv.Itoa(d.PID))
	}
	return dockerd{}, fmt.Errorf("several dockerd processes (pids %s): cannot tell which one to reconfigure", strings.Join(pids, ", "))
}

// dockerdConfigFile reads --config-file from a dockerd command line.
func dockerdConfigFile(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--config-file="); ok {
			return v
		}
		if a == "--config-file" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return daemonconf.DefaultPath
}

// reload sends dockerd SIGHUP (it re-reads daemon.json; running containers
// are untouched) and waits until its default runtime is want.
func (h *host) reload(ctx context.Context, d dockerd, want string) (string, error) {
	if err := syscall.Kill(d.PID, syscall.SIGHUP); err != nil {
		return "", fmt.Errorf("SIGHUP to dockerd (pid %d): %w", d.PID, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.connect(ctx)
		if h.dockerErr == nil && h.facts.DefaultRuntime == want {
			return fmt.Sprintf("reloaded dockerd (SIGHUP to pid %d; running containers keep running): default runtime now %s", d.PID, want), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", fmt.Errorf("dockerd (pid %d) still has default runtime %q 20 s after SIGHUP, not %q: see its log for a daemon.json error",
				d.PID, h.facts.DefaultRuntime, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// realRunc is the runc dockerd would run without the wrapper, as an
// absolute path outside the wrapper's directory.
func realRunc(facts docker.DaemonInfo, installDir string) (string, error) {
	p := facts.Runtimes[daemonconf.StockRuntime]
	if p == "" {
		p = "runc"
	}
	if !filepath.IsAbs(p) {
		lp, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("finding dockerd's runc (%s): %w", p, err)
		}
		p = lp
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("runc %s: %w", p, err)
	}
	if filepath.Dir(resolved) == filepath.Clean(installDir) {
		return "", fmt.Errorf("runc %s resolves into %s, the wrapper's own directory", p, installDir)
	}
	return resolved, nil
}

// writeAtomic writes a file beside its destination and renames it over,
// so readers (dockerd, containerd-shim) never see half of it.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp := path + ".spklab-tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile's mode is masked by umask
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// readOptional reads a file that may not exist (nil, false then).
func readOptional(path string) ([]byte, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// installWrapperFiles copies the wrapper into dir (only when its content
// differs) and points dir/runc at the real runc. It returns what changed.
func installWrapperFiles(source, dir, real string) ([]string, error) {
	var changes []string
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	bin, err := os.ReadFile(source)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", source, err)
	}
	dst := filepath.Join(dir, runcwrap.WrapperName)
	// The source may be the installed copy itself (nothing else found).
	if cur, _, _ := readOptional(dst); !bytes.Equal(cur, bin) {
		if err := writeAtomic(dst, bin, 0o755); err != nil {
			return nil, fmt.Errorf("installing %s: %w", dst, err)
		}
		changes = append(changes, fmt.Sprintf("installed %s (copied from %s)", dst, source))
	}
	link := filepath.Join(dir, runcwrap.RealRuncLink)
	if cur, err := os.Readlink(link); err != nil || cur != real {
		tmp := link + ".spklab-tmp"
		os.Remove(tmp)
		if err := os.Symlink(real, tmp); err != nil {
			return nil, fmt.Errorf("linking %s: %w", link, err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("linking %s: %w", link, err)
		}
		changes = append(changes, fmt.Sprintf("linked %s -> %s (the runc it hands over to)", link, real))
	}
	return changes, nil
}

// registerWrapper makes runtime WrapperRuntime at path dockerd's default in
// daemon.json, keeping every other setting and, the first time, a backup.
func registerWrapper(daemonJSON, path string) (string, error) {
	orig, existed, err := readOptional(daemonJSON)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", daemonJSON, err)
	}
	cfg, err := daemonconf.Parse(orig)
	if err != nil {
		return "", fmt.Errorf("%s: %w (fix the file by hand first)", daemonJSON, err)
	}
	next, changed, err := cfg.WithRuntime(WrapperRuntime, path)
	if err != nil || !changed {
		return "", err
	}
	note := "there was no daemon.json before"
	mode := fs.FileMode(0o644)
	if existed {
		if st, err := os.Stat(daemonJSON); err == nil {
			mode = st.Mode().Perm()
		}
		backup := daemonJSON + BackupSuffix
		note = "the original is kept as " + backup
		_, haveBackup, _ := readOptional(backup)
		// Only the pre-spklab file is worth keeping.
		if !haveBackup && cfg.RuntimePath(WrapperRuntime) == "" {
			if err := writeAtomic(backup, orig, mode); err != nil {
				return "", fmt.Errorf("backing up %s: %w", daemonJSON, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(daemonJSON), 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(daemonJSON, next.Bytes(), mode); err != nil {
		return "", fmt.Errorf("writing %s: %w", daemonJSON, err)
	}
	return fmt.Sprintf("registered runtime %s (%s) as dockerd's default in %s (%s)", WrapperRuntime, path, daemonJSON, note), nil
}

// InstallRuncWrapper installs spklab-runc as dockerd's default runtime:
// the wrapper and its runc link in cfg.InstallDir, daemon.json runtimes +
// default-runtime (merged, original backed up), and a SIGHUP to dockerd
// when the running daemon does not use it yet — never a restart. It returns
// what it changed: nothing when everything already was so.
func InstallRuncWrapper(ctx context.Context, cfg Config) ([]string, error) {
	h := &host{cfg: cfg, log: cfg.logger()}
	defer h.close()
	return h.installWrapper(ctx)
}

func (h *host) close() {
	if h.docker != nil {
		h.docker.Close()
	}
}

func (h *host) installWrapper(ctx context.Context) ([]string, error) {
	if !h.dockerOK(ctx) {
		return nil, h.dockerErr
	}
	source, err := h.findWrapperBinary()
	if err != nil {
		return nil, err
	}
	dir := h.cfg.installDir()
	installed := filepath.Join(dir, runcwrap.WrapperName)
	real, err := realRunc(h.facts, dir)
	if err != nil {
		return nil, err
	}
	d, err := findDockerd()
	if err != nil {
		return nil, err
	}
	changes, err := installWrapperFiles(source, dir, real)
	if err != nil {
		return nil, err
	}
	note, err := registerWrapper(d.ConfigFile, installed)
	if err != nil {
		return changes, err
	}
	if note != "" {
		changes = append(changes, note)
	}
	if note != "" || h.facts.DefaultRuntime != WrapperRuntime || h.facts.Runtimes[WrapperRuntime] != installed {
		did, err := h.reload(ctx, d, WrapperRuntime)
		if err != nil {
			return changes, err
		}
		changes = append(changes, did)
	}
	return changes, nil
}

// UndoRuncWrapper gives dockerd back its own runc: default-runtime set to
// the original (runc) and SIGHUP first — a daemon.json merely without the
// entry leaves dockerd on the wrapper — then the entry removed (the backup
// restored when nothing else changed since, the file removed when spklab
// made it) and SIGHUP again. The wrapper's files stay: containers created
// while it was the default still run through it. It returns what it did.
func UndoRuncWrapper(ctx context.Context, cfg Config) ([]string, error) {
	h := &host{cfg: cfg, log: cfg.logger()}
	defer h.close()
	if !h.dockerOK(ctx) {
		return nil, h.dockerErr
	}
	d, err := findDockerd()
	if err != nil {
		return nil, err
	}
	path := d.ConfigFile
	data, _, err := readOptional(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	cur, err := daemonconf.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	backupPath := path + BackupSuffix
	backupData, haveBackup, err := readOptional(backupPath)
	if err != nil {
		return nil, err
	}
	var backup daemonconf.Config
	if haveBackup {
		if backup, err = daemonconf.Parse(backupData); err != nil {
			return nil, fmt.Errorf("%s: %w", backupPath, err)
		}
	}
	restoreDefault := backup.DefaultRuntime()
	if restoreDefault == "" || restoreDefault == WrapperRuntime {
		restoreDefault = daemonconf.StockRuntime
	}
	if cur.RuntimePath(WrapperRuntime) == "" && cur.DefaultRuntime() != WrapperRuntime && h.facts.DefaultRuntime != WrapperRuntime {
		return []string{fmt.Sprintf("nothing to undo: %s does not register %s and dockerd's default runtime is %s", path, WrapperRuntime, h.facts.DefaultRuntime)}, nil
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	var did []string
	// Step 1: tell the running daemon to use runc again.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, cur.WithDefaultRuntime(restoreDefault).Bytes(), mode); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	did = append(did, fmt.Sprintf("set default-runtime %s in %s", restoreDefault, path))
	msg, err := h.reload(ctx, d, restoreDefault)
	if err != nil {
		return did, err
	}
	did = append(did, msg)
	// Step 2: take the entry out of the file.
	final, err := cur.WithoutRuntime(WrapperRuntime, backup.DefaultRuntime())
	if err != nil {
		return did, err
	}
	switch {
	case haveBackup && final.Equal(backup):
		if err := writeAtomic(path, backupData, mode); err != nil {
			return did, err
		}
		os.Remove(backupPath)
		did = append(did, fmt.Sprintf("restored %s from %s (byte for byte) and removed the backup", path, backupPath))
	case !haveBackup && len(final) == 0:
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return did, err
		}
		did = append(did, fmt.Sprintf("removed %s (spklab had created it)", path))
	default:
		if err := writeAtomic(path, final.Bytes(), mode); err != nil {
			return did, err
		}
		did = append(did, fmt.Sprintf("removed runtime %s from %s, keeping its other settings", WrapperRuntime, path))
	}
	if err := syscall.Kill(d.PID, syscall.SIGHUP); err != nil {
		return did, fmt.Errorf("SIGHUP to dockerd (pid %d): %w", d.PID, err)
	}
	did = append(did, fmt.Sprintf("reloaded dockerd again; %s stays in %s for containers created while it was the default (after a dockerd restart those need recreating)",
		runcwrap.WrapperName, h.cfg.installDir()))
	return did, nil
}
