package neigh

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

const sec = int64(time.Second)

var (
	ip1  = netip.MustParseAddr("192.0.2.1")
	ip2  = netip.MustParseAddr("192.0.2.2")
	ip6  = netip.MustParseAddr("2001::192:0:2:1")
	mac1 = [6]byte{0x02, 0, 0, 0, 0, 1}
	mac2 = [6]byte{0x02, 0, 0, 0, 0, 2}
)

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

func TestLearnLookupExpiry(t *testing.T) {
	c := New(Config{})
	if _, ok := c.Lookup(ip1, 0); ok {
		t.Fatal("empty cache resolved")
	}
	if p := c.Learn(ip1, mac1, 10*sec); p != nil {
		t.Fatalf("pending %v from a fresh entry", p)
	}
	c.Learn(ip6, mac2, 10*sec)
	if mac, ok := c.Lookup(ip1, 69*sec); !ok || mac != mac1 {
		t.Fatalf("Lookup = %v %v", mac, ok)
	}
	if mac, ok := c.Lookup(ip6, 11*sec); !ok || mac != mac2 {
		t.Fatal("IPv6 entry")
	}
	if _, ok := c.Lookup(ip1, 70*sec); ok {
		t.Fatal("entry older than Reachable still resolves")
	}
	if e := c.Entries(); len(e) != 2 || e[0].State != "reachable" {
		t.Fatalf("entries %v", e)
	}
	c.Learn(ip6, mac1, 50*sec) // re-learned: fresh again, new MAC
	if n := c.Expire(70 * sec); n != 0 || c.Len() != 1 {
		t.Fatalf("Expire dropped %d frames, Len %d", n, c.Len())
	}
	if mac, ok := c.Lookup(ip6, 70*sec); !ok || mac != mac1 {
		t.Fatal("re-learned entry expired or kept its old MAC")
	}
	if st := c.Stats(); st.Expired != 1 || st.Entries != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHoldRetryAndLearn(t *testing.T) {
	c := New(Config{MaxPending: 3})
	var sent []int64
	hold := func(b byte, now int64) {
		if c.Hold(ip1, []byte{b}, now) {
			sent = append(sent, now)
		}
	}
	frame := []byte{1}
	if !c.Hold(ip1, frame, 0) {
		t.Fatal("first Hold must ask for a request")
	}
	sent = append(sent, 0)
	frame[0] = 99 // Hold must have copied
	hold(2, sec/2)
	hold(3, sec) // RetryInterval passed
	hold(4, sec+sec/2)
	hold(5, 2*sec+sec/2) // 1.5 s since the last request
	if len(sent) != 3 || sent[1] != sec || sent[2] != 2*sec+sec/2 {
		t.Fatalf("requests at %v", sent)
	}
	if _, ok := c.Lookup(ip1, 2*sec); ok {
		t.Fatal("incomplete entry resolved")
	}
	e := c.Entries()
	if len(e) != 1 || e[0].State != "incomplete" || e[0].Pending != 3 || e[0].Age != 2500*time.Millisecond {
		t.Fatalf("entries %+v", e)
	}
	p := c.Learn(ip1, mac1, 2*sec+sec/2)
	if len(p) != 3 || p[0][0] != 3 || p[1][0] != 4 || p[2][0] != 5 {
		t.Fatalf("pending %v, want the newest three frames 3 4 5 in order", p)
	}
	if st := c.Stats(); st.FramesDropped != 2 {
		t.Fatalf("stats %+v: two frames beyond MaxPending were dropped", st)
	}
	if p := c.Learn(ip1, mac1, 3*sec); len(p) != 0 {
		t.Fatal("frames handed out twice")
	}
	if got := c.Entries()[0].String(); !strings.Contains(got, "02:00:00:00:00:01 reachable") {
		t.Fatalf("Entry.String %q", got)
	}
}

func TestIncompleteExpiry(t *testing.T) {
	c := New(Config{})
	c.Hold(ip1, []byte{1}, 0)
	c.Hold(ip1, []byte{2}, sec)
	c.Hold(ip2, []byte{3}, 2*sec)
	if n := c.Expire(3*sec - 1); n != 0 {
		t.Fatalf("dropped %d before Incomplete", n)
	}
	if n := c.Expire(3 * sec); n != 2 || c.Len() != 1 {
		t.Fatalf("dropped %d, Len %d; want ip1's 2 frames gone", n, c.Len())
	}
	// An incomplete entry that timed out but was not swept yet starts over
	// on Hold, asking for a request at once.
	if !c.Hold(ip2, []byte{4}, 5*sec) {
		t.Fatal("timed-out resolution did not restart")
	}
	if e := c.Entries(); e[0].Pending != 1 || e[0].Age != 0 {
		t.Fatalf("entries %+v", e)
	}
	if st := c.Stats(); st.FramesDropped != 3 || st.Expired != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHoldOnLearnedEntry(t *testing.T) {
	c := New(Config{})
	c.Learn(ip1, mac1, 0)
	if !c.Hold(ip1, []byte{1}, 61*sec) {
		t.Fatal("stale entry: Hold must ask for a request")
	}
	if _, ok := c.Lookup(ip1, 61*sec); ok {
		t.Fatal("resolving again but still returns the old MAC")
	}
	if p := c.Learn(ip1, mac2, 61*sec); len(p) != 1 {
		t.Fatalf("pending %v", p)
	}
}

func TestBound(t *testing.T) {
	c := New(Config{Max: 100})
	for i := range 100 {
		c.Learn(addr(i), mac1, int64(i))
	}
	c.Learn(addr(0), mac2, 200) // refreshed: now the youngest
	c.Hold(addr(1), []byte{1}, 201)
	for i := 100; i < 150; i++ {
		c.Learn(addr(i), mac1, int64(300+i))
		if c.Len() > 100 {
			t.Fatalf("Len %d beyond Max", c.Len())
		}
	}
	if c.Len() != 100 {
		t.Fatalf("Len %d", c.Len())
	}
	// The 50 oldest entries (2..51) went; the refreshed ones stayed.
	for i := range 150 {
		_, ok := c.Lookup(addr(i), 1000)
		want := i == 0 || i >= 52
		if ok != want {
			t.Fatalf("addr %d present %v, want %v", i, ok, want)
		}
	}
	if len(c.Entries()) != 100 || c.Entries()[1].State != "incomplete" {
		t.Fatal("entries")
	}
	if st := c.Stats(); st.Evicted != 50 {
		t.Fatalf("stats %+v", st)
	}
	// Holding for many new addresses cannot grow the cache either.
	for i := 1000; i < 1300; i++ {
		c.Hold(addr(i), []byte{1, 2, 3}, 2000)
	}
	if c.Len() != 100 {
		t.Fatalf("Len %d", c.Len())
	}
}

func TestEntriesSortedAndAged(t *testing.T) {
	c := New(Config{})
	c.Learn(ip2, mac2, 0)
	c.Learn(ip1, mac1, 5*sec)
	c.Hold(ip6, []byte{1}, 6*sec)
	c.Expire(7 * sec) // the latest now the cache saw
	e := c.Entries()
	if len(e) != 3 || e[0].IP != ip1 || e[1].IP != ip2 || e[2].IP != ip6 {
		t.Fatalf("order %v", e)
	}
	if e[0].Age != 2*time.Second || e[1].Age != 7*time.Second || e[2].Age != time.Second {
		t.Fatalf("ages %v %v %v", e[0].Age, e[1].Age, e[2].Age)
	}
	c.Expire(61 * sec) // nothing left but nothing stale is kept either
	c.Learn(ip1, mac1, 61*sec)
	c.Learn(ip2, mac1, 0) // learned long ago (clock from another port)
	if e := c.Entries(); e[1].State != "stale" {
		t.Fatalf("state %q, want stale", e[1].State)
	}
}

func TestLookupNoAllocs(t *testing.T) {
	c := New(Config{})
	c.Learn(ip6, mac1, 0)
	if n := testing.AllocsPerRun(1000, func() { c.Lookup(ip6, 1); c.Lookup(ip1, 1) }); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}

func TestConcurrent(t *testing.T) {
	c := New(Config{Max: 64, MaxPending: 2})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 5000 {
				ip := addr(i % 100)
				now := int64(i) * int64(time.Millisecond)
				switch (i + g) % 4 {
				case 0:
					c.Learn(ip, mac1, now)
				case 1:
					c.Hold(ip, []byte{byte(g)}, now)
				case 2:
					if mac, ok := c.Lookup(ip, now); ok && mac != mac1 {
						t.Error("wrong MAC")
					}
				case 3:
					if i%50 == 0 {
						c.Expire(now)
						c.Entries()
					}
				}
				if c.Len() > 64 {
					t.Error("Len beyond Max")
				}
			}
		})
	}
	wg.Wait()
	for _, e := range c.Entries() {
		if e.Pending > 2 {
			t.Fatalf("%v holds %d frames", e.IP, e.Pending)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c := New(Config{})
	for i := range 4096 {
		c.Learn(addr(i), mac1, 0)
	}
	for i := 0; b.Loop(); i++ {
		if _, ok := c.Lookup(addr(i%4096), 1); !ok {
			b.Fatal("miss")
		}
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	c := New(Config{})
	for i := range 4096 {
		c.Learn(addr(i), mac1, 0)
	}
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			c.Lookup(addr(i%4096), 1)
		}
	})
}
