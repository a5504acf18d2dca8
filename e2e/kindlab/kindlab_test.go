//go:build kinde2e

package kindlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spklab/spklab/internal/testenv"
)

// steps are spklab up's steps in order, as it prints them.
var steps = []string{"cluster", "cni", "networks", "attachments", "infra", "spk", "tenants"}

// spklabBinary is $SPKLAB_BIN or a fresh build of ./cmd/spklab.
func spklabBinary(t *testing.T) string {
	if b := os.Getenv("SPKLAB_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "spklab")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/spklab/spklab/cmd/spklab")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building spklab: %v\n%s", err, out)
	}
	return bin
}

// artifactsDir is $SPKLAB_ARTIFACTS (JUnit reports and evidence kept) or
// a temporary folder.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("SPKLAB_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

type lab struct {
	t          *testing.T
	bin        string
	kubeconfig string

	// failures are the headlines of what failed, repeated at the very end
	// of the output: a CI log that keeps only its tail still says why.
	mu       sync.Mutex
	failures []string
}

func (l *lab) errorf(format string, args ...any) {
	l.t.Helper()
	l.noteFailure(fmt.Sprintf(format, args...))
	l.t.Errorf(format, args...)
}

func (l *lab) fatalf(format string, args ...any) {
	l.t.Helper()
	l.noteFailure(fmt.Sprintf(format, args...))
	l.t.Fatalf(format, args...)
}

// noteFailure keeps msg's first line (a failure's detail is already in the
// log where it happened).
func (l *lab) noteFailure(msg string) {
	first, _, _ := strings.Cut(msg, "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, first)
}

// failedSpecs names each failed spec and the first line of its failure,
// read from the JUnit report spklab test args wrote.
func failedSpecs(args []string) []string {
	var report string
	for i, a := range args {
		if a == "--junit" && i+1 < len(args) {
			report = args[i+1]
		}
	}
	data, err := os.ReadFile(report)
	if err != nil {
		return []string{fmt.Sprintf("  (no JUnit report: %v)", err)}
	}
	var doc struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return []string{fmt.Sprintf("  (JUnit report %s unreadable: %v)", report, err)}
	}
	var specs []string
	for _, c := range doc.Cases {
		var msg string
		switch {
		case c.Failure != nil:
			msg = c.Failure.Message
		case c.Error != nil:
			msg = c.Error.Message
		default:
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
		specs = append(specs, fmt.Sprintf("  %s: %s", c.Name, first))
	}
	return specs
}

// summarize logs every failure headline last.
func (l *lab) summarize() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		l.t.Logf("what failed, in order:\n%s", strings.Join(l.failures, "\n"))
	}
}

// run runs spklab with args to the end, logging its output.
func (l *lab) run(ctx context.Context, args ...string) (string, error) {
	l.t.Helper()
	cmd := exec.CommandContext(ctx, l.bin, append(args, "--kubeconfig", l.kubeconfig)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	l.t.Logf("spklab %s (%s, %v):\n%s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond), err, out.String())
	if err != nil && args[0] == "test" {
		specs := failedSpecs(args)
		l.mu.Lock()
		l.failures = append(l.failures, fmt.Sprintf("spklab %s: %v", strings.Join(args, " "), err))
		l.failures = append(l.failures, specs...)
		l.mu.Unlock()
	}
	return out.String(), err
}

// clusterFromOfflineImagesIsWhole checks what the lab's steps do not
// wait for but a cluster made from the offline images must have: CoreDNS
// and the CNI DaemonSets rolled out, and Multus giving each TMM pod its
// macvlan attachments (external-net and egress-net). (This lab's cluster is the one
// kind-level check of the images; make test makes no cluster of its own.)
func (l *lab) clusterFromOfflineImagesIsWhole(ctx context.Context) {
	l.t.Helper()
	kubectl := func(args ...string) (string, error) {
		argv := append([]string{"exec", "bnk-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"}, args...)
		out, err := exec.CommandContext(ctx, "docker", argv...).CombinedOutput()
		return string(out), err
	}
	for _, obj := range []string{"deployment/coredns", "daemonset/calico-node", "daemonset/kube-multus-ds", "daemonset/cni-plugins"} {
		if out, err := kubectl("-n", "kube-system", "rollout", "status", obj, "--timeout=120s"); err != nil {
			l.errorf("%s not rolled out: %v\n%s", obj, err, out)
		}
	}
	for _, pod := range []string{"f5-tmm-0", "f5-tmm-1"} {
		out, err := kubectl("get", "pods", "-A", "--field-selector", "metadata.name="+pod,
			"-o", `jsonpath={.items[0].metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}`)
		var status []struct {
			Name      string `json:"name"`
			Interface string `json:"interface"`
		}
		if err != nil || json.Unmarshal([]byte(out), &status) != nil {
			l.errorf("%s: Multus network-status unreadable (%v): %s", pod, err, out)
			continue
		}
		got := map[string]string{} // attachment name → interface
		for _, s := range status {
			if i := strings.LastIndex(s.Name, "/"); i >= 0 {
				got[s.Name[i+1:]] = s.Interface
			}
		}
		if got["external-net"] == "" || got["egress-net"] == "" {
			l.errorf("%s: Multus attachments %v, want external-net and egress-net with an interface each", pod, got)
		}
	}
}

// stepTimes parses up's closing table: step → time.
func stepTimes(out string) map[string]string {
	times := map[string]string{}
	in := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "STEP" {
			in = true
			continue
		}
		if in && len(f) >= 2 {
			times[f[0]] = f[len(f)-1]
			if f[0] == "total" {
				break
			}
		}
	}
	return times
}

// upKilledIn starts spklab up and SIGKILLs its process group (spklab and
// every docker exec, kubectl and ctr it runs) once it has been applying a
// step at index ≥ from for delay. It returns the step it killed, or "" when
// up finished before.
func (l *lab) upKilledIn(ctx context.Context, from int, delay time.Duration) (string, error) {
	cmd := exec.CommandContext(ctx, l.bin, "up", "--kubeconfig", l.kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, io.Discard
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// The kill and the exit are ordered under one lock: Wait can return
	// (the group is dead) before the timer's goroutine runs again, so the
	// killed step is recorded before the kill, and no kill follows an exit.
	var (
		mu         sync.Mutex
		exited     bool
		killedStep string
	)
	go func() {
		sc := bufio.NewScanner(pr)
		armed := false
		for sc.Scan() {
			line := sc.Text()
			l.t.Logf("  | %s", line)
			f := strings.Fields(line)
			if armed || len(f) == 0 || !strings.HasSuffix(line, "applying") {
				continue
			}
			for i := from; i < len(steps); i++ {
				if f[0] == steps[i] {
					armed = true
					step := steps[i]
					time.AfterFunc(delay, func() {
						mu.Lock()
						defer mu.Unlock()
						if !exited {
							killedStep = step
							_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
						}
					})
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	mu.Lock()
	exited = true
	step := killedStep
	mu.Unlock()
	if step != "" {
		return step, nil
	}
	if err != nil {
		return "", fmt.Errorf("spklab up failed before it could be killed: %w", err)
	}
	return "", nil
}

// docker runs the docker CLI; a failure is fatal (it is the test's own
// doing, not the product's).
func (l *lab) docker(ctx context.Context, args ...string) string {
	l.t.Helper()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		l.fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// labSnapshot is what a second up must leave as it was: the node and
// infra containers, the lab's docker networks, the NADs' versions and the
// nodes' egress-net annotations.
func (l *lab) labSnapshot(ctx context.Context) string {
	l.t.Helper()
	ids := l.docker(ctx, "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster=bnk", "--format", "{{.Names}}={{.ID}}")
	infra := l.docker(ctx, "ps", "-a", "--filter", "label=com.docker.compose.project=infra", "--format", "{{.Names}}={{.ID}}")
	nets := l.docker(ctx, "network", "inspect", "-f", "{{.Name}}={{.ID}}", "external-net", "egress-net", "infra_client-net")
	nads := l.docker(ctx, "exec", "bnk-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "-n", "spk-ingress",
		"get", "network-attachment-definitions", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}`)
	annotations := l.docker(ctx, "exec", "bnk-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf",
		"get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.annotations.k8s\.ovn\.org/node-primary-ifaddr} {end}`)
	lines := strings.Fields(ids + "\n" + infra + "\n" + nets + "\n" + nads + "\n" + annotations)
	slices.Sort(lines)
	return strings.Join(lines, " ")
}

// networksBreakAndRepair breaks what the networks step made, in the ways a
// student's host can — a node taken off both lab networks and put back on
// one at a random address (its interfaces then come in the wrong order), a
// node's egress-net annotation removed, rp_filter switched on — and checks
// that status sees it and that up repairs it with the networks step alone.
func (l *lab) networksBreakAndRepair(ctx context.Context) {
	l.t.Helper()
	const node, annotated = "bnk-worker", "bnk-worker2" // bnk-worker runs no TMM
	l.docker(ctx, "network", "disconnect", "-f", "external-net", node)
	l.docker(ctx, "network", "disconnect", "-f", "egress-net", node)
	l.docker(ctx, "network", "connect", "egress-net", node)
	l.docker(ctx, "exec", "bnk-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "annotate", "node", annotated, "k8s.ovn.org/node-primary-ifaddr-")
	l.docker(ctx, "exec", "bnk-control-plane", "sysctl", "-w", "net.ipv4.conf.all.rp_filter=1")
	if out, err := l.run(ctx, "checkpoint", "networks"); !strings.Contains(out, "✗") {
		l.errorf("checkpoint networks after breaking them (%v) found nothing wrong:\n%s", err, out)
	}
	out, err := l.run(ctx, "up")
	if err != nil {
		l.fatalf("spklab up repairing the networks: %v", err)
	}
	verdict := map[string]string{} // step → "applied" or "already"
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && slices.Contains(steps, f[0]) && (f[1] == "applied" || f[1] == "already") {
			verdict[f[0]] = f[1]
		}
	}
	for _, s := range steps {
		want := "already"
		if s == "networks" {
			want = "applied"
		}
		if verdict[s] != want {
			l.errorf("repair up: step %s %q, want %q (only the networks step applied)", s, verdict[s], want)
		}
	}
	if out, err := l.run(ctx, "checkpoint", "networks"); err != nil || strings.Contains(out, "✗") {
		l.errorf("checkpoint networks after the repair (%v):\n%s", err, out)
	}
	if got := l.docker(ctx, "exec", "bnk-control-plane", "sysctl", "-n", "net.ipv4.conf.all.rp_filter"); got != "0" {
		l.errorf("rp_filter after the repair: %q, want 0", got)
	}
}

// routerConfigChangeIsSeen changes what FRR is told (maximum-paths) in a
// topology file: status says the router runs an older configuration, infra
// up recreates it with the new one, and the default lab's up puts the
// default back. The router's files are bind-mounted, so only the digest
// label on the container tells compose and spklab that they changed.
func (l *lab) routerConfigChangeIsSeen(ctx context.Context) {
	l.t.Helper()
	file := filepath.Join(l.t.TempDir(), "spklab.yaml")
	if err := os.WriteFile(file, []byte("base: default\nrouter:\n  maximumPaths: 4\n"), 0o644); err != nil {
		l.t.Fatal(err)
	}
	maxPaths := func() string {
		out, err := exec.CommandContext(ctx, "docker", "exec", "infra-frr-1", "vtysh", "-c", "show running-config").CombinedOutput()
		if err != nil {
			l.errorf("router running-config: %v: %s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "maximum-paths") {
				return strings.TrimSpace(line)
			}
		}
		return ""
	}
	out, _ := l.run(ctx, "status", "-f", file)
	if !strings.Contains(out, "runs an older FRR configuration") {
		l.errorf("status with a changed router config does not say the router runs an older one:\n%s", out)
	}
	start := time.Now()
	if _, err := l.run(ctx, "infra", "up", "-f", file); err != nil {
		l.fatalf("spklab infra up with a changed router config: %v", err)
	}
	if got := maxPaths(); got != "maximum-paths 4" {
		l.errorf("router after infra up with maximumPaths 4 says %q", got)
	}
	out, err := l.run(ctx, "up")
	if err != nil {
		l.fatalf("spklab up back to the default router config: %v", err)
	}
	if !strings.Contains(out, "runs an older FRR configuration") {
		l.errorf("up back to the default did not find the router's config stale:\n%s", out)
	}
	if got := maxPaths(); got != "maximum-paths 8" {
		l.errorf("router after up with the default topology says %q, want maximum-paths 8", got)
	}
	l.t.Logf("timing: router config change seen and undone in %s", time.Since(start).Round(100*time.Millisecond))
}

// infraUpFromAnotherShell stops the client and runs spklab up from a
// shell, so that testcontainers' session (derived from the parent process)
// differs from the one that made the infra: compose must not remake the
// client network, and the containers keep their pinned addresses.
func (l *lab) infraUpFromAnotherShell(ctx context.Context) {
	l.t.Helper()
	inspect := func(format string, args ...string) string {
		out, err := exec.CommandContext(ctx, "docker", append([]string{"inspect", "-f", format}, args...)...).Output()
		if err != nil {
			l.errorf("docker inspect %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	// The router and the network must stay as they are: a remade network
	// recreates every container on it, and the router's BGP sessions drop.
	const kept = "{{.Created}} {{.Id}}"
	routerBefore, netBefore := inspect(kept, "infra-frr-1"), inspect(kept, "--type", "network", "infra_client-net")
	if out, err := exec.CommandContext(ctx, "docker", "stop", "infra-client-1").CombinedOutput(); err != nil {
		l.fatalf("docker stop infra-client-1: %v: %s", err, out)
	}
	// Not the shell's last command, so the shell forks instead of exec'ing.
	cmd := exec.CommandContext(ctx, "sh", "-c", `"$0" up --kubeconfig "$1"; exit $?`, l.bin, l.kubeconfig)
	out, err := cmd.CombinedOutput()
	l.t.Logf("sh -c 'spklab up' after stopping the client (%v):\n%s", err, out)
	if err != nil {
		l.fatalf("spklab up from another shell: %v", err)
	}
	for name, want := range map[string]string{"infra-client-1": "198.51.100.100", "infra-frr-1": "198.51.100.250"} {
		if got := inspect(`{{(index .NetworkSettings.Networks "infra_client-net").IPAddress}}`, name); got != want {
			l.errorf("%s on infra_client-net after up from another shell: %q, want %s", name, got, want)
		}
	}
	if after := inspect(kept, "infra-frr-1"); after != routerBefore {
		l.errorf("up from another shell recreated the router: %s → %s", routerBefore, after)
	}
	if after := inspect(kept, "--type", "network", "infra_client-net"); after != netBefore {
		l.errorf("up from another shell remade network infra_client-net: %s → %s", netBefore, after)
	}
}

// logsOfAPartLab checks spklab logs on a lab stopped before the spk step:
// what is there is collected, what is not yet is listed as skipped with
// its reason, and that is not a failure.
func (l *lab) logsOfAPartLab(ctx context.Context, dir string) {
	l.t.Helper()
	if _, err := l.run(ctx, "logs", "--artifacts", dir); err != nil {
		l.errorf("spklab logs on a lab stopped in the attachments step: %v", err)
	}
	skipped, err := os.ReadFile(filepath.Join(dir, "skipped.txt"))
	for _, want := range []string{"crs.yaml: the SPK CRDs are not installed", "f5-tmm-0-stats.json: the pod is absent", "router-*: container infra-frr-1 does not exist"} {
		if err != nil || !strings.Contains(string(skipped), want) {
			l.errorf("spklab logs on a part lab: skipped.txt (%v) lacks %q:\n%s", err, want, skipped)
		}
	}
	for _, f := range []string{"status.json", "pods.txt", "nodes.yaml", "kind/bnk-worker/kubelet.log"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			l.errorf("spklab logs on a part lab: %s missing or empty (%v)", f, err)
		}
	}
}

// killDelays is how long into each step up is killed: mid-step, where the
// step has made part of its work.
var killDelays = map[string]time.Duration{
	"cluster": 12 * time.Second, "cni": 15 * time.Second, "networks": 2 * time.Second,
	"attachments": 300 * time.Millisecond, "infra": 500 * time.Millisecond,
	"spk": 8 * time.Second, "tenants": 3 * time.Second,
}

func (l *lab) status(ctx context.Context) map[string]any {
	out, err := l.run(ctx, "status", "-o", "json")
	var s map[string]any
	if jerr := json.Unmarshal([]byte(out), &s); jerr != nil {
		l.fatalf("spklab status -o json: %v (exit %v)", jerr, err)
	}
	if err != nil {
		l.errorf("spklab status says the lab is not up: %v", err)
	}
	return s
}

func TestKindLab(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.LockKindClusters(t)
	ctx, cancel := context.WithTimeout(t.Context(), 75*time.Minute)
	defer cancel()
	l := &lab{t: t, bin: spklabBinary(t), kubeconfig: filepath.Join(t.TempDir(), "kubeconfig")}
	art := artifactsDir(t)
	// Registered first, so it runs last: after the down and its output.
	t.Cleanup(l.summarize)
	t.Cleanup(func() {
		if t.Failed() {
			l.run(context.Background(), "logs", "--artifacts", filepath.Join(art, "lab-logs"))
		}
		if _, err := l.run(context.Background(), "down"); err != nil {
			l.errorf("cleanup: spklab down: %v", err)
		}
	})
	if _, err := l.run(ctx, "down"); err != nil {
		l.fatalf("spklab down before starting: %v", err)
	}

	// 1. A clean spklab up, timed per step.
	start := time.Now()
	out, err := l.run(ctx, "up")
	if err != nil {
		l.fatalf("spklab up: %v", err)
	}
	t.Logf("timing: clean spklab up %s, steps %v", time.Since(start).Round(time.Second), stepTimes(out))
	if strings.Contains(out, " Container infra") {
		l.errorf("spklab up printed docker compose's progress lines")
	}
	l.status(ctx)
	l.clusterFromOfflineImagesIsWhole(ctx)
	if _, err := l.run(ctx, "test", "--junit", filepath.Join(art, "junit-kind.xml"), "--artifacts", filepath.Join(art, "evidence")); err != nil {
		l.fatalf("spklab test on the fresh lab: %v", err)
	}
	// Student mode, the live drawing and the evidence on the running lab.
	out, err = l.run(ctx, "checkpoint")
	if err != nil || !strings.Contains(out, "Checkpoint after `spklab tenants apply`") || strings.Contains(out, "✗") || !strings.Contains(out, "Next: spklab test") {
		l.errorf("spklab checkpoint on the whole lab (%v):\n%s", err, out)
	}
	for _, s := range steps {
		if out, err := l.run(ctx, "checkpoint", s); err != nil || strings.Contains(out, "✗") || strings.Count(out, "✓") < 2 {
			l.errorf("spklab checkpoint %s (%v):\n%s", s, err, out)
		}
	}
	out, err = l.run(ctx, "diagram")
	for _, want := range []string{"NOW — kind lab bnk", "f5-tmm-0 on bnk-worker", "BGP at the router: Established", "infra-frr-1 192.0.2.250/24", "network infra_client-net"} {
		if err != nil || !strings.Contains(out, want) {
			l.errorf("spklab diagram (%v) lacks %q", err, want)
		}
	}
	logs := filepath.Join(art, "logs-of-a-good-lab")
	if _, err := l.run(ctx, "logs", "--artifacts", logs); err != nil {
		l.errorf("spklab logs: %v", err)
	}
	for _, f := range []string{"status.json", "crs.yaml", "router-bgp-summary.json", "f5-tmm-0-stats.json", "f5-tmm-1-stats.json", "container-infra-frr-1.log", "kind/bnk-worker2/kubelet.log"} {
		if st, err := os.Stat(filepath.Join(logs, f)); err != nil || st.Size() == 0 {
			l.errorf("spklab logs: %s missing or empty (%v)", f, err)
		}
	}

	// A second up finds every step done and changes nothing.
	before := l.labSnapshot(ctx)
	out, err = l.run(ctx, "up")
	if err != nil {
		l.fatalf("second spklab up: %v", err)
	}
	for _, s := range steps {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 2 && f[0] == s && f[1] == "already" && f[2] == "done:" {
				found = true
			}
		}
		if !found {
			l.errorf("second up: step %s was not reported \"already done:\"", s)
		}
	}

	if after := l.labSnapshot(ctx); after != before {
		l.errorf("second up changed the lab:\nbefore %s\nafter  %s", before, after)
	}

	l.networksBreakAndRepair(ctx)
	l.routerConfigChangeIsSeen(ctx)
	l.infraUpFromAnotherShell(ctx)

	// 2. down leaves nothing (down itself lists leftovers and fails on any).
	if _, err := l.run(ctx, "down"); err != nil {
		l.fatalf("spklab down: %v", err)
	}

	// 3. spklab up killed in the middle of each step in turn; every re-run
	// goes on from what the killed one left.
	var killedSteps []string
	for i := 0; i < len(steps); i++ {
		step, err := l.upKilledIn(ctx, i, killDelays[steps[i]])
		if err != nil {
			l.fatalf("interrupted up from step %s: %v", steps[i], err)
		}
		if step == "" {
			t.Logf("up finished before step %s could be interrupted", steps[i])
			break
		}
		t.Logf("killed spklab up during step %s", step)
		killedSteps = append(killedSteps, step)
		if step == "attachments" {
			l.logsOfAPartLab(ctx, filepath.Join(art, "logs-of-a-part-lab"))
		}
		for i < len(steps)-1 && steps[i] != step {
			i++
		}
	}
	if len(killedSteps) < len(steps)-1 {
		l.errorf("up was killed during %v only; want every step (but perhaps the last)", killedSteps)
	}
	start = time.Now()
	out, err = l.run(ctx, "up")
	if err != nil {
		l.fatalf("spklab up after the interruptions: %v", err)
	}
	t.Logf("timing: spklab up after interruptions in %v: %s, steps %v", killedSteps, time.Since(start).Round(time.Second), stepTimes(out))
	l.status(ctx)
	// The lab the interrupted ups finished must be whole: every VIP, SNAT
	// address and route the suites check. What the disruptive and
	// isolation specs prove is the product's, not the bring-up's, and the
	// fresh lab's run above already proved it (they take half the suite's
	// minutes).
	if _, err := l.run(ctx, "test", "--label-filter", "!disruptive && !isolation", "--junit", filepath.Join(art, "junit-kind-after-interruptions.xml"), "--artifacts", filepath.Join(art, "evidence-after-interruptions")); err != nil {
		l.fatalf("spklab test after the interruptions: %v", err)
	}
	start = time.Now()
	if _, err := l.run(ctx, "down"); err != nil {
		l.fatalf("spklab down: %v", err)
	}
	t.Logf("timing: spklab down %s", time.Since(start).Round(100*time.Millisecond))
}

func TestFailedSpecsReadsJUnit(t *testing.T) {
	report := filepath.Join(t.TempDir(), "junit.xml")
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1"><testsuite name="spklab" tests="2">
<testcase name="[It] bgp passes" status="passed"></testcase>
<testcase name="[It] bgp withdraws within 1s" status="failed"><failure message="the withdrawal took 2.29s&#xA;Expected" type="failed">detail</failure></testcase>
</testsuite></testsuites>`
	if err := os.WriteFile(report, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	got := failedSpecs([]string{"test", "--junit", report})
	want := []string{"  [It] bgp withdraws within 1s: the withdrawal took 2.29s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("failedSpecs = %q, want %q", got, want)
	}
}
