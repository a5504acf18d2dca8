package docker

import "testing"

func TestBridgeName(t *testing.T) {
	if got := bridgeName("bridge", "53d7c4ee2723abcdef", nil); got != "docker0" {
		t.Error(got)
	}
	if got := bridgeName("kind", "0123456789abcdef", nil); got != "br-0123456789ab" {
		t.Error(got)
	}
	if got := bridgeName("x", "0123456789abcdef", map[string]string{"com.docker.network.bridge.name": "lab0"}); got != "lab0" {
		t.Error(got)
	}
}
