package kindlab

import (
	"encoding/json"
	"testing"

	"github.com/docker/docker/api/types/network"

	"github.com/spklab/spklab/topology/render"
)

func TestAnnotationValue(t *testing.T) {
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", IPPrefixLen: 24, GlobalIPv6Address: "2001::198:18:100:3", GlobalIPv6PrefixLen: 112}
	var got map[string]string
	if err := json.Unmarshal([]byte(annotationValue(ep)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ipv4"] != "198.18.100.3/24" || got["ipv6"] != "2001::198:18:100:3/112" {
		t.Fatalf("annotation %v", got)
	}
	if v := annotationValue(&network.EndpointSettings{IPAddress: "192.0.2.3", IPPrefixLen: 24}); v != `{"ipv4":"192.0.2.3/24"}` {
		t.Fatalf("v4 only: %s", v)
	}
}

func TestPinnedMismatch(t *testing.T) {
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", GlobalIPv6Address: "2001::198:18:100:3"}
	for _, c := range []struct {
		a     render.NodeAttachmentSpec
		wrong bool
	}{
		{render.NodeAttachmentSpec{}, false},
		{render.NodeAttachmentSpec{IPv4: "198.18.100.3", IPv6: "2001:0:0:0:198:18:100:3"}, false}, // same address, other spelling
		{render.NodeAttachmentSpec{IPv4: "198.18.100.4"}, true},
		{render.NodeAttachmentSpec{IPv6: "2001::198:18:100:4"}, true},
	} {
		if got := pinnedMismatch(c.a, ep); (got != "") != c.wrong {
			t.Errorf("%+v: %q", c.a, got)
		}
	}
}

func TestMissingAddrs(t *testing.T) {
	var ifc ifaceInfo
	if err := json.Unmarshal([]byte(`{"ifname":"eth2","address":"02:42:c6:12:64:03","addr_info":[
		{"family":"inet","local":"198.18.100.3","scope":"global"},
		{"family":"inet6","local":"fe80::42:c6ff:fe12:6403","scope":"link"}]}`), &ifc); err != nil {
		t.Fatal(err)
	}
	ep := &network.EndpointSettings{IPAddress: "198.18.100.3", IPPrefixLen: 24, GlobalIPv6Address: "2001::198:18:100:3", GlobalIPv6PrefixLen: 112}
	got := missingAddrs(ifc, ep)
	if len(got) != 1 || got[0] != "2001::198:18:100:3/112" {
		t.Fatalf("missing %v, want the IPv6 address only (link-local does not count)", got)
	}
}
