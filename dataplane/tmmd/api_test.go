package tmmd

import (
	"strings"
	"testing"
)

// An API address that other hosts can reach must have TLS; a unix socket
// and loopback may be in the clear.
func TestCheckAPIs(t *testing.T) {
	for _, ok := range [][]string{
		{"unix:/run/spk-tmm/api.sock"},
		{"127.0.0.1:9443", "[::1]:9443", "localhost:9443"},
		nil,
	} {
		if err := checkAPIs(ok, false); err != nil {
			t.Errorf("%v without TLS: %v", ok, err)
		}
	}
	for _, bad := range []string{":9443", "0.0.0.0:9443", "10.244.1.5:9443", "[::]:9443"} {
		err := checkAPIs([]string{"unix:/x.sock", bad}, false)
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "--api-tls") {
			t.Errorf("%s without TLS: %v", bad, err)
		}
		if err := checkAPIs([]string{bad}, true); err != nil {
			t.Errorf("%s with TLS: %v", bad, err)
		}
	}
	if err := checkAPIs([]string{"9443"}, false); err == nil {
		t.Error("an address without a port was taken")
	}
}
