package frr

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spklab/spklab/topology"
	"github.com/spklab/spklab/topology/render"
)

func TestParseDaemonsRendered(t *testing.T) {
	rendered, err := render.FRRFiles(topology.Default())
	if err != nil {
		t.Fatal(err)
	}
	files, err := FilesFrom(rendered)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := parseDaemons(files.Daemons)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	if !slices.Equal(names, []string{"zebra", "staticd", "bgpd"}) {
		t.Fatalf("daemons %q, want zebra, staticd, bgpd", names)
	}
	if !slices.Equal(specs[0].Options, []string{"-A", "127.0.0.1", "-s", "90000000"}) {
		t.Errorf("zebra options %q", specs[0].Options)
	}
	if !strings.Contains(string(files.Conf), "router bgp 65500") || !strings.Contains(string(files.VtyshConf), "integrated") {
		t.Errorf("FilesFrom picked the wrong files: %+v", files)
	}
}

func TestParseDaemons(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // "name opts..."
		wantErr string
	}{
		{in: "", want: []string{"zebra", "staticd", "bgpd"}},
		{in: "bgpd=no\n", want: []string{"zebra", "staticd"}},
		{in: "zebra=no\nstaticd=no\nbgpd=yes\n", want: []string{"zebra", "staticd", "bgpd"}},
		{in: "# comment\nbgpd=yes\nbgpd_options='-p 1179'\nfrr_profile=\"datacenter\"\nvtysh_enable=yes\n",
			want: []string{"zebra -F datacenter", "staticd -F datacenter", "bgpd -p 1179 -F datacenter"}},
		{in: "ospfd=no\nbfdd=no\nbgpd=yes\n", want: []string{"zebra", "staticd", "bgpd"}},
		{in: "ospfd=yes\n", wantErr: "ospfd=yes"},
		{in: "bgpd=yes\nbgpd_options=\"-A 127.0.0.1 -N lab1\"\n", wantErr: "may not set -N"},
		{in: "zebra_options=\"--vty_socket=/var/run/frr\"\n", wantErr: "may not set --vty_socket"},
		{in: "zebra_options=\"-i/var/run/frr/zebra.pid\"\n", wantErr: "may not set -i"},
		{in: "bgpd yes\n", wantErr: "line 1"},
	}
	for _, tc := range tests {
		specs, err := parseDaemons([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseDaemons(%q): err %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseDaemons(%q): %v", tc.in, err)
			continue
		}
		var got []string
		for _, s := range specs {
			got = append(got, strings.Join(append([]string{s.Name}, s.Options...), " "))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("parseDaemons(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestNewChecks covers what New refuses before anything runs (no root).
func TestNewChecks(t *testing.T) {
	conf := Files{Conf: []byte("router bgp 65000\n")}
	emptyBin := t.TempDir()
	_, err := New(Options{Netns: "x", RunDir: t.TempDir(), Files: conf, BinDir: emptyBin})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "apt-get install frr") || !strings.Contains(err.Error(), filepath.Join(emptyBin, "zebra")) {
		t.Errorf("no daemons: err %v, want ErrNotInstalled naming zebra and apt-get install frr", err)
	}
	// Daemons present (as empty executables) but no vtysh.
	for _, d := range supportedDaemons {
		if err := os.WriteFile(filepath.Join(emptyBin, d), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err = New(Options{Netns: "x", RunDir: t.TempDir(), Files: conf, BinDir: emptyBin, Vtysh: filepath.Join(emptyBin, "vtysh")})
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("no vtysh: err %v, want ErrNotInstalled", err)
	}
	// Daemons and vtysh but no frr-reload.py (Debian's frr without
	// frr-pythontools): refused by name, not a silent restart on reload.
	if err := os.WriteFile(filepath.Join(emptyBin, "vtysh"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = New(Options{Netns: "x", RunDir: t.TempDir(), Files: conf, BinDir: emptyBin, Vtysh: filepath.Join(emptyBin, "vtysh")})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), filepath.Join(emptyBin, "frr-reload.py")) || !strings.Contains(err.Error(), "apt-get install frr-pythontools") {
		t.Errorf("no frr-reload.py: err %v, want ErrNotInstalled naming it and apt-get install frr-pythontools", err)
	}
	if err := os.WriteFile(filepath.Join(emptyBin, "frr-reload.py"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{RunDir: "/tmp/x", Files: conf, BinDir: emptyBin}, "no network namespace"},
		{Options{Netns: "x", Files: conf, BinDir: emptyBin}, "no run dir"},
		{Options{Netns: "x", RunDir: "/tmp/x", BinDir: emptyBin}, "no frr.conf"},
		{Options{Netns: "x", RunDir: "/tmp/" + strings.Repeat("d", 100), Files: conf, BinDir: emptyBin}, "longer than 107 bytes"},
		{Options{Netns: "x", RunDir: "/tmp/x", Files: Files{Conf: conf.Conf, Daemons: []byte("isisd=yes\n")}, BinDir: emptyBin}, "isisd=yes"},
	} {
		if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): err %v, want %q", tc.opts, err, tc.want)
		}
	}
}
