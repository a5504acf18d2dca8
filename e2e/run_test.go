package e2e

import (
	"strings"
	"testing"
)

func TestLabelFilters(t *testing.T) {
	for in, want := range map[string]string{
		"":                    "!evidence-selftest",
		"  bgp ":              "(bgp) && !evidence-selftest",
		"ingress || snat":     "(ingress || snat) && !evidence-selftest",
		"evidence-selftest":   "evidence-selftest",
		"bgp, ipv6":           "(bgp, ipv6) && !evidence-selftest",
		"!disruptive && ipv4": "(!disruptive && ipv4) && !evidence-selftest",
	} {
		if got := EffectiveLabelFilter(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
		if err := CheckLabelFilter(in); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, bad := range []string{"bgp &&", "(ingress", "a || || b"} {
		if err := CheckLabelFilter(bad); err == nil || !strings.Contains(err.Error(), "label filter") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSpecDir(t *testing.T) {
	for in, want := range map[string]string{
		"bgp deleting and re-applying the red F5SPKIngressTCP withdraws the VIPs [198.19.19.100/32 2001::198:19:19:100/128] from the router within 1s": "bgp-deleting-and-re-applying-the-red-f5spkingresstcp-withdraws-the-vips-198.19.19.100-32-2001-198-19",
		"ingress the red VIP http://[2001::198:19:19:100]/ answers 200":                                                                                "ingress-the-red-vip-http-2001-198-19-19-100-answers-200",
		"../../etc": "etc",
		"":          "spec",
	} {
		if got := specDir(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParseUnixTime(t *testing.T) {
	got, err := parseUnixTime("1796686235.048680080")
	if err != nil || got.Unix() != 1796686235 || got.Nanosecond() != 48680080 {
		t.Errorf("parseUnixTime = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1796686235", "1796686235.48", "x.048680080"} {
		if _, err := parseUnixTime(bad); err == nil {
			t.Errorf("parseUnixTime(%q) accepted", bad)
		}
	}
}
