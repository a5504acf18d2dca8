package kubebin

// binary says how to build one program from a wrapper module.
type binary struct {
	name    string
	version string // upstream release, part of the cache entry's name
	wrapper string // directory under wrappers/ holding go.mod.txt and go.sum.txt
	pkg     string // main package to build
	// stamps are -X linker settings (package.var → value).
	stamps map[string]string
	// dateStamps receive the build time; they are left out of the cache
	// hash so that rebuilding is never triggered by the clock.
	dateStamps []string
}

// Kubernetes v1.32.0: the tag's commit, as the official binaries report it.
const (
	kubeVersion = "v1.32.0"
	kubeCommit  = "70d3cc986aa8221cd1dfb1121852688902d3bf53"
	etcdVersion = "3.5.16"
	// The commit of etcd's server/v3.5.16 tag (from the module proxy's origin record).
	etcdCommit = "f20bbadd404b57c776d1e8876cefd1ac29b03fb5"
	// CoreDNS v1.11.3 is what kubeadm v1.32.0 deploys; its tag's commit.
	corednsVersion = "v1.11.3"
	corednsCommit  = "a7ed346585e30b99317d36e4d007b7b19a228ea5"
)

// catalog is the table of buildable binaries. Adding another Kubernetes
// program (kubelet, kubeadm, kubectl, kube-controller-manager,
// kube-scheduler, kube-proxy: the kubernetes wrapper already lists them as
// tools, so its go.sum covers them) is one kube("…") row; a program from
// another module needs a wrapper directory and one row.
func catalog() map[string]binary {
	rows := []binary{
		kube("kube-apiserver"),
		// The controller tests run `kubectl wait --for=condition=Programmed`
		// itself: the semantics students rely on, not a re-implementation.
		kube("kubectl"),
		// The kind node image (images/kindnode) carries the rest of a
		// kubeadm node: kubelet and kubeadm on the node, the others as images.
		kube("kubelet"),
		kube("kubeadm"),
		kube("kube-controller-manager"),
		kube("kube-scheduler"),
		kube("kube-proxy"),
		{
			name: "etcd", version: etcdVersion, wrapper: "etcd", pkg: "go.etcd.io/etcd/server/v3",
			stamps: map[string]string{"go.etcd.io/etcd/api/v3/version.GitSHA": etcdCommit[:7]},
		},
		{
			name: "coredns", version: corednsVersion, wrapper: "coredns", pkg: "github.com/coredns/coredns",
			stamps: map[string]string{"github.com/coredns/coredns/coremain.GitCommit": corednsCommit[:7]},
		},
	}
	m := make(map[string]binary, len(rows))
	for _, r := range rows {
		m[r.name] = r
	}
	return m
}

// kube describes a program under k8s.io/kubernetes/cmd, stamped the way
// Kubernetes' hack/lib/version.sh does it, so that `--version` and the API
// server's /version say v1.32.0 instead of v0.0.0-master.
func kube(name string) binary {
	stamps := map[string]string{}
	var dates []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		stamps[pkg+".gitVersion"] = kubeVersion
		stamps[pkg+".gitMajor"] = "1"
		stamps[pkg+".gitMinor"] = "32"
		stamps[pkg+".gitCommit"] = kubeCommit
		stamps[pkg+".gitTreeState"] = "clean"
		dates = append(dates, pkg+".buildDate")
	}
	return binary{
		name:       name,
		version:    kubeVersion,
		wrapper:    "kubernetes",
		pkg:        "k8s.io/kubernetes/cmd/" + name,
		stamps:     stamps,
		dateStamps: dates,
	}
}
