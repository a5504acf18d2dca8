// Package proc starts detached lab processes and finds and stops processes
// by network namespace, reading /proc. It holds no state: pid files and
// /proc are the record.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Start runs argv detached from the caller: in its own process group (a
// Ctrl-C to the caller does not reach it), stdin from /dev/null, stdout and
// stderr appended to logPath. The child is reaped in the background if it
// ends while the caller still runs. It returns the child's pid.
func Start(argv []string, logPath string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("start: no command")
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("opening log %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", strings.Join(argv, " "), err)
	}
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

// Alive reports whether pid is a running process (not gone, not a zombie).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

// NetnsInode is the inode of the network namespace pid runs in.
func NetnsInode(pid int) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/proc", strconv.Itoa(pid), "ns", "net"), &st); err != nil {
		return 0, fmt.Errorf("netns of pid %d: %w", pid, err)
	}
	return st.Ino, nil
}

// Cmdline is pid's argument vector.
func Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, fmt.Errorf("cmdline of pid %d: %w", pid, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), nil
}

// InNetns lists the live processes whose network namespace is one of
// inodes, mapped to their namespace inode.
func InNetns(inodes map[uint64]bool) (map[int]uint64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	out := map[int]uint64{}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		ino, err := NetnsInode(pid)
		if err != nil || !inodes[ino] || !Alive(pid) {
			continue // gone meanwhile, or not ours
		}
		out[pid] = ino
	}
	return out, nil
}

// Stop sends SIGTERM to every pid, waits up to grace for them to end, then
// sends SIGKILL to what is left and waits again (bounded by ctx).
func Stop(ctx context.Context, pids []int, grace time.Duration) error {
	signal := func(sig syscall.Signal) {
		for _, pid := range pids {
			if Alive(pid) {
				_ = syscall.Kill(pid, sig)
			}
		}
	}
	signal(syscall.SIGTERM)
	if waitGone(ctx, pids, grace) {
		return nil
	}
	signal(syscall.SIGKILL)
	if waitGone(ctx, pids, 5*time.Second) {
		return nil
	}
	var left []string
	for _, pid := range pids {
		if Alive(pid) {
			left = append(left, strconv.Itoa(pid))
		}
	}
	return fmt.Errorf("processes still running after SIGKILL: %s", strings.Join(left, ", "))
}

func waitGone(ctx context.Context, pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		alive := false
		for _, pid := range pids {
			if Alive(pid) {
				alive = true
				break
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WritePIDFile records pid in path.
func WritePIDFile(path string, pid int) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

// ReadPIDFile reads a pid file; a missing file is pid 0 and no error.
func ReadPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %q is not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
