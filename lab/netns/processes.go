package netns

import (
	"context"
	"fmt"
	"github.com/spklab/spklab/topology/render"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spklab/spklab/host/proc"
)

// A lab process: what runs, in which namespace, and where its files are.
type labProcess struct {
	name string // "nginx" or "spk-tmm"
	ns   string
	// pidFile and logFile are in the run dir.
	pidFile, logFile string
}

func (l *Lab) nginxProcess(s nginxSite) labProcess {
	dir := filepath.Join(l.opts.RunDir, s.role)
	return labProcess{name: "nginx", ns: s.ns, pidFile: filepath.Join(dir, "nginx.pid"), logFile: filepath.Join(dir, "nginx.out")}
}

func (l *Lab) tmmProcess(t tmmProcess) labProcess {
	base := filepath.Join(l.opts.RunDir, "tmm"+strconv.Itoa(t.replica))
	return labProcess{name: TMMBinaryName, ns: t.ns, pidFile: base + ".pid", logFile: base + ".out"}
}

// processes lists every process the lab runs.
func (l *Lab) processes() []labProcess {
	var out []labProcess
	for _, s := range l.plan.sites {
		out = append(out, l.nginxProcess(s))
	}
	for _, t := range l.plan.tmms {
		out = append(out, l.tmmProcess(t))
	}
	return out
}

// running returns the pid of the process if its pid file names a live
// process inside its namespace, else 0.
func (p labProcess) running() int {
	pid, err := proc.ReadPIDFile(p.pidFile)
	if err != nil || pid == 0 || !proc.Alive(pid) {
		return 0
	}
	want, err := namespaceInode(p.ns)
	if err != nil {
		return 0
	}
	if got, err := proc.NetnsInode(pid); err != nil || got != want {
		return 0
	}
	return pid
}

// start runs argv inside the process's namespace, detached, and records
// its pid. ip netns exec execs the program, so the pid is the program's.
func (p labProcess) start(argv ...string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(p.pidFile), 0o755); err != nil {
		return 0, fmt.Errorf("creating %s: %w", filepath.Dir(p.pidFile), err)
	}
	pid, err := proc.Start(append([]string{"ip", "netns", "exec", p.ns}, argv...), p.logFile)
	if err != nil {
		return 0, err
	}
	if err := proc.WritePIDFile(p.pidFile, pid); err != nil {
		return 0, err
	}
	return pid, nil
}

// died says what a process that ended left in its log.
func (p labProcess) died(logs ...string) error {
	var tail []string
	for _, f := range append([]string{p.logFile}, logs...) {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		tail = append(tail, f+": "+strings.Join(lines, " | "))
	}
	return fmt.Errorf("%s in %s exited right after starting (%s)", p.name, p.ns, strings.Join(tail, "; "))
}

func (l *Lab) writeNginxConf(s nginxSite) (path string, changed bool, err error) {
	dir := filepath.Join(l.opts.RunDir, s.role)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return "", false, fmt.Errorf("creating %s: %w", dir, err)
	}
	conf, err := render.NginxConf(render.NginxSite{Dir: dir, Body: s.body, PodHeader: s.pod})
	if err != nil {
		return "", false, err
	}
	path = filepath.Join(dir, "nginx.conf")
	old, _ := os.ReadFile(path)
	if string(old) == string(conf) {
		return path, false, nil
	}
	return path, true, writeIfChanged(path, conf)
}

// upNginx starts nginx in the client and every pod (or reloads one whose
// configuration changed) and waits until each listens on port 80.
func (l *Lab) upNginx(ctx context.Context) error {
	for _, s := range l.plan.sites {
		conf, changed, err := l.writeNginxConf(s)
		if err != nil {
			return err
		}
		p := l.nginxProcess(s)
		if pid := p.running(); pid != 0 {
			if changed {
				if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
					return fmt.Errorf("reloading nginx in %s: %w", s.ns, err)
				}
			}
			continue
		}
		errLog := filepath.Join(filepath.Dir(conf), "error.log")
		if _, err := p.start(l.opts.NginxBinary, "-e", errLog, "-c", conf); err != nil {
			return fmt.Errorf("nginx (Debian package nginx-light) in %s: %w", s.ns, err)
		}
	}
	for _, s := range l.plan.sites {
		if err := waitListening(ctx, s.ns, netip.AddrPortFrom(s.check, 80), 10*time.Second); err != nil {
			p := l.nginxProcess(s)
			if p.running() == 0 {
				return p.died(filepath.Join(l.opts.RunDir, s.role, "error.log"))
			}
			return err
		}
	}
	return nil
}

// waitListening connects to addr from inside ns until it accepts.
func waitListening(ctx context.Context, ns string, addr netip.AddrPort, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var conn net.Conn
		err := inNamespace(ns, func() error {
			d := net.Dialer{Timeout: 200 * time.Millisecond}
			var err error
			conn, err = d.DialContext(ctx, "tcp", addr.String())
			return err
		})
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nothing listens on %s in %s after %s: %w", addr, ns, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// upTMM starts spk-tmm in each TMM namespace that does not run it yet.
func (l *Lab) upTMM(_ context.Context, binary string) error {
	var started []labProcess
	for _, t := range l.plan.tmms {
		p := l.tmmProcess(t)
		if p.running() != 0 {
			continue
		}
		base := filepath.Join(l.opts.RunDir, "tmm"+strconv.Itoa(t.replica))
		argv := []string{binary,
			"--config", l.CRDir(),
			"--replica", strconv.Itoa(t.replica),
			"--interfaces", strings.Join(t.interfaces, ","),
			"--api", "unix:" + base + ".sock",
			"--log-file", base + ".log",
		}
		if l.UsesBGP() {
			argv = append(argv, "--values", l.ValuesPath())
		}
		argv = append(argv, l.opts.TMMArgs...)
		pid, err := p.start(argv...)
		if err != nil {
			return err
		}
		l.log.Debug("started spk-tmm", "ns", t.ns, "pid", pid)
		started = append(started, p)
	}
	if len(started) == 0 {
		return nil
	}
	// A TMM that cannot start (bad flags, missing interface) ends at once.
	time.Sleep(300 * time.Millisecond)
	for _, p := range started {
		if p.running() == 0 {
			return p.died(strings.TrimSuffix(p.pidFile, ".pid") + ".log")
		}
	}
	return nil
}
