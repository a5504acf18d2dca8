package doctor

import (
	"errors"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/internal/testenv"
)

func TestJudgeLinks(t *testing.T) {
	types := linkTypes()
	all := func(missing ...string) map[string]error {
		res := map[string]error{}
		for _, lt := range types {
			res[lt.Kind] = nil
		}
		for _, m := range missing {
			res[m] = errors.New("operation not supported")
		}
		return res
	}
	for _, tc := range []struct {
		missing []string
		status  Status
		want    string
	}{
		{nil, StatusOK, "veth, bridge, macvlan, vxlan, dummy, vlan"},
		{[]string{"dummy", "vlan"}, StatusWarn, "cannot make dummy, vlan devices"},
		{[]string{"vxlan", "dummy"}, StatusFail, "cannot make vxlan devices"},
	} {
		r := judgeLinks(types, all(tc.missing...))
		if r.Status != tc.status || !strings.Contains(r.Finding, tc.want) {
			t.Errorf("missing %v: %s %q, want %s with %q", tc.missing, r.Status, r.Finding, tc.status, tc.want)
		}
		for _, m := range tc.missing {
			if !strings.Contains(r.Explanation, m+" (operation not supported)") {
				t.Errorf("missing %v: explanation %q does not name %s", tc.missing, r.Explanation, m)
			}
		}
	}
}

func TestTryLinkTypesLeavesNothing(t *testing.T) {
	testenv.RequireRoot(t)
	res, err := tryLinkTypes(linkTypes())
	if err != nil {
		t.Fatal(err)
	}
	// What the lab cannot do without works on every machine CI runs on.
	for _, kind := range []string{"veth", "bridge", "macvlan", "vxlan"} {
		if res[kind] != nil {
			t.Errorf("%s: %v", kind, res[kind])
		}
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "spkdoc-") {
			t.Errorf("%s was left in the host's namespace", l.Attrs().Name)
		}
	}
}
