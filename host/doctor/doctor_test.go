package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/spklab/spklab/host/docker"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spklab/spklab/host/doctor/daemonconf"
	"github.com/spklab/spklab/topology"
)

func TestModuleState(t *testing.T) {
	mac := feature{Module: "macvlan", Config: "CONFIG_MACVLAN"}
	for _, tc := range []struct {
		name string
		k    kernelFacts
		want string
	}{
		{"loaded module", kernelFacts{Loaded: map[string]bool{"macvlan": true}}, modLoaded},
		{"monolithic kernel config", kernelFacts{Config: map[string]string{"CONFIG_MACVLAN": "y"}, HaveConfig: true}, modBuiltin},
		{"modules.builtin", kernelFacts{Builtin: map[string]bool{"macvlan": true}}, modBuiltin},
		{"sysfs only", kernelFacts{SysModule: map[string]bool{"macvlan": true}}, modActive},
		{"module not loaded", kernelFacts{Config: map[string]string{"CONFIG_MACVLAN": "m"}, HaveConfig: true}, modLoadable},
		{"modprobe -n says yes", kernelFacts{Modprobe: map[string]bool{"macvlan": true}}, modLoadable},
		{"not set", kernelFacts{Config: map[string]string{"CONFIG_MACVLAN": "n"}, HaveConfig: true}, modMissing},
		{"modprobe says no", kernelFacts{Modprobe: map[string]bool{"macvlan": false}}, modMissing},
		{"no source at all", kernelFacts{}, modUnknown},
	} {
		if got := moduleState(mac, tc.k); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestKernelFileParsers(t *testing.T) {
	cfg := parseKernelConfig(strings.NewReader("#\n# Automatically generated\nCONFIG_MACVLAN=y\nCONFIG_VXLAN=m\n# CONFIG_DUMMY is not set\nCONFIG_LOCALVERSION=\"-fc\"\n"))
	if cfg["CONFIG_MACVLAN"] != "y" || cfg["CONFIG_VXLAN"] != "m" || cfg["CONFIG_DUMMY"] != "n" || cfg["CONFIG_LOCALVERSION"] != `"-fc"` || len(cfg) != 4 {
		t.Errorf("config %v", cfg)
	}
	mods := parseProcModules(strings.NewReader("br_netfilter 32768 0 - Live 0x0\nbridge 315392 1 br_netfilter, Live 0x0\n"))
	if !mods["br_netfilter"] || !mods["bridge"] || mods["32768"] || len(mods) != 2 {
		t.Errorf("modules %v", mods)
	}
	builtin := parseModulesBuiltin(strings.NewReader("kernel/drivers/net/macvlan.ko\nkernel/fs/overlayfs/overlay.ko\nkernel/net/bridge/br-netfilter.ko\n"))
	if !builtin["macvlan"] || !builtin["overlay"] || !builtin["br_netfilter"] {
		t.Errorf("builtin %v", builtin)
	}
}

func TestMeminfoAndThresholds(t *testing.T) {
	total, avail, err := meminfo(strings.NewReader("MemTotal:       24731708 kB\nMemFree:  1 kB\nMemAvailable:    3145728 kB\n"))
	if err != nil || total != 24731708*1024 || avail != 3*GiB {
		t.Fatalf("%d %d %v", total, avail, err)
	}
	if _, _, err := meminfo(strings.NewReader("MemTotal: 5 kB\n")); err == nil {
		t.Error("accepted meminfo without MemAvailable")
	}
	for _, tc := range []struct {
		have uint64
		want Status
	}{
		{5 * GiB, StatusOK}, {WantMemory, StatusOK}, {3 * GiB, StatusWarn}, {MinMemory, StatusWarn}, {2 * GiB, StatusFail},
	} {
		if got := judge(tc.have, WantMemory, MinMemory); got != tc.want {
			t.Errorf("judge(%s) = %s, want %s", gib(tc.have), got, tc.want)
		}
	}
}

func TestSmallParsers(t *testing.T) {
	ns := nameservers(strings.NewReader("# x\nnameserver 10.255.255.53\nsearch lan\nnameserver fd00::1\nnameserver bogus\n"))
	if len(ns) != 2 || ns[0] != netip.MustParseAddr("10.255.255.53") || ns[1] != netip.MustParseAddr("fd00::1") {
		t.Errorf("nameservers %v", ns)
	}
	for args, want := range map[string]string{
		"dockerd":                                   daemonconf.DefaultPath,
		"dockerd --config-file /x/daemon.json":      "/x/daemon.json",
		"dockerd -H fd:// --config-file=/y.json":    "/y.json",
		"/usr/bin/dockerd --containerd /run/c.sock": daemonconf.DefaultPath,
	} {
		if got := dockerdConfigFile(strings.Fields(args)); got != want {
			t.Errorf("%s: %s, want %s", args, got, want)
		}
	}
	for v, want := range map[string]int{"20.10.24+dfsg1": 20, "23.0.0": 23, "28.2.2": 28, "": 0, "dev": 0} {
		if got := dockerMajor(v); got != want {
			t.Errorf("dockerMajor(%q) = %d", v, got)
		}
	}
	msg := dockerMessage(errors.New("starting privileged container x: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown"))
	if msg != "runc: unable to apply caps: operation not permitted" {
		t.Errorf("dockerMessage = %q", msg)
	}
}

func TestPlanDockerStart(t *testing.T) {
	if _, err := planDockerStart(true, "/bin/systemctl", ""); err == nil {
		t.Error("planned a start without dockerd")
	}
	p, err := planDockerStart(true, "/bin/systemctl", "/usr/sbin/dockerd")
	if err != nil || p.detached || !slices.Equal(p.argv, []string{"/bin/systemctl", "start", "docker"}) {
		t.Errorf("systemd: %+v %v", p, err)
	}
	p, err = planDockerStart(false, "/bin/systemctl", "/usr/sbin/dockerd")
	if err != nil || !p.detached || !slices.Equal(p.argv, []string{"/usr/sbin/dockerd"}) || !strings.Contains(p.describe(), DockerdLog) {
		t.Errorf("no systemd: %+v %v %s", p, err, p.describe())
	}
}

func TestLabSubnetsOfDefaultTopology(t *testing.T) {
	subs := labSubnets(topology.Default())
	got := map[string]string{}
	for _, s := range subs {
		got[s.Prefix.String()] = s.Kind + " " + s.Docker
	}
	want := map[string]string{
		"198.51.100.0/24":        "bridge infra_client-net",
		"2001::198:51:100:0/112": "bridge infra_client-net",
		"192.0.2.0/24":           "macvlan external-net",
		"2001::192:0:2:0/112":    "macvlan external-net",
		"198.18.100.0/24":        "macvlan egress-net",
		"2001::198:18:100:0/112": "macvlan egress-net",
		KindNetworkIPv6:          "kind kind",
		"10.244.0.0/16":          "pods ",
		"10.96.0.0/16":           "services ",
	}
	if len(got) != len(want) {
		t.Errorf("got %v", got)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}

func TestFindClashes(t *testing.T) {
	lab := labSubnets(topology.Default())
	pfx := netip.MustParsePrefix
	dns := []netip.Addr{netip.MustParseAddr("10.255.255.53")}
	type want struct {
		contains string
		blocking bool
	}
	for _, tc := range []struct {
		name   string
		routes []hostRoute
		nets   []docker.Network
		dns    []netip.Addr
		want   []want
	}{
		{"clean host", []hostRoute{{pfx("172.17.0.0/16"), "docker0"}, {pfx("fe80::/64"), "eth0"}},
			[]docker.Network{{Name: "bridge", Driver: "bridge", Subnets: []netip.Prefix{pfx("172.17.0.0/16")}, Bridge: "docker0"}}, dns, nil},
		{"host LAN on external-net (this VM)", []hostRoute{{pfx("192.0.2.0/24"), "eth0"}}, nil, dns,
			[]want{{"external-net (macvlan docker network external-net) 192.0.2.0/24 overlaps host route 192.0.2.0/24 dev eth0", false}}},
		{"host DNS inside the clash", []hostRoute{{pfx("192.0.2.0/24"), "eth0"}}, nil, []netip.Addr{netip.MustParseAddr("192.0.2.53")},
			[]want{{"external-net (macvlan docker network external-net) 192.0.2.0/24 overlaps host route 192.0.2.0/24 dev eth0", true}}},
		{"host route on the bridge network", []hostRoute{{pfx("198.51.0.0/16"), "wg0"}}, nil, dns,
			[]want{{"client-net (bridge docker network infra_client-net) 198.51.100.0/24 overlaps host route 198.51.0.0/16 dev wg0", true}}},
		{"VPN over the pod subnet", []hostRoute{{pfx("10.0.0.0/8"), "tun0"}}, nil, dns,
			[]want{{"the pod subnet (cluster.podSubnet) 10.244.0.0/16 overlaps host route 10.0.0.0/8 dev tun0", false},
				{"the service subnet (cluster.serviceSubnet) 10.96.0.0/16 overlaps host route 10.0.0.0/8 dev tun0", false}}},
		{"someone else's docker network", nil,
			[]docker.Network{{Name: "other", Driver: "bridge", Subnets: []netip.Prefix{pfx("198.51.100.0/25")}, Bridge: "br-0123"}}, dns,
			[]want{{"client-net (bridge docker network infra_client-net) 198.51.100.0/24 overlaps docker network other (198.51.100.0/25)", true}}},
		{"docker network on the pod subnet", nil,
			[]docker.Network{{Name: "pods-too", Driver: "bridge", Subnets: []netip.Prefix{pfx("10.244.1.0/24")}}}, dns,
			[]want{{"the pod subnet (cluster.podSubnet) 10.244.0.0/16 overlaps docker network pods-too (10.244.1.0/24)", false}}},
		{"the lab's own networks and their routes", []hostRoute{{pfx("198.51.100.0/24"), "br-aaaaaaaaaaaa"}, {pfx("172.18.0.0/16"), "br-bbbbbbbbbbbb"}},
			[]docker.Network{
				{Name: "infra_client-net", Driver: "bridge", Subnets: []netip.Prefix{pfx("198.51.100.0/24"), pfx("2001::198:51:100:0/112")}, Bridge: "br-aaaaaaaaaaaa"},
				{Name: "external-net", Driver: "macvlan", Subnets: []netip.Prefix{pfx("192.0.2.0/24"), pfx("2001::192:0:2:0/112")}},
				{Name: "kind", Driver: "bridge", Subnets: []netip.Prefix{pfx("172.18.0.0/16"), pfx(KindNetworkIPv6)}, Bridge: "br-bbbbbbbbbbbb"},
			}, dns, nil},
		{"a lab network left with other subnets", nil,
			[]docker.Network{{Name: "egress-net", Driver: "macvlan", Subnets: []netip.Prefix{pfx("10.1.0.0/24")}}}, dns,
			[]want{{"docker network egress-net 198.18.100.0/24 overlaps the existing docker network egress-net with [10.1.0.0/24]", true},
				{"docker network egress-net 2001::198:18:100:0/112 overlaps the existing docker network egress-net with [10.1.0.0/24]", true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := findClashes(lab, tc.routes, tc.nets, tc.dns)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d clashes %v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].String() != w.contains || got[i].Blocking != w.blocking || got[i].Why == "" {
					t.Errorf("clash %d = %q blocking=%v (%s), want %q blocking=%v", i, got[i], got[i].Blocking, got[i].Why, w.contains, w.blocking)
				}
			}
		})
	}
}

func TestRunCheckFixFlow(t *testing.T) {
	failing := func(context.Context, *host) Result {
		return Result{Status: StatusFail, Finding: "broken", Fix: "do x", canFix: true}
	}
	calls := 0
	for _, tc := range []struct {
		name       string
		fixFlag    bool
		run        func(context.Context, *host) Result
		fix        func(context.Context, *host) (string, error)
		wantStatus Status
		wantFix    string
		wantCalls  int
	}{
		{"no --fix: reported only", false, failing, func(context.Context, *host) (string, error) { calls++; return "did", nil }, StatusFail, "do x", 0},
		{"fixed", true, func(context.Context, *host) Result {
			if calls > 0 {
				return Result{Status: StatusOK, Finding: "fine"}
			}
			return Result{Status: StatusFail, Finding: "broken", Fix: "do x", canFix: true}
		}, func(context.Context, *host) (string, error) { calls++; return "did x", nil }, StatusFixed, "--fix: did x", 1},
		{"fix did not help", true, failing, func(context.Context, *host) (string, error) { calls++; return "did x", nil }, StatusFail, "--fix did: did x; still: do x", 1},
		{"fix failed", true, failing, func(context.Context, *host) (string, error) { calls++; return "", errors.New("no way") }, StatusFail, "--fix failed: no way. do x", 1},
		{"not fixable", true, func(context.Context, *host) Result { return Result{Status: StatusFail, Finding: "x", Fix: "by hand"} },
			func(context.Context, *host) (string, error) { calls++; return "", nil }, StatusFail, "by hand", 0},
		{"ok needs nothing", true, func(context.Context, *host) Result { return Result{Status: StatusOK, Finding: "fine"} },
			func(context.Context, *host) (string, error) { calls++; return "", nil }, StatusOK, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = 0
			h := &host{cfg: Config{Fix: tc.fixFlag}, log: Config{}.logger()}
			r := runCheck(context.Background(), h, check{id: "x", title: "X", run: tc.run, fix: tc.fix})
			if r.Status != tc.wantStatus || r.Fix != tc.wantFix || calls != tc.wantCalls || r.Blocking != (tc.wantStatus == StatusFail) || r.ID != "x" {
				t.Errorf("got %+v after %d fix calls", r, calls)
			}
		})
	}
}

func sampleReport() *Report {
	return &Report{
		Fix: false, Duration: 1500 * time.Millisecond,
		Checks: []Result{
			{ID: "docker", Title: "Docker answers", Status: StatusOK, Finding: "Docker 20.10.24 answers", Duration: 7 * time.Millisecond},
			{ID: "privileged", Title: "Privileged containers start", Status: StatusFail, Blocking: true, Finding: "runc: unable to apply caps",
				Explanation: strings.Repeat("word ", 60), Fix: "spklab doctor --fix", Duration: 380 * time.Millisecond},
			{ID: "subnets", Title: "Lab subnets are free", Status: StatusWarn, Finding: "a overlaps b", Explanation: "why", Fix: "nothing"},
			{ID: "inotify", Title: "inotify", Status: StatusFixed, Finding: "fine now", Fix: "--fix: set them"},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"CHECK       STATUS  TIME   FINDING\n",
		"docker      ok      7ms    Docker 20.10.24 answers\n",
		"privileged  FAIL    380ms  runc: unable to apply caps\n",
		"subnets     WARN",
		"inotify     fixed",
		"\nprivileged — Privileged containers start: FAIL\n  Why: word word",
		"  Fix: spklab doctor --fix\n",
		"  Done: --fix: set them\n",
		"1 problem(s) block the lab: privileged. Fix them as shown above, or let spklab try: sudo spklab doctor --fix\n",
		"(4 checks in 1.5s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "docker — ") {
		t.Error("an ok check got a details section")
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  ") && len([]rune(line)) > 100 {
			t.Errorf("detail line longer than 100 columns: %q", line)
		}
	}
	ok := &Report{Checks: []Result{{ID: "memory", Status: StatusOK, Finding: "plenty"}}}
	b.Reset()
	_ = ok.WriteTable(&b)
	if !strings.Contains(b.String(), "This host is ready for the lab.") {
		t.Errorf("all-ok table:\n%s", b.String())
	}
	warn := &Report{Checks: []Result{{ID: "subnets", Status: StatusWarn, Finding: "x"}}}
	b.Reset()
	_ = warn.WriteTable(&b)
	if !strings.Contains(b.String(), "Nothing blocks the lab; 1 warning(s): subnets.") {
		t.Errorf("warning table:\n%s", b.String())
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK       bool     `json:"ok"`
		Blocking []string `json:"blocking"`
		Checks   []struct {
			ID, Status, Finding, Explanation, Fix string
			Blocking                              bool
			DurationMS                            float64 `json:"durationMs"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.OK || !slices.Equal(got.Blocking, []string{"privileged"}) || len(got.Checks) != 4 ||
		got.Checks[1].Status != "fail" || !got.Checks[1].Blocking || got.Checks[1].DurationMS != 380 || got.Checks[3].Status != "fixed" {
		t.Errorf("%+v", got)
	}
	b.Reset()
	_ = (&Report{Checks: []Result{{ID: "memory", Status: StatusOK}}}).WriteJSON(&b)
	if !strings.Contains(b.String(), `"ok": true`) || !strings.Contains(b.String(), `"blocking": []`) {
		t.Errorf("all-ok JSON: %s", b.String())
	}
}

func TestRegisterWrapperMergesOnceAndKeepsABackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "docker", "daemon.json")
	// No file: created, no backup.
	note, err := registerWrapper(path, "/opt/w/spklab-runc")
	if err != nil || !strings.Contains(note, "there was no daemon.json before") {
		t.Fatalf("%q %v", note, err)
	}
	if _, err := os.Stat(path + BackupSuffix); err == nil {
		t.Error("backup of a file that did not exist")
	}
	if note, err := registerWrapper(path, "/opt/w/spklab-runc"); note != "" || err != nil {
		t.Errorf("second registration: %q %v", note, err)
	}

	// An existing file: merged, backed up once, mode kept.
	orig := "{\n    \"log-level\": \"warn\",\n    \"runtimes\": {\"x\": {\"path\": \"/x\"}}\n}\n"
	_ = os.Remove(path)
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := registerWrapper(path, "/opt/w/spklab-runc"); err != nil {
		t.Fatal(err)
	}
	backup, _ := os.ReadFile(path + BackupSuffix)
	data, _ := os.ReadFile(path)
	cfg, err := daemonconf.Parse(data)
	if err != nil || string(backup) != orig || cfg.DefaultRuntime() != WrapperRuntime || cfg.RuntimePath("x") != "/x" || cfg.RuntimePath(WrapperRuntime) != "/opt/w/spklab-runc" {
		t.Errorf("backup %q, config %s, %v", backup, data, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	// Moving the wrapper rewrites the file but keeps the pre-spklab backup.
	if _, err := registerWrapper(path, "/elsewhere/spklab-runc"); err != nil {
		t.Fatal(err)
	}
	backup, _ = os.ReadFile(path + BackupSuffix)
	if string(backup) != orig {
		t.Errorf("backup overwritten with %s", backup)
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := registerWrapper(path, "/w"); err == nil || !strings.Contains(err.Error(), "fix the file by hand") {
		t.Errorf("broken daemon.json: %v", err)
	}
}

func TestInstallWrapperFilesIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src-wrapper")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	inst := filepath.Join(dir, "libexec")
	changes, err := installWrapperFiles(src, inst, "/usr/sbin/runc")
	if err != nil || len(changes) != 2 {
		t.Fatalf("%v %v", changes, err)
	}
	if st, _ := os.Stat(filepath.Join(inst, "spklab-runc")); st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", st.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(inst, "runc")); l != "/usr/sbin/runc" {
		t.Errorf("link %q", l)
	}
	if changes, err := installWrapperFiles(src, inst, "/usr/sbin/runc"); err != nil || len(changes) != 0 {
		t.Errorf("second install changed %v, %v", changes, err)
	}
	if err := os.WriteFile(src, []byte("#!/bin/sh\n# new\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if changes, err := installWrapperFiles(src, inst, "/usr/bin/runc"); err != nil || len(changes) != 2 {
		t.Errorf("new binary and runc: %v, %v", changes, err)
	}
	// Installing from the installed copy restores a lost runc link only.
	if err := os.Remove(filepath.Join(inst, "runc")); err != nil {
		t.Fatal(err)
	}
	if changes, err := installWrapperFiles(filepath.Join(inst, "spklab-runc"), inst, "/usr/bin/runc"); err != nil || len(changes) != 1 || !strings.Contains(changes[0], "linked") {
		t.Errorf("from the installed copy: %v, %v", changes, err)
	}
	if entries, _ := os.ReadDir(inst); len(entries) != 2 {
		t.Errorf("left temporary files: %v", entries)
	}
}

func TestRealRuncRefusesTheWrapperDir(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "runc")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := realRunc(docker.DaemonInfo{Runtimes: map[string]string{"runc": fake}}, "/usr/local/libexec/spklab"); err != nil || p != fake {
		t.Errorf("%q %v", p, err)
	}
	if _, err := realRunc(docker.DaemonInfo{Runtimes: map[string]string{"runc": fake}}, dir); err == nil {
		t.Error("accepted a runc inside the wrapper's directory")
	}
}

func TestCheckStatic(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "spklab-runc")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spklab-runc").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := checkStatic(bin); err != nil {
		t.Errorf("spklab-runc: %v", err)
	}
	if err := checkStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("/bin/sh: %v", err)
	}
	if err := checkStatic("/etc/hostname"); err == nil {
		t.Error("a text file passed")
	}
}

// TestUnreachableDocker points the doctor at a socket nobody serves: the
// docker check fails with how to fix it, checks that need docker say they
// could not look, and the rest still run.
func TestUnreachableDocker(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "nobody.sock")
	rep, err := Run(context.Background(), Config{DockerHost: sock, Only: []string{CheckDocker, CheckPrivileged, CheckMemory, CheckDisk}})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rep.Result(CheckDocker)
	if d.Status != StatusFail || !d.Blocking || !strings.Contains(d.Finding, "no Docker daemon answers") || !strings.Contains(d.Fix, "DOCKER_HOST") || d.Explanation == "" {
		t.Errorf("docker: %+v", d)
	}
	p, _ := rep.Result(CheckPrivileged)
	if p.Status != StatusWarn || !strings.Contains(p.Finding, "not checked: docker is not reachable") {
		t.Errorf("privileged: %+v", p)
	}
	disk, _ := rep.Result(CheckDisk)
	if !strings.Contains(disk.Finding, "docker not reachable") || !strings.Contains(disk.Finding, "GiB free") {
		t.Errorf("disk: %+v", disk)
	}
	if !slices.Equal(rep.Blocking(), []string{CheckDocker}) || len(rep.Checks) != 4 {
		t.Errorf("blocking %v, %d checks", rep.Blocking(), len(rep.Checks))
	}
	if _, err := Run(context.Background(), Config{Only: []string{"nope"}}); err == nil {
		t.Error("unknown check accepted")
	}
}
