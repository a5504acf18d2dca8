package render

import (
	"strings"
	"testing"
)

// TestNginxConfBothForms: the client image and the netns lab run one nginx
// site; the forms differ only in where nginx keeps its files.
func TestNginxConfBothForms(t *testing.T) {
	netns, err := NginxConf(NginxSite{Dir: "/run/spklab/bnk/pod-red-0", Body: "pod red-0 node bnk-worker\n", PodHeader: "red-0"})
	if err != nil {
		t.Fatal(err)
	}
	container, err := NginxConf(NginxSite{Body: "pod $hostname node @SPKLAB_NODE@\n", PodHeader: "$hostname"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pid /run/spklab/bnk/pod-red-0/nginx.pid;", "client_body_temp_path /run/spklab/bnk/pod-red-0/tmp/client_body;",
		`return 200 "pod red-0 node bnk-worker\n";`, "add_header X-Pod red-0 always;", `return 200 "$remote_addr\n";`} {
		if !strings.Contains(string(netns), want) {
			t.Errorf("netns form lacks %q:\n%s", want, netns)
		}
	}
	for _, want := range []string{"user www-data;", "pid /run/nginx.pid;", "access_log /dev/stdout;", `return 200 "pod $hostname node @SPKLAB_NODE@\n";`,
		"add_header X-Pod $hostname always;", `return 200 "$remote_addr\n";`} {
		if !strings.Contains(string(container), want) {
			t.Errorf("container form lacks %q:\n%s", want, container)
		}
	}
	if strings.Contains(string(container), "temp_path") || strings.Contains(string(netns), "www-data") {
		t.Error("the forms mixed")
	}
	if bare, _ := NginxConf(NginxSite{Dir: "/d", Body: "x"}); strings.Contains(string(bare), "X-Pod") {
		t.Error("X-Pod header without PodHeader")
	}
}
