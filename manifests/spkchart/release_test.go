package spkchart

import (
	"context"
	"crypto/tls"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/spklab/spklab/images/kubebin/kubetest"
	"github.com/spklab/spklab/internal/apicerts"
	"github.com/spklab/spklab/spk"
	"github.com/spklab/spklab/topology"
)

// releaseObjects are what an installed release must have in the cluster.
func releaseObjects(ns string) []client.Object {
	meta := func(o client.Object, namespaced bool, name string) client.Object {
		o.SetName(name)
		if namespaced {
			o.SetNamespace(ns)
		}
		return o
	}
	return []client.Object{
		meta(&appsv1.StatefulSet{}, true, TMMStatefulSet),
		meta(&corev1.Service{}, true, "f5-tmm"),
		meta(&corev1.ServiceAccount{}, true, "f5-tmm"),
		meta(&appsv1.Deployment{}, true, ControllerDeployment),
		meta(&corev1.ServiceAccount{}, true, "spk-controller"),
		meta(&corev1.Secret{}, true, ValuesSecret),
		meta(&corev1.Secret{}, true, TMMAPIServerSecret),
		meta(&corev1.Secret{}, true, TMMAPIClientSecret),
		meta(&networkingv1.NetworkPolicy{}, true, "f5-tmm-api"),
		meta(&rbacv1.ClusterRole{}, false, "spk-controller"),
		meta(&rbacv1.ClusterRoleBinding{}, false, "spk-controller"),
		meta(&rbacv1.Role{}, true, "spk-controller"),
		meta(&rbacv1.RoleBinding{}, true, "spk-controller"),
		meta(&appsv1.DaemonSet{}, true, NodeAgentDaemonSet),
		meta(&corev1.ServiceAccount{}, true, "spk-node"),
		meta(&rbacv1.ClusterRole{}, false, "spk-node"),
		meta(&rbacv1.ClusterRoleBinding{}, false, "spk-node"),
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// clusterTMMValues reads the controller's values file from the cluster.
func clusterTMMValues(t *testing.T, ctx context.Context, c client.Client, ns string) *spk.DynamicRouting {
	t.Helper()
	var sec corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ValuesSecret}, &sec); err != nil {
		t.Fatal(err)
	}
	dr, err := spk.ParseValues("secret", sec.Data[ValuesKey])
	if err != nil {
		t.Fatalf("Secret in the cluster: %v", err)
	}
	if dr != nil {
		dr.Source = ""
	}
	return dr
}

func wantRelease(t *testing.T, rel *release.Release, err error, revision int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if rel == nil || rel.Version != revision || rel.Info.Status != release.StatusDeployed {
		t.Fatalf("release %+v, want revision %d deployed", rel, revision)
	}
}

// The chart through the Helm SDK against a real kube-apiserver: install,
// idempotent re-apply, upgrade with changed values, recovery from an
// interrupted run, refused values, RBAC as the API server evaluates it, and
// uninstall.
func TestReleaseLifecycle(t *testing.T) {
	env := kubetest.Start(t, kubetest.Options{Log: testLogger(t)})
	ctx := t.Context()
	const ns = "spk-ingress"
	c, err := New(env.Config, Options{Namespace: ns, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := c.Release(ctx); err != nil || rel != nil {
		t.Fatalf("Release before install = %v, %v; want none", rel, err)
	}

	// Install: the default lab.
	def := topology.Default()
	vals, err := ValuesFromTopology(def)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := c.Apply(ctx, vals)
	wantRelease(t, rel, err, 1)
	ch, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := CRDs(ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) == 0 {
		t.Fatal("the chart has no CRDs")
	}
	for _, want := range crds {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: want.GetName()}, &crd); err != nil {
			t.Fatalf("CRD %s: %v", want.GetName(), err)
		}
		if missing := crdNotReady(&crd); missing != "" {
			t.Errorf("CRD %s: %s not true", crd.Name, missing)
		}
	}
	for _, o := range releaseObjects(ns) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
			t.Errorf("after install: %T %s: %v", o, o.GetName(), err)
		}
	}
	if got := clusterTMMValues(t, ctx, env.Client, ns); !reflect.DeepEqual(got, spk.ValuesFromTopology(def)) {
		t.Errorf("controller values in the cluster %+v", got)
	}
	var sts appsv1.StatefulSet
	stsKey := client.ObjectKey{Namespace: ns, Name: TMMStatefulSet}
	if err := env.Client.Get(ctx, stsKey, &sts); err != nil {
		t.Fatal(err)
	}
	generation := sts.Generation

	// The same values again: a new revision that changes nothing.
	rel, err = c.Apply(ctx, vals)
	wantRelease(t, rel, err, 2)
	if err := env.Client.Get(ctx, stsKey, &sts); err != nil {
		t.Fatal(err)
	}
	if sts.Generation != generation {
		t.Errorf("re-applying the same values changed the StatefulSet (generation %d → %d)", generation, sts.Generation)
	}

	// Upgrade: more replicas, other NADs, the seed's BGP block.
	changed := valuesFile(t, "testdata/seed-values.yaml")
	tmm := changed["tmm"].(map[string]any)
	tmm["replicas"] = 3
	tmm["networks"] = []any{"ext-a", "egr-b"}
	rel, err = c.Apply(ctx, changed)
	wantRelease(t, rel, err, 3)
	if err := env.Client.Get(ctx, stsKey, &sts); err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 3 || !strings.Contains(sts.Spec.Template.Annotations["k8s.v1.cni.cncf.io/networks"], `"name":"egr-b"`) {
		t.Errorf("after upgrade: replicas %d, networks %s", *sts.Spec.Replicas, sts.Spec.Template.Annotations["k8s.v1.cni.cncf.io/networks"])
	}
	seed, err := spk.LoadValues("testdata/seed-values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seed.Source = ""
	if got := clusterTMMValues(t, ctx, env.Client, ns); !reflect.DeepEqual(got, seed) {
		t.Errorf("controller values after upgrade %+v, want the seed's %+v", got, seed)
	}

	// Refused values change nothing.
	if _, err := c.Apply(ctx, map[string]any{"tmm": map[string]any{"replicas": 0}}); err == nil {
		t.Error("Apply accepted replicas 0")
	}
	if rel, err := c.Release(ctx); err != nil || rel.Version != 3 {
		t.Errorf("after refused values: release %v, %v; want revision 3", rel, err)
	}

	// A run interrupted mid-upgrade leaves the release pending; Apply converges.
	cfg, err := c.actionConfig()
	if err != nil {
		t.Fatal(err)
	}
	last, err := cfg.Releases.Last(DefaultReleaseName)
	if err != nil {
		t.Fatal(err)
	}
	last.SetStatus(release.StatusPendingUpgrade, "interrupted by the test")
	if err := cfg.Releases.Update(last); err != nil {
		t.Fatal(err)
	}
	rel, err = c.Apply(ctx, changed)
	wantRelease(t, rel, err, 4)

	// The same release through a kubeconfig file.
	byFile, err := NewFromKubeconfig(env.Kubeconfig, Options{Namespace: ns, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := byFile.Release(ctx); err != nil || rel == nil || rel.Version != 4 {
		t.Errorf("Release through the kubeconfig = %v, %v; want revision 4", rel, err)
	}

	checkRBAC(t, ctx, env.Client, ns)

	// Uninstall removes every object of the release but not the CRDs.
	if err := byFile.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, o := range releaseObjects(ns) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("after uninstall: %T %s: %v, want not found", o, o.GetName(), err)
		}
	}
	if rel, err := c.Release(ctx); err != nil || rel != nil {
		t.Errorf("Release after uninstall = %v, %v; want none", rel, err)
	}
	if err := c.Uninstall(ctx); err != nil {
		t.Errorf("second Uninstall: %v", err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := env.Client.Get(ctx, client.ObjectKey{Name: crds[0].GetName()}, &crd); err != nil {
		t.Errorf("CRD %s after uninstall: %v", crds[0].GetName(), err)
	}

	// And it installs again.
	rel, err = c.Apply(ctx, nil)
	wantRelease(t, rel, err, 1)
}

func crdNotReady(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, want := range []apiextensionsv1.CustomResourceDefinitionConditionType{apiextensionsv1.Established, apiextensionsv1.NamesAccepted} {
		ok := false
		for _, c := range crd.Status.Conditions {
			ok = ok || (c.Type == want && c.Status == apiextensionsv1.ConditionTrue)
		}
		if !ok {
			return string(want)
		}
	}
	return ""
}

// checkRBAC asks the API server what each service account of the release
// may do.
func checkRBAC(t *testing.T, ctx context.Context, c client.Client, ns string) {
	t.Helper()
	type access struct {
		sa, ns, verb, group, resource, sub string
		allowed                            bool
	}
	const f5, ingress = "k8s.f5net.com", "ingresstcp.k8s.f5net.com"
	for _, a := range []access{
		{"spk-controller", "", "list", f5, "f5-spk-vlans", "", true},
		{"spk-controller", "red", "watch", f5, "f5-spk-snatpools", "", true},
		{"spk-controller", "red", "patch", ingress, "f5-spk-ingresstcps", "status", true},
		{"spk-controller", "red", "update", f5, "f5-spk-egresses", "status", true},
		{"spk-controller", "", "watch", "discovery.k8s.io", "endpointslices", "", true},
		{"spk-controller", "", "get", "", "nodes", "", true},
		{"spk-controller", "red", "create", "events.k8s.io", "events", "", true},
		{"spk-controller", ns, "list", "", "pods", "", true},
		{"spk-controller", ns, "update", "coordination.k8s.io", "leases", "", true},
		{"spk-controller", "red", "update", f5, "f5-spk-vlans", "", false},
		{"spk-controller", "red", "create", ingress, "f5-spk-ingresstcps", "", false},
		{"spk-controller", ns, "get", "", "secrets", "", false},
		{"spk-controller", "red", "list", "", "pods", "", false},
		{"spk-controller", "red", "create", "coordination.k8s.io", "leases", "", false},
		{"spk-controller", "red", "delete", "", "events", "", false},
		{"spk-controller", "", "update", "", "nodes", "", false},
		{"spk-node", "red", "watch", "", "pods", "", true},
		{"spk-node", "", "get", "", "nodes", "", true},
		{"spk-node", "red", "list", f5, "f5-spk-egresses", "", true},
		{"spk-node", ns, "watch", f5, "f5-spk-vlans", "", true},
		{"spk-node", "", "list", "", "nodes", "", false},
		{"spk-node", "default", "create", "", "events", "", true},
		{"spk-node", "default", "delete", "", "events", "", false},
		{"spk-node", ns, "patch", f5, "f5-spk-vlans", "status", false},
		{"spk-node", "red", "list", "", "services", "", false},
		{"spk-node", ns, "get", "", "secrets", "", false},
		{"f5-tmm", ns, "get", "", "pods", "", false},
		{"f5-tmm", ns, "get", "", "configmaps", "", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + ns + ":" + a.sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.ns, Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.sub,
			},
		}}
		if err := c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != a.allowed {
			t.Errorf("%s %s %s/%s/%s in %q: allowed %v, want %v (%s)", a.sa, a.verb, a.group, a.resource, a.sub, a.ns,
				sar.Status.Allowed, a.allowed, sar.Status.Reason)
		}
	}
}

// The TMM API's certificates: made into two Secrets by the first Apply, a
// pair that completes a mutual-TLS handshake under the name the controller
// verifies; kept by the next Apply (nothing rolls); replaced together when
// one is missing (the pods roll: the fingerprint on their templates
// changes); removed by Uninstall.
func TestReleaseAPICertificates(t *testing.T) {
	env := kubetest.Start(t, kubetest.Options{Log: testLogger(t)})
	ctx := t.Context()
	const ns = "spk-ingress"
	c, err := New(env.Config, Options{Namespace: ns, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := ValuesFromTopology(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	identities := func() (server, client apicerts.Identity, versions string) {
		t.Helper()
		var ids [2]apicerts.Identity
		for i, name := range []string{TMMAPIServerSecret, TMMAPIClientSecret} {
			var s corev1.Secret
			if err := env.Client.Get(ctx, clientKey(ns, name), &s); err != nil {
				t.Fatalf("Secret %s: %v", name, err)
			}
			if s.Type != corev1.SecretTypeTLS {
				t.Errorf("Secret %s has type %s", name, s.Type)
			}
			ids[i] = SecretIdentity(&s)
			versions += s.ResourceVersion + " "
		}
		return ids[0], ids[1], versions
	}
	rolled := func() string {
		t.Helper()
		var sts appsv1.StatefulSet
		var d appsv1.Deployment
		if err := env.Client.Get(ctx, clientKey(ns, TMMStatefulSet), &sts); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(ctx, clientKey(ns, ControllerDeployment), &d); err != nil {
			t.Fatal(err)
		}
		a, b := sts.Spec.Template.Annotations["spklab.io/api-tls-ca"], d.Spec.Template.Annotations["spklab.io/api-tls-ca"]
		if a == "" || a != b {
			t.Errorf("pod template annotations spklab.io/api-tls-ca: TMM %q, controller %q", a, b)
		}
		return a
	}

	rel, err := c.Apply(ctx, vals)
	wantRelease(t, rel, err, 1)
	server, client, versions := identities()
	serverTLS, err := apicerts.ServerConfig(server)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := apicerts.ClientConfig(client, TMMAPIServerName(ns))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if conn, err := l.Accept(); err == nil {
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	conn, err := tls.Dial("tcp", l.Addr().String(), clientTLS)
	if err == nil {
		err = conn.Handshake()
		conn.Close()
	}
	l.Close()
	if err != nil {
		t.Fatalf("the installed pair does not shake hands under %s: %v", TMMAPIServerName(ns), err)
	}
	first := rolled()

	rel, err = c.Apply(ctx, vals)
	wantRelease(t, rel, err, 2)
	if _, _, again := identities(); again != versions {
		t.Errorf("a second Apply rewrote good certificates (resource versions %s → %s)", versions, again)
	}
	if rolled() != first {
		t.Error("a second Apply rolled the pods")
	}

	var lost corev1.Secret
	if err := env.Client.Get(ctx, clientKey(ns, TMMAPIClientSecret), &lost); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, &lost); err != nil {
		t.Fatal(err)
	}
	rel, err = c.Apply(ctx, vals)
	wantRelease(t, rel, err, 3)
	newServer, newClient, _ := identities()
	if apicerts.SameCA(newServer, server) || !apicerts.SameCA(newServer, newClient) {
		t.Error("a lost client Secret did not give a new pair under one new CA")
	}
	if rolled() == first {
		t.Error("new certificates did not roll the pods")
	}

	if err := c.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{TMMAPIServerSecret, TMMAPIClientSecret} {
		var s corev1.Secret
		if err := env.Client.Get(ctx, clientKey(ns, name), &s); !apierrors.IsNotFound(err) {
			t.Errorf("Secret %s after uninstall: %v", name, err)
		}
	}
}

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }
