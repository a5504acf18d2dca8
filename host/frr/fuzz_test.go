package frr

import (
	"testing"
)

// FuzzParse feeds arbitrary bytes to the three vtysh JSON parsers: none may
// panic, and what they accept must hold valid addresses and prefixes.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ns, err := ParseNeighbors(data); err == nil {
			for _, n := range ns {
				if !n.Address.IsValid() || !n.RemoteRouterID.IsValid() {
					t.Fatalf("accepted neighbor without addresses: %+v", n)
				}
			}
		}
		if rs, err := ParseRoutes(data); err == nil {
			for _, r := range rs {
				if !r.Prefix.IsValid() {
					t.Fatalf("accepted route without prefix: %+v", r)
				}
			}
		}
		if rs, err := ParseBGPRoutes(data); err == nil {
			for _, r := range rs {
				for _, p := range r.Paths {
					if !p.NextHop.IsValid() || len(p.NextHops) == 0 || p.Local == p.Peer.IsValid() {
						t.Fatalf("accepted path %+v of %s", p, r.Prefix)
					}
				}
			}
		}
	})
}
