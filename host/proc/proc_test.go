package proc

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
)

func TestStartFindStop(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "proc")
	dir := t.TempDir()
	pid, err := Start([]string{"ip", "netns", "exec", ns.Name, "sh", "-c", "echo started; exec sleep 600"}, filepath.Join(dir, "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Stop(context.Background(), []int{pid}, time.Second) })
	deadline := time.Now().Add(5 * time.Second)
	// ip netns exec enters the namespace before it execs the shell.
	var inode uint64
	for time.Now().Before(deadline) {
		if args, _ := Cmdline(pid); len(args) > 0 && args[0] == "sleep" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if inode, err = NetnsInode(pid); err != nil {
		t.Fatal(err)
	}
	if _, err = os.Stat("/run/netns/" + ns.Name); err != nil {
		t.Fatal(err)
	}
	self, err := NetnsInode(os.Getpid())
	if err != nil || self == inode {
		t.Fatalf("child netns %d should differ from ours %d (%v)", inode, self, err)
	}
	found, err := InNetns(map[uint64]bool{inode: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[pid] != inode {
		t.Errorf("InNetns = %v, want only %d", found, pid)
	}
	if !Alive(pid) {
		t.Fatal("not alive")
	}
	if err := Stop(context.Background(), []int{pid}, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(pid) {
		t.Error("alive after Stop")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.log")); string(b) != "started\n" {
		t.Errorf("log %q", b)
	}
}

func TestPIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pid")
	if pid, err := ReadPIDFile(path); pid != 0 || err != nil {
		t.Errorf("missing file: %d %v", pid, err)
	}
	if err := WritePIDFile(path, 1234); err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPIDFile(path); pid != 1234 || err != nil {
		t.Errorf("read back %d %v", pid, err)
	}
	if err := os.WriteFile(path, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPIDFile(path); err == nil {
		t.Error("garbage accepted")
	}
	if Alive(0) || Alive(-1) {
		t.Error("pid 0 alive")
	}
}
