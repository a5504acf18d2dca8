package spkchart

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// restGetter hands Helm a *rest.Config (Helm asks for a kubeconfig-shaped
// RESTClientGetter). The namespace is the release namespace: Helm puts
// namespaced objects that name none there. One getter serves one operation,
// so its discovery cache never outlives a CRD change.
type restGetter struct {
	config    *rest.Config
	namespace string

	once      sync.Once
	discovery discovery.CachedDiscoveryInterface
	err       error
}

func newRESTGetter(config *rest.Config, namespace string) *restGetter {
	return &restGetter{config: burstConfig(config), namespace: namespace}
}

// burstConfig is a copy of config with room for a burst: a release is many
// requests at once, and client-go's default of 5/s throttles it for seconds.
func burstConfig(config *rest.Config) *rest.Config {
	c := rest.CopyConfig(config)
	if c.QPS == 0 {
		c.QPS, c.Burst = 50, 100
	}
	return c
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.once.Do(func() {
		var dc *discovery.DiscoveryClient
		dc, g.err = discovery.NewDiscoveryClientForConfig(g.config)
		if g.err == nil {
			g.discovery = memory.NewMemCacheClient(dc)
		}
	})
	return g.discovery, g.err
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil), nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return namespacedConfig{g} }

// namespacedConfig is the part of a kubeconfig Helm reads through the
// getter: the REST config and the default namespace.
type namespacedConfig struct{ g *restGetter }

func (c namespacedConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, nil
}

func (c namespacedConfig) ClientConfig() (*rest.Config, error) { return c.g.ToRESTConfig() }

func (c namespacedConfig) Namespace() (string, bool, error) { return c.g.namespace, true, nil }

// ConfigAccess is nil: there is no kubeconfig file to edit.
func (c namespacedConfig) ConfigAccess() clientcmd.ConfigAccess { return nil }
