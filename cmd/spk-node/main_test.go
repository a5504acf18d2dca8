package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/spklab/spklab/internal/netconv"
	"github.com/spklab/spklab/internal/testenv"
	"github.com/spklab/spklab/nodeagent/tenantnet"
)

func run(args ...string) error {
	cmd := newRoot()
	cmd.SetArgs(args)
	return cmd.Execute()
}

func TestFlagErrors(t *testing.T) {
	t.Setenv("NODE_NAME", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--node-name is required"},
		{[]string{"--node-name=w1", "--cluster-cidrs=10.244.0.0/16,nope"}, `--cluster-cidrs: "nope" is not a CIDR`},
		{[]string{"--node-name=w1", "--log-level=loud"}, `--log-level "loud"`},
	} {
		err := run(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// --cleanup removes what tenantnet made in the namespace it runs in, and
// needs neither a node name nor an API server.
func TestCleanup(t *testing.T) {
	testenv.RequireRoot(t)
	t.Setenv("NODE_NAME", "")
	ns := testenv.NewNetns(t, "clean")
	count := func() (devices, rules int) {
		err := ns.Do(func() error {
			links, err := netlink.LinkList()
			if err != nil {
				return err
			}
			for _, l := range links {
				if strings.HasPrefix(l.Attrs().Name, tenantnet.DevicePrefix) && l.Type() == "vxlan" {
					devices++
				}
			}
			rs, err := netlink.RuleList(netlink.FAMILY_ALL)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.Priority == tenantnet.PriorityPod || r.Priority == tenantnet.PriorityExempt {
					rules++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return devices, rules
	}
	err := ns.Do(func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth2"}, PeerName: "eth2p"}
		if err := netlink.LinkAdd(veth); err != nil {
			return err
		}
		l, err := netlink.LinkByName("eth2")
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: netconv.IPNet(netip.MustParsePrefix("198.18.100.3/24"))}); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		return tenantnet.Apply(tenantnet.Node{
			Underlay: "eth2", Local: netip.MustParseAddr("198.18.100.3"),
			Exempt: []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
			Tenants: []tenantnet.Tenant{{Name: "red", VNI: 100,
				TMMs: []netip.Addr{netip.MustParseAddr("198.18.100.201")}, Pods: []netip.Addr{netip.MustParseAddr("10.244.1.2")}}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, r := count(); d != 1 || r != 2 {
		t.Fatalf("before cleanup: %d devices, %d rules; want 1 and 2", d, r)
	}
	if err := ns.Do(func() error { return run("--cleanup", "--log-level=warn") }); err != nil {
		t.Fatalf("--cleanup: %v", err)
	}
	if d, r := count(); d != 0 || r != 0 {
		t.Errorf("after cleanup: %d devices, %d rules left", d, r)
	}
}
