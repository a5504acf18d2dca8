package capset

import (
	"slices"
	"strings"
	"testing"
)

// statusText is the capability part of a /proc/<pid>/status of a root
// process on the lab's VMs: CAP_SYS_RESOURCE (24) is not in the bounding set.
const statusText = `Name:	bash
Umask:	0022
CapInh:	0000000000000000
CapPrm:	000001fffeffffff
CapEff:	000001fffeffffff
CapBnd:	000001fffeffffff
CapAmb:	0000000000000000
NoNewPrivs:	0
`

func TestNameTable(t *testing.T) {
	if got := len(names()); got != LastKnown+1 {
		t.Fatalf("%d names, LastKnown %d", got, LastKnown)
	}
	for n, want := range map[int]string{0: "CAP_CHOWN", 12: "CAP_NET_ADMIN", 21: "CAP_SYS_ADMIN", 24: "CAP_SYS_RESOURCE", 39: "CAP_BPF", 40: "CAP_CHECKPOINT_RESTORE", 41: "CAP_41", -1: "CAP_-1"} {
		if got := Name(n); got != want {
			t.Errorf("Name(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"CAP_SYS_RESOURCE", 24, true},
		{"cap_sys_resource", 24, true},
		{"sys_resource", 24, true},
		{" CAP_CHOWN ", 0, true},
		{"CAP_CHECKPOINT_RESTORE", 40, true},
		{"CAP_FUTURE_THING", 0, false},
		{"", 0, false},
	} {
		got, ok := Number(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Number(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseAndMissing(t *testing.T) {
	for _, tc := range []struct {
		mask    string
		last    int
		missing []string
		count   int
	}{
		{"000001fffeffffff", 40, []string{"CAP_SYS_RESOURCE"}, 40},
		{"000001ffffffffff", 40, nil, 41},
		// An older kernel (cap_last_cap 37) has no CAP_PERFMON and friends: not missing.
		{"0000003fffffffff", 37, nil, 38},
		{"000001fffcffffff", 40, []string{"CAP_SYS_RESOURCE", "CAP_SYS_TIME"}, 39},
		{"0000000000000000", 2, []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH"}, 0},
		// A kernel newer than this package: the unknown capability gets a number name.
		{"000001ffffffffff", 41, []string{"CAP_41"}, 41},
	} {
		s, err := Parse(tc.mask)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tc.mask, err)
		}
		if s.String() != tc.mask {
			t.Errorf("String() = %s, want %s", s, tc.mask)
		}
		if got := s.Missing(tc.last); !slices.Equal(got, tc.missing) {
			t.Errorf("%s Missing(%d) = %v, want %v", tc.mask, tc.last, got, tc.missing)
		}
		if got := len(s.Names()); got != tc.count {
			t.Errorf("%s has %d names, want %d", tc.mask, got, tc.count)
		}
	}
	for _, bad := range []string{"", "xyz", "1ffffffffffffffff0"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestFromStatus(t *testing.T) {
	for _, tc := range []struct {
		field, want string
	}{
		{Bounding, "000001fffeffffff"},
		{Effective, "000001fffeffffff"},
		{"CapInh", "0000000000000000"},
	} {
		s, err := FromStatus(strings.NewReader(statusText), tc.field)
		if err != nil || s.String() != tc.want {
			t.Errorf("%s = %s, %v; want %s", tc.field, s, err, tc.want)
		}
	}
	if _, err := FromStatus(strings.NewReader("Name:\tx\n"), Bounding); err == nil || !strings.Contains(err.Error(), "no CapBnd") {
		t.Errorf("missing line: %v", err)
	}
	if _, err := FromStatus(strings.NewReader("CapBnd:\tzz\n"), Bounding); err == nil {
		t.Error("bad mask accepted")
	}
}

// TestOfProcessReadsThisProcess compares /proc with what the kernel says the
// last capability is: every capability up to it is either in the set or
// reported missing, none twice.
func TestOfProcessReadsThisProcess(t *testing.T) {
	s, err := OfProcess("self", Bounding)
	if err != nil {
		t.Fatal(err)
	}
	last, err := LastCap()
	if err != nil {
		t.Fatal(err)
	}
	have := 0
	for n := 0; n <= last; n++ {
		if s.Has(n) {
			have++
		}
	}
	if have+len(s.Missing(last)) != last+1 {
		t.Errorf("CapBnd %s: %d present + %v missing != %d", s, have, s.Missing(last), last+1)
	}
	if _, err := OfProcess("no-such-pid", Bounding); err == nil {
		t.Error("no error for a missing process")
	}
}
