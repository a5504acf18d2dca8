// Package kubetest starts a real kube-apiserver and etcd (v1.32.0, built
// from Go module sources by images/kubebin and cached) for tests, through
// controller-runtime's envtest, with the caller's CRDs installed and
// established.
//
// One API server per test:
//
//	env := kubetest.Start(t, kubetest.Options{CRDYAML: [][]byte{manifests.CRDs()}})
//	env.Client.Create(ctx, obj)
//
// One API server per package (start costs seconds), shared by its tests:
//
//	var env *kubetest.Env
//
//	func TestMain(m *testing.M) {
//		os.Exit(kubetest.RunShared(m, kubetest.Options{...}, func(e *kubetest.Env) { env = e }))
//	}
//
// Tests that share it should work in their own namespace (env.Namespace(t)).
// Nothing here needs root and nothing skips: a missing binary is built, which
// takes minutes once per machine and is logged.
package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/spklab/spklab/images/kubebin"
)

// Options say what the API server starts with.
type Options struct {
	// CRDs are installed before Start returns, waited for until established.
	CRDs []*apiextensionsv1.CustomResourceDefinition
	// CRDYAML are CRD manifests (several documents per slice allowed),
	// installed like CRDs.
	CRDYAML [][]byte
	// Scheme is the Client's scheme; nil means client-go's built-in types
	// plus apiextensions/v1. Callers add their own types to it.
	Scheme *runtime.Scheme
	// CacheDir is kubebin's cache root ("" = its default).
	CacheDir string
	// StartTimeout bounds each of etcd and kube-apiserver starting; 0 = 60s
	// (generous: parallel test packages share two cores).
	StartTimeout time.Duration
	// Log gets the binary-build and start messages; nil = slog.Default().
	Log *slog.Logger
}

// Env is a running API server.
type Env struct {
	// Config reaches the API server as an admin (system:masters).
	Config *rest.Config
	// Client uses Scheme.
	Client client.Client
	// Scheme is Options.Scheme or the default one.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file for Config, for tools.
	Kubeconfig string
	// CRDs are the installed CRDs as the API server returned them.
	CRDs []*apiextensionsv1.CustomResourceDefinition

	env    *envtest.Environment
	tmpDir string // removed by Stop when Env owns it (StartShared)
}

// Start starts an API server for t and stops it when t ends. It fails t on
// any error.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	e, err := start(t.Context(), opts, t.TempDir())
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("kubetest: %v", err)
		}
	})
	return e
}

// StartShared starts an API server that is not tied to one test (for
// TestMain); the caller must call Stop.
func StartShared(ctx context.Context, opts Options) (*Env, error) {
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	e, err := start(ctx, opts, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	e.tmpDir = dir
	return e, nil
}

// RunShared is a TestMain body: it starts one API server, hands it to use,
// runs the tests, stops the server and returns the exit code for os.Exit.
// A failed start is reported and makes every test of the package fail.
func RunShared(m *testing.M, opts Options, use func(*Env)) int {
	e, err := StartShared(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	use(e)
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// Stop stops kube-apiserver and etcd and removes their data.
func (e *Env) Stop() error {
	err := e.env.Stop()
	if e.tmpDir != "" {
		err = errors.Join(err, os.RemoveAll(e.tmpDir))
	}
	if err != nil {
		return fmt.Errorf("stopping the API server: %w", err)
	}
	return nil
}

// Namespace creates a namespace with a fresh name for t and returns the
// name; it is deleted when t ends (it stays Terminating: no namespace
// controller runs, which is harmless).
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("kubetest: creating a namespace: %v", err)
	}
	t.Cleanup(func() { _ = e.Client.Delete(context.Background(), ns) })
	return ns.Name
}

func start(ctx context.Context, opts Options, tmpDir string) (*Env, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	crds := append([]*apiextensionsv1.CustomResourceDefinition(nil), opts.CRDs...)
	for i, doc := range opts.CRDYAML {
		parsed, err := ParseCRDs(doc)
		if err != nil {
			return nil, fmt.Errorf("CRD manifest %d: %w", i, err)
		}
		crds = append(crds, parsed...)
	}
	scheme := opts.Scheme
	if scheme == nil {
		scheme = runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			return nil, err
		}
		if err := apiextensionsv1.AddToScheme(scheme); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}

	binDir, err := kubebin.Ensure(ctx, kubebin.Options{CacheDir: opts.CacheDir, Log: log}, kubebin.EnvtestNames()...)
	if err != nil {
		return nil, err
	}
	for _, v := range []string{"KUBEBUILDER_ASSETS", "TEST_ASSET_KUBE_APISERVER", "TEST_ASSET_ETCD"} {
		if os.Getenv(v) != "" {
			log.Warn("kubetest: envtest takes the binaries from $"+v+", not from "+binDir, "value", os.Getenv(v))
		}
	}

	env := &envtest.Environment{
		BinaryAssetsDirectory:    binDir,
		Scheme:                   scheme,
		CRDs:                     crds,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  timeout,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: timeout},
	}
	begin := time.Now()
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", binDir, err)
	}
	e := &Env{Config: cfg, Scheme: scheme, env: env}
	fail := func(err error) (*Env, error) {
		_ = env.Stop()
		return nil, err
	}
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return fail(fmt.Errorf("client: %w", err))
	}
	if e.CRDs, err = waitEstablished(ctx, cfg, env.CRDs, timeout); err != nil {
		return fail(err)
	}
	e.Kubeconfig = filepath.Join(tmpDir, "kubeconfig")
	if err := writeKubeconfig(cfg, e.Kubeconfig); err != nil {
		return fail(err)
	}
	log.Info("kubetest: API server ready", "host", cfg.Host, "crds", len(crds), "took", time.Since(begin).Round(time.Millisecond))
	return e, nil
}

// waitEstablished polls until every CRD has Established=True (envtest only
// waits for discovery) and returns them as stored.
func waitEstablished(ctx context.Context, cfg *rest.Config, crds []*apiextensionsv1.CustomResourceDefinition, timeout time.Duration) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	if len(crds) == 0 {
		return nil, nil
	}
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(crds))
	for _, want := range crds {
		got := &apiextensionsv1.CustomResourceDefinition{}
		for {
			err := c.Get(ctx, types.NamespacedName{Name: want.Name}, got)
			if err == nil && established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("CRD %s not established: %w (last error: %v)", want.Name, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
		out = append(out, got)
	}
	return out, nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// ParseCRDs decodes a YAML or JSON stream of CustomResourceDefinitions
// (empty documents are skipped; any other kind is an error).
func ParseCRDs(data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*apiextensionsv1.CustomResourceDefinition
	for i := 0; ; i++ {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if crd.Kind == "" && crd.Name == "" {
			continue // an empty document
		}
		if crd.Kind != "CustomResourceDefinition" || crd.APIVersion != apiextensionsv1.SchemeGroupVersion.String() {
			return nil, fmt.Errorf("document %d (%q) is %s %s, want %s CustomResourceDefinition", i, crd.Name, crd.APIVersion, crd.Kind, apiextensionsv1.SchemeGroupVersion)
		}
		out = append(out, crd)
	}
}

// writeKubeconfig saves cfg (client-certificate auth, as envtest sets it
// up) as a kubeconfig file.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
