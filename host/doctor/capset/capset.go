// Package capset reads Linux capability sets (the CapBnd/CapEff lines of
// /proc/<pid>/status) and names their members, so the doctor can say which
// capabilities a machine cannot grant and the runc wrapper can drop them.
// Standard library only: the runc wrapper links it and must stay tiny.
package capset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Set is a capability set, bit N = capability number N.
type Set uint64

// nameList holds the capabilities by number, as the kernel's capability.h
// and OCI runtime configs spell them (a constant, so nothing can change it).
const nameList = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER " +
	"CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP " +
	"CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST " +
	"CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER " +
	"CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE " +
	"CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE " +
	"CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD " +
	"CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP " +
	"CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM " +
	"CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF " +
	"CAP_CHECKPOINT_RESTORE"

// LastKnown is the highest capability number this package can name
// (CAP_CHECKPOINT_RESTORE, Linux 5.9).
const LastKnown = 40

func names() []string { return strings.Fields(nameList) }

// Name returns the capability's name, or "CAP_<n>" for one newer than this
// package.
func Name(n int) string {
	if n >= 0 && n <= LastKnown {
		return names()[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// Number returns the number of a capability name (any case, with or without
// the CAP_ prefix); ok is false for a name this package does not know.
func Number(name string) (n int, ok bool) {
	name = strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	for i, s := range names() {
		if s == name {
			return i, true
		}
	}
	return 0, false
}

// Has reports whether capability n is in the set.
func (s Set) Has(n int) bool { return n >= 0 && n < 64 && s&(1<<uint(n)) != 0 }

// Names lists the set's members by name, lowest number first.
func (s Set) Names() []string {
	var out []string
	for n := 0; n < 64; n++ {
		if s.Has(n) {
			out = append(out, Name(n))
		}
	}
	return out
}

// Missing names the capabilities 0..last that are not in the set: on a
// bounding set, the ones no process here can ever hold.
func (s Set) Missing(last int) []string {
	var out []string
	for n := 0; n <= last && n < 64; n++ {
		if !s.Has(n) {
			out = append(out, Name(n))
		}
	}
	return out
}

// String is the set as /proc/<pid>/status prints it (16 hex digits).
func (s Set) String() string { return fmt.Sprintf("%016x", uint64(s)) }

// Parse reads a hex capability mask such as "000001fffeffffff".
func Parse(hex string) (Set, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("capability mask %q: %w", hex, err)
	}
	return Set(v), nil
}

// Capability set lines of /proc/<pid>/status.
const (
	Bounding  = "CapBnd"
	Effective = "CapEff"
	Permitted = "CapPrm"
)

// FromStatus reads one capability line (Bounding, Effective, …) of a
// /proc/<pid>/status text.
func FromStatus(r io.Reader, field string) (Set, error) {
	sc := bufio.NewScanner(r)
	prefix := field + ":"
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return Parse(rest)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading status: %w", err)
	}
	return 0, fmt.Errorf("status has no %s line", field)
}

// OfProcess reads a capability set of a process ("self" or a PID) from /proc.
func OfProcess(pid, field string) (Set, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("capabilities of process %s: %w", pid, err)
	}
	defer f.Close()
	s, err := FromStatus(f, field)
	if err != nil {
		return 0, fmt.Errorf("capabilities of process %s: %w", pid, err)
	}
	return s, nil
}

// LastCap is the highest capability number the running kernel knows
// (/proc/sys/kernel/cap_last_cap).
func LastCap() (int, error) {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("reading cap_last_cap: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("cap_last_cap %q: %w", data, err)
	}
	return n, nil
}
