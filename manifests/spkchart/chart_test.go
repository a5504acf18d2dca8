package spkchart

import (
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/spklab/spklab/manifests"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

const testNS = "lab-spk" // not the default, so a hard-coded namespace shows

func mustRender(t *testing.T, ns string, values map[string]any) *Manifest {
	t.Helper()
	m, err := Render(ns, values)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return m
}

// object converts the rendered kind/name into its Go type.
func object[T any](t *testing.T, m *Manifest, kind, name string) *T {
	t.Helper()
	u := m.Find(kind, name)
	if u == nil {
		t.Fatalf("no %s %s in the rendered chart", kind, name)
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
	return out
}

func valuesFile(t *testing.T, path string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValuesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tmmValues parses the controller's values file out of the rendered
// Secret, as the controller does.
func tmmValues(t *testing.T, m *Manifest) *spk.DynamicRouting {
	t.Helper()
	sec := object[corev1.Secret](t, m, "Secret", ValuesSecret)
	data, ok := sec.Data[ValuesKey]
	if !ok || len(sec.Data) != 1 || sec.Type != corev1.SecretTypeOpaque {
		t.Fatalf("Secret %s (type %q) data keys %v, want only %s", ValuesSecret, sec.Type, slices.Collect(mapKeys(sec.Data)), ValuesKey)
	}
	dr, err := spk.ParseValues("secret", data)
	if err != nil {
		t.Fatalf("spk.ParseValues(Secret %s): %v\n%s", ValuesSecret, err, data)
	}
	if dr != nil {
		dr.Source = ""
	}
	return dr
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestLintClean(t *testing.T) {
	seed := valuesFile(t, "testdata/seed-values.yaml")
	topo, err := ValuesFromTopology(topology.SeedExample())
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{
		"defaults":              nil,
		"seed values":           seed,
		"seed-example topology": topo,
	} {
		t.Run(name, func(t *testing.T) {
			if err := Lint(testNS, vals); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestLintListsProblemsWithFile(t *testing.T) {
	err := Lint(testNS, map[string]any{"tmm": map[string]any{"replicas": "two"}})
	var le *LintError
	if !errors.As(err, &le) {
		t.Fatalf("Lint = %v, want a *LintError", err)
	}
	found := false
	for _, p := range le.Problems {
		if p.Severity == "ERROR" && p.Path == "values.yaml" && strings.Contains(p.Message, "tmm.replicas: Invalid type") {
			found = true
		}
	}
	if !found {
		t.Errorf("no ERROR in values.yaml naming tmm.replicas in:\n%v", err)
	}
	if !strings.Contains(err.Error(), "[ERROR] ") {
		t.Errorf("error text %q does not list problems with severity", err)
	}
}

// The chart's values.yaml is a values file the controller accepts; its BGP
// block is off, so a block given at install is not merged with another.
func TestChartValuesParse(t *testing.T) {
	data, err := fs.ReadFile(manifests.ChartFS(), "values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := spk.ParseValues("values.yaml", data)
	if err != nil {
		t.Fatalf("spk.ParseValues(chart values.yaml): %v", err)
	}
	if got == nil || got.Enabled || len(got.TMMRouting.Config.BGP.Neighbors) != 0 {
		t.Errorf("chart values.yaml BGP block %+v, want present and off", got)
	}
}

func TestRenderTMM(t *testing.T) {
	m := mustRender(t, testNS, nil)
	sts := object[appsv1.StatefulSet](t, m, "StatefulSet", TMMStatefulSet)
	if sts.Namespace != testNS {
		t.Errorf("namespace %q", sts.Namespace)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", sts.Spec.Replicas)
	}
	svc := object[corev1.Service](t, m, "Service", sts.Spec.ServiceName)
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !reflect.DeepEqual(svc.Spec.Selector, map[string]string{"app": "f5-tmm"}) {
		t.Errorf("service %s: clusterIP %q selector %v, want headless app=f5-tmm", svc.Name, svc.Spec.ClusterIP, svc.Spec.Selector)
	}
	pod := sts.Spec.Template
	if pod.Labels["app"] != "f5-tmm" || !reflect.DeepEqual(sts.Spec.Selector.MatchLabels, map[string]string{"app": "f5-tmm"}) {
		t.Errorf("pod labels %v selector %v", pod.Labels, sts.Spec.Selector.MatchLabels)
	}
	if !reflect.DeepEqual(pod.Spec.NodeSelector, map[string]string{"app": "f5-tmm"}) {
		t.Errorf("nodeSelector %v", pod.Spec.NodeSelector)
	}
	wantTol := corev1.Toleration{Key: "dpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}
	if !reflect.DeepEqual(pod.Spec.Tolerations, []corev1.Toleration{wantTol}) {
		t.Errorf("tolerations %+v", pod.Spec.Tolerations)
	}
	aa := pod.Spec.Affinity.PodAntiAffinity
	if aa == nil || len(aa.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatalf("pod anti-affinity %+v, want one required term", aa)
	}
	term := aa.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" || !reflect.DeepEqual(term.LabelSelector.MatchLabels, map[string]string{"app": "f5-tmm"}) {
		t.Errorf("anti-affinity term %+v", term)
	}
	if got := multusNetworks(t, pod); !reflect.DeepEqual(got, []multusNetwork{{"external-net", "net1"}, {"egress-net", "net2"}}) {
		t.Errorf("Multus networks %+v", got)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("TMM pods get a service account token; they need none")
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if c.Name != "spk-tmm" || c.Image != "spklab/spk-tmm:dev" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %s image %s pull %s", c.Name, c.Image, c.ImagePullPolicy)
	}
	// The API over mutual TLS on the pod IP and loopback, in the clear only
	// on the pod's own unix socket.
	if want := []string{"--api=unix:/run/spk-tmm/api.sock", "--api=[$(POD_IP)]:9443", "--api=127.0.0.1:9443", "--api-tls=/etc/spk-tmm/api-tls", "--interfaces=net1,net2"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "grpc-api" || c.Ports[0].ContainerPort != 9443 {
		t.Errorf("ports %+v", c.Ports)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("securityContext %+v: want privileged and allowPrivilegeEscalation false", sc)
	}
	if got := capNames(sc.Capabilities.Add); !slices.Equal(got, []string{"NET_ADMIN", "NET_RAW"}) {
		t.Errorf("capabilities added %v, want exactly NET_ADMIN NET_RAW", got)
	}
	if got := capNames(sc.Capabilities.Drop); !slices.Equal(got, []string{"ALL"}) {
		t.Errorf("capabilities dropped %v, want ALL", got)
	}
	if p := c.ReadinessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, []string{"spk-tmm", "health", "--api", "unix:/run/spk-tmm/api.sock"}) {
		t.Errorf("readiness probe %+v, want spk-tmm health on the unix socket", p)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if want := map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "POD_IP": "status.podIP"}; !reflect.DeepEqual(env, want) {
		t.Errorf("downward API env %v", env)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("resource requests %v", c.Resources.Requests)
	}
	if len(c.VolumeMounts) != 3 || c.VolumeMounts[0].MountPath != "/dev/net/tun" || c.VolumeMounts[1].MountPath != "/etc/spk-tmm/api-tls" || !c.VolumeMounts[1].ReadOnly || c.VolumeMounts[2].MountPath != "/run/spk-tmm" {
		t.Fatalf("volume mounts %+v", c.VolumeMounts)
	}
	vol := volume(t, pod.Spec, c.VolumeMounts[0].Name)
	if hp := vol.HostPath; hp == nil || hp.Path != "/dev/net/tun" || hp.Type == nil || *hp.Type != corev1.HostPathCharDev {
		t.Errorf("volume %+v, want hostPath /dev/net/tun CharDevice", vol)
	}
	if sec := volume(t, pod.Spec, c.VolumeMounts[1].Name).Secret; sec == nil || sec.SecretName != TMMAPIServerSecret || sec.DefaultMode == nil || *sec.DefaultMode != 0o400 {
		t.Errorf("API identity volume %+v, want Secret %s mode 0400", sec, TMMAPIServerSecret)
	}
	if volume(t, pod.Spec, c.VolumeMounts[2].Name).EmptyDir == nil {
		t.Error("the API socket's directory is not an emptyDir")
	}
}

type multusNetwork struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
}

// multusNetworks decodes the annotation strictly: any other key fails.
func multusNetworks(t *testing.T, pod corev1.PodTemplateSpec) []multusNetwork {
	t.Helper()
	ann, ok := pod.Annotations["k8s.v1.cni.cncf.io/networks"]
	if !ok {
		t.Fatal("no Multus annotation on the TMM pod")
	}
	dec := json.NewDecoder(strings.NewReader(ann))
	dec.DisallowUnknownFields()
	var nets []multusNetwork
	if err := dec.Decode(&nets); err != nil {
		t.Fatalf("Multus annotation %q: %v", ann, err)
	}
	return nets
}

func capNames(cs []corev1.Capability) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	sort.Strings(out)
	return out
}

func volume(t *testing.T, spec corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

// tmm.apiPort reaches every place that names the TMM API port: TMM's flag,
// its container port and probe, the headless Service, the controller's flag.
func TestRenderTMMAPIPort(t *testing.T) {
	m := mustRender(t, testNS, map[string]any{"tmm": map[string]any{"apiPort": 7443}})
	c := object[appsv1.StatefulSet](t, m, "StatefulSet", "f5-tmm").Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--api=[$(POD_IP)]:7443") || !slices.Contains(c.Args, "--api=127.0.0.1:7443") || containerPort(c, "grpc-api") != 7443 {
		t.Errorf("TMM args %q ports %+v, want the API on 7443", c.Args, c.Ports)
	}
	np := object[networkingv1.NetworkPolicy](t, m, "NetworkPolicy", "f5-tmm-api")
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.IntValue() != 7443 {
		t.Errorf("NetworkPolicy ingress %+v, want port 7443", np.Spec.Ingress)
	}
	for _, u := range m.Objects {
		if u.GetKind() != "Service" {
			continue
		}
		svc := object[corev1.Service](t, m, "Service", u.GetName())
		for _, p := range svc.Spec.Ports {
			if p.Name == "grpc-api" && p.Port != 7443 {
				t.Errorf("Service %s port %+v, want 7443", svc.Name, p)
			}
		}
	}
	ctl := object[appsv1.Deployment](t, m, "Deployment", ControllerDeployment).Spec.Template.Spec.Containers[0]
	if !slices.Contains(ctl.Args, "--tmm-api-port=7443") {
		t.Errorf("controller args %q, want --tmm-api-port=7443", ctl.Args)
	}
}

func TestRenderController(t *testing.T) {
	m := mustRender(t, testNS, nil)
	d := object[appsv1.Deployment](t, m, "Deployment", ControllerDeployment)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v", d.Spec.Replicas)
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "spk-controller" {
		t.Errorf("service account %q", pod.ServiceAccountName)
	}
	object[corev1.ServiceAccount](t, m, "ServiceAccount", "spk-controller")
	c := pod.Containers[0]
	want := []string{
		"--tmm-namespace=" + testNS, "--tmm-selector=app=f5-tmm", "--tmm-statefulset=f5-tmm", "--tmm-api-port=9443",
		"--tmm-api-tls=/etc/spk-controller/tmm-api-tls", "--tmm-api-server-name=" + TMMAPIServerName(testNS),
		"--values=/etc/spk/values.yaml", "--health-probe-bind-address=:8081", "--metrics-bind-address=0", "--leader-elect",
	}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args\n got %q\nwant %q", c.Args, want)
	}
	if c.Image != "spklab/spk-controller:dev" {
		t.Errorf("image %s", c.Image)
	}
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || containerPort(c, p.HTTPGet.Port.String()) != 8081 {
			t.Errorf("probe %s: %+v, want httpGet on 8081", name, p)
		}
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot with a non-zero user", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		!slices.Equal(capNames(sc.Capabilities.Drop), []string{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v", sc)
	}
	if len(c.VolumeMounts) != 2 || c.VolumeMounts[0].MountPath != "/etc/spk" || c.VolumeMounts[1].MountPath != "/etc/spk-controller/tmm-api-tls" {
		t.Fatalf("mounts %+v", c.VolumeMounts)
	}
	if v := volume(t, pod, c.VolumeMounts[1].Name); v.Secret == nil || v.Secret.SecretName != TMMAPIClientSecret || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 ||
		psc.FSGroup == nil || *psc.FSGroup != *psc.RunAsGroup {
		t.Errorf("client identity volume %+v (fsGroup %v), want Secret %s mode 0440 owned by the controller's group", v, psc.FSGroup, TMMAPIClientSecret)
	}
	if v := volume(t, pod, c.VolumeMounts[0].Name); v.Secret == nil || v.Secret.SecretName != ValuesSecret {
		t.Errorf("volume %+v, want Secret %s", v, ValuesSecret)
	}
	if got := tmmValues(t, m); got == nil || got.Enabled {
		t.Errorf("controller values %+v, want the chart's block (off)", got)
	}
}

// containerPort resolves a probe port (number or name) to its number.
func containerPort(c corev1.Container, port string) int32 {
	for _, p := range c.Ports {
		if p.Name == port {
			return p.ContainerPort
		}
	}
	var n int32
	for _, r := range port {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + r - '0'
	}
	return n
}

func TestRenderNodeAgent(t *testing.T) {
	m := mustRender(t, testNS, nil)
	ds := object[appsv1.DaemonSet](t, m, "DaemonSet", NodeAgentDaemonSet)
	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork || pod.ServiceAccountName != "spk-node" {
		t.Errorf("hostNetwork %v serviceAccount %q", pod.HostNetwork, pod.ServiceAccountName)
	}
	na := pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	wantTerm := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.NodeSelectorOpDoesNotExist},
	}}
	if na == nil || !reflect.DeepEqual(na.NodeSelectorTerms, []corev1.NodeSelectorTerm{wantTerm}) {
		t.Errorf("node affinity %+v", na)
	}
	if len(pod.NodeSelector) != 0 {
		t.Errorf("nodeSelector %v: the agent runs on every worker", pod.NodeSelector)
	}
	wantTol := corev1.Toleration{Key: "dpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}
	if !reflect.DeepEqual(pod.Tolerations, []corev1.Toleration{wantTol}) {
		t.Errorf("tolerations %+v", pod.Tolerations)
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"--node-name=$(NODE_NAME)"}) || c.Image != "spklab/spk-node:dev" {
		t.Errorf("args %q image %s", c.Args, c.Image)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "NODE_NAME" || c.Env[0].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("env %+v", c.Env)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Fatalf("securityContext %+v", sc)
	}
	if got := capNames(sc.Capabilities.Add); !slices.Equal(got, []string{"NET_ADMIN"}) {
		t.Errorf("capabilities added %v, want NET_ADMIN only", got)
	}
	if got := capNames(sc.Capabilities.Drop); !slices.Equal(got, []string{"ALL"}) {
		t.Errorf("capabilities dropped %v", got)
	}
}

// permissions flattens RBAC rules into "group/resource verb" strings and
// fails on any wildcard or resourceNames/nonResourceURLs.
func permissions(t *testing.T, rules []rbacv1.PolicyRule) []string {
	t.Helper()
	var out []string
	for _, r := range rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: unexpected resourceNames/nonResourceURLs", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" || strings.Contains(res, "*") {
						t.Errorf("wildcard in rule %+v", r)
					}
					out = append(out, g+"/"+res+" "+v)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// expand is the expected permission set: every group/resource with every verb.
func expand(groupResources []string, verbs ...string) []string {
	var out []string
	for _, gr := range groupResources {
		for _, v := range verbs {
			out = append(out, gr+" "+v)
		}
	}
	return out
}

func sorted(parts ...[]string) []string {
	out := slices.Concat(parts...)
	sort.Strings(out)
	return out
}

func TestRenderRBACLeastPrivilege(t *testing.T) {
	m := mustRender(t, testNS, nil)
	crs := []string{"k8s.f5net.com/f5-spk-vlans", "k8s.f5net.com/f5-spk-snatpools", "k8s.f5net.com/f5-spk-egresses",
		"k8s.f5net.com/f5-spk-staticroutes", "ingresstcp.k8s.f5net.com/f5-spk-ingresstcps"}
	var statuses []string
	for _, cr := range crs {
		statuses = append(statuses, cr+"/status")
	}
	wantController := sorted(
		expand(crs, "get", "list", "watch"),
		expand(statuses, "get", "update", "patch"),
		expand([]string{"/services", "/nodes", "discovery.k8s.io/endpointslices"}, "get", "list", "watch"),
		expand([]string{"/events", "events.k8s.io/events"}, "create", "patch"),
	)
	cr := object[rbacv1.ClusterRole](t, m, "ClusterRole", "spk-controller")
	if got := permissions(t, cr.Rules); !slices.Equal(got, wantController) {
		t.Errorf("controller ClusterRole\n got %q\nwant %q", got, wantController)
	}
	wantRole := sorted(
		expand([]string{"/pods", "apps/statefulsets"}, "get", "list", "watch"),
		expand([]string{"coordination.k8s.io/leases"}, "get", "list", "watch", "create", "update", "patch"),
	)
	role := object[rbacv1.Role](t, m, "Role", "spk-controller")
	if role.Namespace != testNS {
		t.Errorf("Role namespace %q", role.Namespace)
	}
	if got := permissions(t, role.Rules); !slices.Equal(got, wantRole) {
		t.Errorf("controller Role\n got %q\nwant %q", got, wantRole)
	}
	wantNode := sorted(
		expand([]string{"/pods"}, "get", "list", "watch"),
		[]string{"/nodes get"},
		expand([]string{"k8s.f5net.com/f5-spk-egresses", "k8s.f5net.com/f5-spk-vlans"}, "get", "list", "watch"),
		expand([]string{"/events", "events.k8s.io/events"}, "create", "patch"),
	)
	nodeRole := object[rbacv1.ClusterRole](t, m, "ClusterRole", "spk-node")
	if got := permissions(t, nodeRole.Rules); !slices.Equal(got, wantNode) {
		t.Errorf("node ClusterRole\n got %q\nwant %q", got, wantNode)
	}

	// Each role is bound to its own service account in the release namespace, and
	// no other role exists.
	for _, b := range []struct{ kind, role, sa string }{
		{"ClusterRoleBinding", "spk-controller", "spk-controller"},
		{"RoleBinding", "spk-controller", "spk-controller"},
		{"ClusterRoleBinding", "spk-node", "spk-node"},
	} {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		if b.kind == "RoleBinding" {
			rb := object[rbacv1.RoleBinding](t, m, b.kind, b.role)
			ref, subjects = rb.RoleRef, rb.Subjects
		} else {
			crb := object[rbacv1.ClusterRoleBinding](t, m, b.kind, b.role)
			ref, subjects = crb.RoleRef, crb.Subjects
		}
		wantKind := map[string]string{"RoleBinding": "Role", "ClusterRoleBinding": "ClusterRole"}[b.kind]
		if ref.Kind != wantKind || ref.Name != b.role {
			t.Errorf("%s %s refers to %s %s", b.kind, b.role, ref.Kind, ref.Name)
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: b.sa, Namespace: testNS}}
		if !reflect.DeepEqual(subjects, want) {
			t.Errorf("%s %s subjects %+v", b.kind, b.role, subjects)
		}
	}
	var kinds []string
	for _, o := range m.Objects {
		if strings.HasSuffix(o.GetKind(), "Role") || strings.HasSuffix(o.GetKind(), "RoleBinding") {
			kinds = append(kinds, o.GetKind()+"/"+o.GetName())
		}
	}
	sort.Strings(kinds)
	if want := []string{"ClusterRole/spk-controller", "ClusterRole/spk-node", "ClusterRoleBinding/spk-controller",
		"ClusterRoleBinding/spk-node", "Role/spk-controller", "RoleBinding/spk-controller"}; !slices.Equal(kinds, want) {
		t.Errorf("RBAC objects %v, want %v", kinds, want)
	}
}

// Every namespaced object lands in the release namespace.
func TestRenderNamespace(t *testing.T) {
	m := mustRender(t, testNS, nil)
	clusterScoped := map[string]bool{"ClusterRole": true, "ClusterRoleBinding": true}
	for _, o := range m.Objects {
		if ns := o.GetNamespace(); clusterScoped[o.GetKind()] != (ns == "") || (ns != "" && ns != testNS) {
			t.Errorf("%s %s: namespace %q", o.GetKind(), o.GetName(), ns)
		}
	}
	// 3 ServiceAccounts, the values Secret, 6 RBAC objects, the TMM
	// Service and NetworkPolicy, and the three workloads.
	if len(m.Objects) != 15 {
		t.Errorf("%d objects, want 15", len(m.Objects))
	}
}

// The seed's tmm.dynamicRouting block goes through unchanged: the controller
// reads exactly what spk.ParseValues reads from the seed's values file.
func TestRenderSeedValuesUnchanged(t *testing.T) {
	m := mustRender(t, testNS, valuesFile(t, "testdata/seed-values.yaml"))
	want, err := spk.LoadValues("testdata/seed-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want.Source = ""
	got := tmmValues(t, m)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("controller values\n got %+v\nwant %+v", got, want)
	}
	if b := got.TMMRouting.Config.BGP; !got.Enabled || b.ASN != 100 || b.Hostname != "spk-bgp" || len(b.Neighbors) != 1 ||
		b.Neighbors[0].EBGPMultihop != 10 || b.GracefulRestart != nil {
		t.Errorf("seed BGP %+v", b)
	}
	if err := Lint(testNS, valuesFile(t, "testdata/seed-values.yaml")); err != nil {
		t.Error(err)
	}
}

func TestRenderValuesChangeShows(t *testing.T) {
	base := mustRender(t, testNS, nil)
	m := mustRender(t, testNS, map[string]any{
		"image": map[string]any{"registry": "registry.lab:5000", "tag": "v9"},
		"tmm": map[string]any{
			"replicas": 3,
			"networks": []any{"ext-a", "egr-b", "third-c"},
			// Helm merges maps with the defaults: null removes a default key.
			"nodeSelector": map[string]any{"role": "dpu", "app": nil},
			"image":        map[string]any{"repository": "spklab/spk-tmm", "tag": "t1"},
		},
	})
	sts := object[appsv1.StatefulSet](t, m, "StatefulSet", TMMStatefulSet)
	if *sts.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *sts.Spec.Replicas)
	}
	want := []multusNetwork{{"ext-a", "net1"}, {"egr-b", "net2"}, {"third-c", "net3"}}
	if got := multusNetworks(t, sts.Spec.Template); !reflect.DeepEqual(got, want) {
		t.Errorf("Multus networks %+v", got)
	}
	c := sts.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--interfaces=net1,net2,net3") {
		t.Errorf("args %q", c.Args)
	}
	if !reflect.DeepEqual(sts.Spec.Template.Spec.NodeSelector, map[string]string{"role": "dpu"}) {
		t.Errorf("nodeSelector %v", sts.Spec.Template.Spec.NodeSelector)
	}
	if c.Image != "registry.lab:5000/spklab/spk-tmm:t1" {
		t.Errorf("TMM image %s (component tag wins)", c.Image)
	}
	ctl := object[appsv1.Deployment](t, m, "Deployment", ControllerDeployment)
	if img := ctl.Spec.Template.Spec.Containers[0].Image; img != "registry.lab:5000/spklab/spk-controller:v9" {
		t.Errorf("controller image %s (global tag)", img)
	}
	if !strings.Contains(m.Notes, "ext-a (1.1), egr-b (1.2), third-c (1.3)") {
		t.Errorf("NOTES do not show the attachments:\n%s", m.Notes)
	}

	// A changed BGP block changes the Secret and so the controller's pod
	// template (it restarts and reads the new file).
	seeded := mustRender(t, testNS, valuesFile(t, "testdata/seed-values.yaml"))
	checksum := func(m *Manifest) string {
		return object[appsv1.Deployment](t, m, "Deployment", ControllerDeployment).Spec.Template.Annotations["checksum/tmm-values"]
	}
	if checksum(base) == "" || checksum(base) == checksum(seeded) {
		t.Errorf("values checksum %q → %q: want it set and changed", checksum(base), checksum(seeded))
	}
	if checksum(base) != checksum(m) {
		t.Error("values checksum changed though the BGP block did not")
	}
}

func TestRenderRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"misspelt key", map[string]any{"tmm": map[string]any{"replica": 3}}, "replica"},
		{"zero replicas", map[string]any{"tmm": map[string]any{"replicas": 0}}, "replicas"},
		{"pull policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "pullPolicy"},
		{"network name", map[string]any{"tmm": map[string]any{"networks": []any{"External_Net"}}}, "networks"},
		{"no networks", map[string]any{"tmm": map[string]any{"networks": []any{}}}, "networks"},
		{"API port zero", map[string]any{"tmm": map[string]any{"apiPort": 0}}, "apiPort"},
		{"API port too big", map[string]any{"tmm": map[string]any{"apiPort": 70000}}, "apiPort"},
		{"unknown component", map[string]any{"router": map[string]any{}}, "router"},
		// The schema lets the block through; spk.ParseValues does not.
		{"unknown BGP field", map[string]any{"tmm": map[string]any{"dynamicRouting": map[string]any{
			"tmmRouting": map[string]any{"config": map[string]any{"bgp": map[string]any{"multihop": 2}}}}}}, `field "multihop" is not known here`},
		{"bad neighbor", map[string]any{"tmm": map[string]any{"dynamicRouting": map[string]any{
			"enabled": true, "tmmRouting": map[string]any{"config": map[string]any{"bgp": map[string]any{
				"neighbors": []any{map[string]any{"ip": "10.10.10.300", "asn": 200, "acceptsIPv4": true}}}}}}}}, "neighbors[0].ip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(testNS, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestRenderNotesTellHowToCheck(t *testing.T) {
	vals, err := ValuesFromTopology(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	m := mustRender(t, testNS, vals)
	for _, want := range []string{
		"kubectl -n " + testNS + " rollout status statefulset/f5-tmm",
		"kubectl -n <tenant namespace> wait --for=condition=Programmed f5-spk-ingresstcp/<name>",
		"BGP is on (TMM AS 64443): every replica peers with 192.0.2.250 2001::192:0:2:250.",
	} {
		if !strings.Contains(m.Notes, want) {
			t.Errorf("NOTES lack %q:\n%s", want, m.Notes)
		}
	}
	off := mustRender(t, testNS, map[string]any{"tmm": map[string]any{"dynamicRouting": nil}})
	if strings.Contains(off.Notes, "BGP is on") {
		t.Errorf("NOTES claim BGP without a dynamicRouting block:\n%s", off.Notes)
	}
	if got := tmmValues(t, off); got != nil {
		t.Errorf("controller values without a block: %+v, want none", got)
	}
}

func TestValuesFromTopology(t *testing.T) {
	def := topology.Default()
	vals, err := ValuesFromTopology(def)
	if err != nil {
		t.Fatal(err)
	}
	m := mustRender(t, def.SPK.Namespace, vals)
	sts := object[appsv1.StatefulSet](t, m, "StatefulSet", TMMStatefulSet)
	if *sts.Spec.Replicas != 2 || sts.Namespace != "spk-ingress" {
		t.Errorf("replicas %d namespace %s", *sts.Spec.Replicas, sts.Namespace)
	}
	if got := multusNetworks(t, sts.Spec.Template); !reflect.DeepEqual(got, []multusNetwork{{"external-net", "net1"}, {"egress-net", "net2"}}) {
		t.Errorf("networks %+v", got)
	}
	if got := tmmValues(t, m); !reflect.DeepEqual(got, spk.ValuesFromTopology(def)) {
		t.Errorf("BGP %+v", got)
	}
	// The default lab's values are the chart's defaults, but for BGP.
	plain := mustRender(t, def.SPK.Namespace, nil)
	for _, o := range []struct{ kind, name string }{{"StatefulSet", TMMStatefulSet}, {"DaemonSet", NodeAgentDaemonSet}} {
		if !reflect.DeepEqual(plain.Find(o.kind, o.name), m.Find(o.kind, o.name)) {
			t.Errorf("%s %s from the default topology differs from the chart's defaults", o.kind, o.name)
		}
	}

	seed := topology.SeedExample()
	seedVals, err := ValuesFromTopology(seed)
	if err != nil {
		t.Fatal(err)
	}
	sm := mustRender(t, seed.SPK.Namespace, seedVals)
	if n := *object[appsv1.StatefulSet](t, sm, "StatefulSet", TMMStatefulSet).Spec.Replicas; n != 1 {
		t.Errorf("seed-example replicas %d", n)
	}
	seedBGP := tmmValues(t, sm)
	if seedBGP.TMMRouting.Config.BGP.ASN != 100 || seedBGP.TMMRouting.Config.BGP.Neighbors[0].IP != "10.10.10.200" {
		t.Errorf("seed-example BGP %+v", seedBGP)
	}

	// Everything else a topology may change.
	other := topology.Default()
	other.TMM.Replicas = 3
	other.TMM.Interfaces = []topology.TMMInterface{{Name: "1.1", Network: "egress-net"}, {Name: "1.2", Network: "external-net"}}
	other.Cluster.TMMNodeLabel = "dpu=yes"
	other.Cluster.TMMNodeTaint = "dedicated:NoExecute"
	other.Images.TMM = "localhost:5000/lab/spk-tmm:v2"
	other.Images.NodeAgent = "spklab/spk-node" // no tag: the chart's appVersion
	other.TMM.BGP.Neighbors = nil
	ov, err := ValuesFromTopology(other)
	if err != nil {
		t.Fatal(err)
	}
	om := mustRender(t, "spk-other", ov)
	osts := object[appsv1.StatefulSet](t, om, "StatefulSet", TMMStatefulSet)
	pod := osts.Spec.Template.Spec
	if *osts.Spec.Replicas != 3 || !reflect.DeepEqual(pod.NodeSelector, map[string]string{"dpu": "yes"}) {
		t.Errorf("replicas %d nodeSelector %v", *osts.Spec.Replicas, pod.NodeSelector)
	}
	if got := multusNetworks(t, osts.Spec.Template); !reflect.DeepEqual(got, []multusNetwork{{"egress-net", "net1"}, {"external-net", "net2"}}) {
		t.Errorf("networks %+v", got)
	}
	wantTol := []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	if !reflect.DeepEqual(pod.Tolerations, wantTol) {
		t.Errorf("TMM tolerations %+v", pod.Tolerations)
	}
	ds := object[appsv1.DaemonSet](t, om, "DaemonSet", NodeAgentDaemonSet)
	if !reflect.DeepEqual(ds.Spec.Template.Spec.Tolerations, wantTol) {
		t.Errorf("node agent tolerations %+v", ds.Spec.Template.Spec.Tolerations)
	}
	if img := pod.Containers[0].Image; img != "localhost:5000/lab/spk-tmm:v2" {
		t.Errorf("TMM image %s", img)
	}
	if img := ds.Spec.Template.Spec.Containers[0].Image; img != "spklab/spk-node:dev" {
		t.Errorf("node agent image %s", img)
	}
	if got := tmmValues(t, om); got != nil {
		t.Errorf("no BGP neighbors gives controller values %+v, want none", got)
	}
	if err := Lint("spk-other", ov); err != nil {
		t.Error(err)
	}
}

func TestValuesFromTopologyRefuses(t *testing.T) {
	for name, change := range map[string]func(*topology.Topology){
		"digest image": func(t *topology.Topology) { t.Images.TMM = "spklab/spk-tmm@sha256:0123" },
		"bad label":    func(t *topology.Topology) { t.Cluster.TMMNodeLabel = "app" },
		"bad taint":    func(t *topology.Topology) { t.Cluster.TMMNodeTaint = "dpu=true" },
	} {
		t.Run(name, func(t *testing.T) {
			topo := topology.Default()
			change(topo)
			if _, err := ValuesFromTopology(topo); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestCRDsOfTheChart(t *testing.T) {
	ch, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := CRDs(ch)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.GetName())
	}
	sort.Strings(names)
	want := []string{"f5-spk-egresses.k8s.f5net.com", "f5-spk-ingresstcps.ingresstcp.k8s.f5net.com",
		"f5-spk-snatpools.k8s.f5net.com", "f5-spk-staticroutes.k8s.f5net.com", "f5-spk-vlans.k8s.f5net.com"}
	if !slices.Equal(names, want) {
		t.Errorf("CRDs %v, want %v", names, want)
	}
	// The controller's RBAC names exactly these resources.
	perms := permissions(t, object[rbacv1.ClusterRole](t, mustRender(t, testNS, nil), "ClusterRole", "spk-controller").Rules)
	for _, c := range crds {
		plural, group, _ := strings.Cut(c.GetName(), ".")
		for _, p := range []string{group + "/" + plural + " watch", group + "/" + plural + "/status patch"} {
			if !slices.Contains(perms, p) {
				t.Errorf("controller ClusterRole lacks %q", p)
			}
		}
	}
}
