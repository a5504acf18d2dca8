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
// server (as kubectl port-forward), open until stop is called or its
// connection to the pod is lost (client-go ends a forward then; a killed
// container can take the connection with it), which closes done.
type forward struct {
	Local string // 127.0.0.1:port
	stop  chan struct{}
	done  chan struct{}
}

// lost reports whether the forward has ended.
func (f *forward) lost() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
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
	f := &forward{stop: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stop, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", namespace, pod, err)
	}
	failed := make(chan error, 1)
	go func() {
		defer close(f.done)
		failed <- pf.ForwardPorts()
	}()
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
