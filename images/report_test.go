package images

import (
	"strings"
	"testing"
)

func TestWriteTable(t *testing.T) {
	base := img("base")
	up := img("calico")
	up.Pull, up.Purpose = "docker.io/calico/node:v3.30.1", "the CNI"
	rows := Rows([]State{
		{Image: base, Inputs: "0123456789abcdef0123", Present: true, Current: true, Size: 71_400_000, ID: "sha256:aa"},
		{Image: img("stale"), Inputs: "ffff", Present: true},
		{Image: img("gone"), Inputs: "eeee"},
		{Image: up, Inputs: "dddd", Present: true, Current: true, Pulled: true, Size: 263_000_000},
	})
	var b strings.Builder
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := `NAME    REF            STATE    OBTAIN      INPUTS        SIZE   PURPOSE
base    test/base:1    current  build       0123456789ab  71MB
stale   test/stale:1   stale    build       ffff          0MB
gone    test/gone:1    missing  build       eeee          -
calico  test/calico:1  pulled   pull|build  dddd          263MB  the CNI
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
