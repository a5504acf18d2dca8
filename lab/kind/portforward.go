package kind

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// portForwardWait bounds the wait for a port-forward to listen.
const portForwardWait = 20 * time.Second

// forward is a local port forwarded to a pod's port through the API
// server (as kubectl port-forward), open until stop is called. It outlives
// container restarts: the pod's network namespace stays.
type forward struct {
	Local string // 127.0.0.1:port
	stop  chan struct{}
}

func (f *forward) Close() { close(f.stop) }

func portForward(cfg *rest.Config, namespace, pod string, port int) (*forward, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: API server %q: %w", namespace, pod, cfg.Host, err)
	}
	u := host.JoinPath(cfg.APIPath, "api", "v1", "namespaces", namespace, "pods", pod, "portforward")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	f := &forward{stop: make(chan struct{})}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	failed := make(chan error, 1)
	go func() { failed <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-failed:
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, err)
	case <-time.After(portForwardWait):
		f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: not listening after %s", namespace, pod, port, portForwardWait)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: no local port (%v)", namespace, pod, port, err)
	}
	f.Local = "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))
	return f, nil
}
