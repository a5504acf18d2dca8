package spk

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// orders are every order of n list positions.
func orders(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, rest := range orders(n - 1) {
		for i := 0; i <= len(rest); i++ {
			o := slices.Insert(slices.Clone(rest), i, n-1)
			out = append(out, o)
		}
	}
	return out
}

func reordered[T any](in []T, order []int) []T {
	out := make([]T, 0, len(in))
	for _, i := range order {
		out = append(out, in[i])
	}
	return out
}

// TestNewerCRNeverTakesAClaim: blue/dup-vip is created after red's ingress
// for red's VIP and port, and its namespace sorts first. Whatever order
// the objects are listed in, red keeps the VIP (its members serve it) and
// the blue object is rejected naming red's; the same for a VXLAN key and
// for a snatpool name.
func TestNewerCRNeverTakesAClaim(t *testing.T) {
	base := labObjects(t)
	created := func(m *metav1.ObjectMeta, at int) {
		m.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, at, 0, time.UTC))
	}
	for i := range base.Ingresses {
		created(&base.Ingresses[i].ObjectMeta, i)
	}
	for i := range base.Egresses {
		created(&base.Egresses[i].ObjectMeta, i)
	}
	for i := range base.Snatpools {
		created(&base.Snatpools[i].ObjectMeta, i)
	}
	red := slices.IndexFunc(base.Ingresses, func(in F5SPKIngressTCP) bool { return in.Namespace == "red" })
	dup := *base.Ingresses[red].DeepCopy()
	dup.Namespace, dup.Name = "blue", "dup-vip"
	created(&dup.ObjectMeta, 60)
	base.Ingresses = append(base.Ingresses, dup)

	redEgress := slices.IndexFunc(base.Egresses, func(e F5SPKEgress) bool { return e.Namespace == "red" })
	dupKey := *base.Egresses[redEgress].DeepCopy()
	dupKey.Namespace, dupKey.Name = "aaa", "dup-key"
	dupKey.Spec.EgressSnatpool = ""
	dupKey.Spec.SNATType = SNATAutomap
	created(&dupKey.ObjectMeta, 60)
	base.Egresses = append(base.Egresses, dupKey)

	dupPool := *base.Snatpools[0].DeepCopy()
	dupPool.Namespace, dupPool.Name = "aaa", "dup-pool"
	created(&dupPool.ObjectMeta, 60)
	base.Snatpools = append(base.Snatpools, dupPool)

	if len(base.Ingresses) != 3 || len(base.Egresses) != 3 || len(base.Snatpools) != 3 {
		t.Fatalf("want 3 objects of each kind, have %d ingresses, %d egresses, %d snatpools", len(base.Ingresses), len(base.Egresses), len(base.Snatpools))
	}
	for _, order := range orders(3) {
		o := *base
		o.Ingresses = reordered(base.Ingresses, order)
		o.Egresses = reordered(base.Egresses, order)
		o.Snatpools = reordered(base.Snatpools, order)
		out := Compile(&o, 2)
		for key, holder := range map[string]string{
			"F5SPKIngressTCP blue/dup-vip": `"red/red-ingress"`,
			"F5SPKEgress aaa/dup-key":      `red/`,
			"F5SPKSnatpool aaa/dup-pool":   base.Snatpools[0].Namespace + "/" + base.Snatpools[0].Name,
		} {
			if why := out.Rejected[key]; !strings.Contains(why, "already used by") || !strings.Contains(why, holder) {
				t.Errorf("order %v: %s: rejected %q, want it rejected naming the holder %s", order, key, why, holder)
			}
		}
		for _, cfg := range out.Configs {
			for _, vs := range cfg.VirtualServers {
				if vs.Name == "blue/dup-vip" {
					t.Errorf("order %v: replica %d serves blue/dup-vip", order, cfg.Replica)
				}
			}
			for _, tn := range cfg.Tenants {
				if tn.Name == "aaa/dup-key" {
					t.Errorf("order %v: replica %d has tenant aaa/dup-key", order, cfg.Replica)
				}
			}
		}
	}
}

func TestOlderIsAgeThenNamespaceThenName(t *testing.T) {
	at := func(s int, ns, name string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(s), 0))}
	}
	for _, c := range []struct {
		a, b *metav1.ObjectMeta
		want int
	}{
		{at(1, "red", "x"), at(2, "blue", "a"), -1},
		{at(2, "blue", "a"), at(1, "red", "x"), 1},
		{at(1, "blue", "z"), at(1, "red", "a"), -1},
		{at(1, "red", "a"), at(1, "red", "b"), -1},
		{at(0, "red", "a"), at(0, "red", "a"), 0},
	} {
		if got := Older(c.a, c.b); got != c.want {
			t.Errorf("Older(%v, %v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestPoolsBelongToTenants: a pool in the SPK namespace is the tenant's
// whose egress named it first, so a newer egress in namespace default
// naming red's pool is rejected and red keeps it; a pool in tenant red's
// own namespace is red's alone, even against an older egress; a pool
// annotated shared serves both.
func TestPoolsBelongToTenants(t *testing.T) {
	base := labObjects(t)
	red := slices.IndexFunc(base.Egresses, func(e F5SPKEgress) bool { return e.Namespace == "red" })
	redPool := base.Egresses[red].Spec.EgressSnatpool
	intruder := *base.Egresses[red].DeepCopy()
	intruder.Namespace, intruder.Name = "default", "steal"
	intruder.Annotations = map[string]string{AnnotationVXLANKey: "4242"}
	intruder.CreationTimestamp = metav1.NewTime(time.Unix(100, 0))
	for i := range base.Egresses {
		base.Egresses[i].CreationTimestamp = metav1.NewTime(time.Unix(1, 0))
	}

	o := *base
	o.Egresses = append(slices.Clone(base.Egresses), intruder)
	out := Compile(&o, 2)
	if why := out.Rejected["F5SPKEgress default/steal"]; !strings.Contains(why, "already serves tenant red") {
		t.Errorf("egress in default naming %s: rejected %q, want 'already serves tenant red'", redPool, why)
	}
	if why, bad := out.Rejected["F5SPKEgress red/red-egress"]; bad {
		t.Errorf("red's own egress rejected: %s", why)
	}

	// The pool in red's namespace: blue may not name it, whatever the ages.
	o = *base
	o.Snatpools = slices.Clone(base.Snatpools)
	for i := range o.Snatpools {
		if o.Snatpools[i].Spec.Name == redPool {
			o.Snatpools[i].Namespace = "red"
		}
	}
	o.Egresses = slices.Clone(base.Egresses)
	for i := range o.Egresses {
		if o.Egresses[i].Namespace == "blue" {
			o.Egresses[i].Spec.EgressSnatpool = redPool
			o.Egresses[i].CreationTimestamp = metav1.NewTime(time.Unix(0, 0)) // older than red's
		}
	}
	out = Compile(&o, 2)
	if why := out.Rejected["F5SPKEgress blue/blue-egress"]; !strings.Contains(why, "in namespace red, another tenant's") {
		t.Errorf("blue naming the pool in namespace red: rejected %q", why)
	}

	// Shared: both tenants use it.
	o = *base
	o.Snatpools = slices.Clone(base.Snatpools)
	for i := range o.Snatpools {
		if o.Snatpools[i].Spec.Name == redPool {
			o.Snatpools[i].Annotations = map[string]string{AnnotationSharedSnatpool: "true"}
		}
	}
	o.Egresses = append(slices.Clone(base.Egresses), intruder)
	out = Compile(&o, 2)
	if len(out.Rejected) != 0 {
		t.Errorf("shared pool: rejected %v", out.Rejected)
	}
}

// TestEgressDualStackEnabled: without dualStackEnabled a tenant's config
// keeps only the IPv4 addresses of its pool's row (none of IPv6 is used or
// advertised); with it, both families.
func TestEgressDualStackEnabled(t *testing.T) {
	for _, dual := range []bool{false, true} {
		o := *labObjects(t)
		o.Egresses = slices.Clone(o.Egresses)
		for i := range o.Egresses {
			o.Egresses[i].Spec.DualStackEnabled = dual
		}
		out := Compile(&o, 2)
		if len(out.Rejected) != 0 {
			t.Fatalf("dualStackEnabled %v: rejected %v", dual, out.Rejected)
		}
		for _, cfg := range out.Configs {
			for _, tn := range cfg.Tenants {
				v6 := slices.ContainsFunc(tn.SNAT, netip.Addr.Is6)
				if tn.DualStack != dual || v6 != dual || !slices.ContainsFunc(tn.SNAT, netip.Addr.Is4) {
					t.Errorf("dualStackEnabled %v: replica %d tenant %s has DualStack %v and SNAT %v", dual, cfg.Replica, tn.Name, tn.DualStack, tn.SNAT)
				}
			}
		}
	}
}
