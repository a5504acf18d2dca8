package conntrack

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// natKeys returns the keys of a translated flow: the client's original key
// and the server's reply to the SNAT address.
func natKeys(i int) (orig, reply Key) {
	orig = tcpKey(i)
	reply = Key{Proto: ProtoTCP, Src: orig.Dst, Dst: netip.MustParseAddr("198.51.100.1"), SrcPort: orig.DstPort, DstPort: uint16(2000 + i%60000)}
	return orig, reply
}

func TestInsertLookupDirections(t *testing.T) {
	tab := New(Config[string]{Max: 10})
	orig, reply := natKeys(1)
	f, err := tab.Insert(orig, reply, 0, "binding", 5)
	if err != nil {
		t.Fatal(err)
	}
	if f.Created() != 5 || f.Value != "binding" || tab.Len() != 1 {
		t.Fatalf("created %d value %q len %d", f.Created(), f.Value, tab.Len())
	}
	for _, c := range []struct {
		k   Key
		dir Direction
	}{{orig, Original}, {reply, Reply}} {
		g, dir, ok := tab.Lookup(c.k, 6)
		if !ok || g != f || dir != c.dir {
			t.Fatalf("Lookup(%v) = %p %v %v, want %p %v", c.k, g, dir, ok, f, c.dir)
		}
	}
	if _, _, ok := tab.Lookup(orig.Reverse(), 6); ok {
		t.Fatal("found a key that was never inserted")
	}
	other := orig
	other.Zone = 100
	if _, _, ok := tab.Lookup(other, 6); ok {
		t.Fatal("zone ignored")
	}
}

func TestInsertExists(t *testing.T) {
	tab := New(Config[int]{Max: 10})
	orig, reply := natKeys(1)
	f, _ := tab.Insert(orig, reply, 0, 0, 0)
	orig2, reply2 := natKeys(2)
	if _, err := tab.Insert(orig, reply2, 0, 0, 0); !errors.Is(err, ErrExists) {
		t.Fatalf("same original key: %v", err)
	}
	if _, err := tab.Insert(orig2, reply, 0, 0, 0); !errors.Is(err, ErrExists) {
		t.Fatalf("same reply key: %v", err)
	}
	if tab.Len() != 1 {
		t.Fatalf("Len %d after refused inserts", tab.Len())
	}
	// A flow that holds the key but has expired makes way, and is reported.
	var gone []*Flow[int]
	tab = New(Config[int]{Max: 10, OnExpire: func(f *Flow[int]) { gone = append(gone, f) }})
	f, _ = tab.Insert(orig, reply, 0, 0, 0)
	g, err := tab.Insert(orig, reply2, 0, 1, f.Deadline())
	if err != nil || g == nil {
		t.Fatalf("insert over expired flow: %v", err)
	}
	if len(gone) != 1 || gone[0] != f || tab.Len() != 1 || tab.Stats().Expired != 1 {
		t.Fatalf("gone %v len %d stats %+v", gone, tab.Len(), tab.Stats())
	}
	if h, _, _ := tab.Lookup(reply2, f.Deadline()); h != g {
		t.Fatal("new flow not reachable by its reply key")
	}
	if _, _, ok := tab.Lookup(reply, f.Deadline()); ok {
		t.Fatal("old reply key still present")
	}
}

func TestSameKeyBothDirections(t *testing.T) {
	tab := New(Config[int]{Max: 10})
	k := tcpKey(1)
	f, err := tab.Insert(k, k, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g, dir, ok := tab.Lookup(k, 0); !ok || g != f || dir != Original {
		t.Fatal("lookup")
	}
	tab.Delete(f)
	if tab.Len() != 0 {
		t.Fatal("not deleted")
	}
}

// fill inserts n established TCP flows.
func fill(t *testing.T, tab *Table[int], from, n int) []*Flow[int] {
	t.Helper()
	var fs []*Flow[int]
	for i := from; i < from+n; i++ {
		o, r := natKeys(i)
		f, err := tab.Insert(o, r, 0, i, 0)
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		f.Track(Original, syn, 0, 0)
		f.Track(Reply, synack, 0, 0)
		f.Track(Original, ack, 0, 0)
		fs = append(fs, f)
	}
	return fs
}

func TestFullAndEarlyDrop(t *testing.T) {
	var dropped []int
	tab := New(Config[int]{Max: 8, Shards: 1, OnExpire: func(f *Flow[int]) { dropped = append(dropped, f.Value) }})
	est := fill(t, tab, 0, 6)

	// Two embryonic flows: a SYN without answer and an unreplied UDP flow.
	o, r := natKeys(100)
	synOnly, _ := tab.Insert(o, r, 0, 100, 0)
	u := Key{Proto: ProtoUDP, Src: netip.MustParseAddr("10.9.0.1"), Dst: netip.MustParseAddr("192.0.2.53"), SrcPort: 1, DstPort: 53}
	udp, _ := tab.Insert(u, u.Reverse(), 0, 101, 0)
	if tab.Len() != 8 {
		t.Fatalf("Len %d", tab.Len())
	}

	// Full: the next two inserts each push out one embryonic flow.
	for i := 200; i < 202; i++ {
		o, r := natKeys(i)
		if _, err := tab.Insert(o, r, 0, i, sec); err != nil {
			t.Fatalf("insert %d into a table with embryonic flows: %v", i, err)
		}
	}
	if len(dropped) != 2 || !(dropped[0] == 100 || dropped[0] == 101) || dropped[0]+dropped[1] != 201 {
		t.Fatalf("early-dropped %v, want the SYN-only and the unreplied UDP flow", dropped)
	}
	if _, _, ok := tab.Lookup(synOnly.Orig, sec); ok {
		t.Fatal("dropped flow still found")
	}
	if _, _, ok := tab.Lookup(udp.Reply, sec); ok {
		t.Fatal("dropped flow still found")
	}
	// The flows 200, 201 are embryonic too; establish them, then the table
	// is full of established flows and must refuse.
	for i := 200; i < 202; i++ {
		o, _ := natKeys(i)
		f, _, _ := tab.Lookup(o, sec)
		f.Track(Original, syn, 0, sec)
		f.Track(Reply, synack, 0, sec)
		f.Track(Original, ack, 0, sec)
	}
	o, r = natKeys(300)
	if _, err := tab.Insert(o, r, 0, 300, sec); !errors.Is(err, ErrFull) {
		t.Fatalf("insert into a table of established flows: %v, want ErrFull", err)
	}
	// A duplicate into a full table is still ErrExists, not ErrFull.
	if _, err := tab.Insert(est[0].Orig, r, 0, 0, sec); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate into full table: %v", err)
	}
	for _, f := range est {
		if g, _, ok := tab.Lookup(f.Orig, sec); !ok || g != f {
			t.Fatalf("established flow %d evicted", f.Value)
		}
	}
	st := tab.Stats()
	if st.EarlyDrops != 2 || st.Full != 1 || st.Inserts != 10 || st.Active != 8 {
		t.Fatalf("stats %+v", st)
	}
	// An expired established flow is fair game: it is dead already.
	late := est[0].Deadline()
	if _, err := tab.Insert(o, r, 0, 300, late); err != nil {
		t.Fatalf("insert when an established flow has expired: %v", err)
	}
	if st := tab.Stats(); st.Expired == 0 || st.EarlyDrops != 2 {
		t.Fatalf("stats %+v: expected an expiry, not an early drop", st)
	}
}

func TestDeleteAndOnExpireOnce(t *testing.T) {
	calls := map[*Flow[int]]int{}
	tab := New(Config[int]{Max: 10, OnExpire: func(f *Flow[int]) { calls[f]++ }})
	fs := fill(t, tab, 0, 3)
	tab.Delete(fs[0])
	tab.Delete(fs[0])
	if _, _, ok := tab.Lookup(fs[0].Reply, 0); ok {
		t.Fatal("deleted flow found by reply key")
	}
	end := fs[1].Deadline()
	tab.Lookup(fs[1].Orig, end) // removes it
	tab.Lookup(fs[1].Reply, end)
	tab.Expire(end, 0) // removes fs[2]
	tab.Delete(fs[1])
	tab.Delete(fs[2])
	for i, f := range fs {
		if calls[f] != 1 {
			t.Fatalf("flow %d: OnExpire called %d times", i, calls[f])
		}
	}
	if st := tab.Stats(); st.Deleted != 1 || st.Expired != 2 || st.Active != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExpireBudgetAndResume(t *testing.T) {
	tab := New(Config[int]{Max: 10000, Shards: 4})
	fs := fill(t, tab, 0, 1000)
	// Half the flows get refreshed later and must survive.
	for _, f := range fs[:500] {
		f.Track(Original, ack, 0, 100*sec)
	}
	end := fs[999].Deadline()
	total, calls := 0, 0
	for tab.Len() > 500 {
		n := tab.Expire(end, 64)
		if n > 64 {
			t.Fatalf("Expire removed %d flows with a budget of 64", n)
		}
		total += n
		calls++
		if calls > 100 {
			t.Fatalf("sweep did not converge: %d flows left after %d calls", tab.Len(), calls)
		}
	}
	// 1000 flows at 64 per call: one full pass is 16 calls (a few more if
	// calls end at shard boundaries); the sweep must not revisit.
	if total != 500 || calls > 20 {
		t.Fatalf("removed %d in %d calls", total, calls)
	}
	for _, f := range fs[:500] {
		if _, _, ok := tab.Lookup(f.Orig, end); !ok {
			t.Fatal("refreshed flow expired")
		}
	}
	if n := tab.Expire(end, 0); n != 0 {
		t.Fatalf("second sweep removed %d", n)
	}
	if n := tab.Expire(end+int64(400*time.Second), 0); n != 500 {
		t.Fatalf("full sweep removed %d, want 500", n)
	}
	if n := tab.Expire(0, 10); n != 0 || tab.Len() != 0 {
		t.Fatal("empty table")
	}
}

func TestRange(t *testing.T) {
	tab := New(Config[int]{Max: 1000})
	fill(t, tab, 0, 300)
	seen := map[int]bool{}
	tab.Range(func(f *Flow[int]) bool {
		if seen[f.Value] {
			t.Fatalf("flow %d visited twice", f.Value)
		}
		seen[f.Value] = true
		tab.Delete(f) // Range must allow changing the table
		return true
	})
	if len(seen) != 300 || tab.Len() != 0 {
		t.Fatalf("visited %d, left %d", len(seen), tab.Len())
	}
	fill(t, tab, 0, 10)
	n := 0
	tab.Range(func(*Flow[int]) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("Range went on after false: %d calls", n)
	}
}

// TestConcurrentRemovalOnce races every removal path (Delete, Lookup of an
// expired flow, Expire, early drop by inserts into a full table, Range)
// and checks that each flow is reported exactly once and the count is
// right. Run it with -race.
func TestConcurrentRemovalOnce(t *testing.T) {
	const n = 4000
	var reported sync.Map
	var twice, total atomic.Int64
	tab := New(Config[int]{Max: n, Shards: 8, OnExpire: func(f *Flow[int]) {
		total.Add(1)
		if _, dup := reported.LoadOrStore(f, true); dup {
			twice.Add(1)
		}
	}})
	fs := make([]*Flow[int], n)
	for i := range fs {
		o, r := natKeys(i)
		f, err := tab.Insert(o, r, 0, i, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			f.Track(Reply, synack, 0, 0) // half become SynRecv, all stay embryonic
		}
		fs[i] = f
	}
	end := fs[0].Deadline()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 2 {
				tab.Delete(fs[i])
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			for i := range n {
				tab.Lookup(fs[(i+g)%n].Orig, end)
				tab.Lookup(fs[(i+g)%n].Reply, end)
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 100000 && tab.Len() > 0; i++ {
			tab.Expire(end, 50)
		}
	})
	var inserted atomic.Int64
	wg.Go(func() {
		for i := n; i < 2*n; i++ {
			o, r := natKeys(i)
			// Inserted at time 0: they are embryonic, not expired, so a
			// full table early-drops them or the old ones.
			if f, err := tab.Insert(o, r, 0, i, 0); err == nil {
				inserted.Add(1)
				if i%3 == 0 {
					tab.Delete(f)
				}
			}
		}
	})
	wg.Go(func() {
		tab.Range(func(f *Flow[int]) bool { f.Track(Original, ack, 1, 0); return true })
	})
	wg.Wait()
	tab.Range(func(f *Flow[int]) bool { tab.Delete(f); return true })

	if twice.Load() != 0 {
		t.Fatalf("%d flows reported twice", twice.Load())
	}
	if tab.Len() != 0 {
		t.Fatalf("Len %d after removing everything", tab.Len())
	}
	if want := int64(n) + inserted.Load(); total.Load() != want {
		t.Fatalf("OnExpire called %d times, want %d (every flow once)", total.Load(), want)
	}
	st := tab.Stats()
	if got := st.Expired + st.Deleted + st.EarlyDrops; got != uint64(total.Load()) {
		t.Fatalf("removal counters %+v sum to %d, want %d", st, got, total.Load())
	}
	for i := range tab.shards {
		if len(tab.shards[i].keys) != 0 || len(tab.shards[i].flows) != 0 {
			t.Fatalf("shard %d not empty: %d keys %d flows", i, len(tab.shards[i].keys), len(tab.shards[i].flows))
		}
	}
}

// TestConcurrentTrack checks that counters are exact when packets of one
// flow are tracked from several goroutines.
func TestConcurrentTrack(t *testing.T) {
	tab := New(Config[int]{Max: 10})
	f := fill(t, tab, 0, 1)[0]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				if _, _, ok := tab.Lookup(f.Reply, int64(i)); !ok {
					t.Error("lookup failed")
					return
				}
				f.Track(Direction(g%2), ack, 10, int64(i))
				_ = f.State()
				_ = f.Deadline()
			}
		})
	}
	wg.Wait()
	op, ob, rp, rb := f.Counters()
	// fill tracked 2 original and 1 reply packet of 0 bytes.
	if op != 2002 || ob != 20000 || rp != 2001 || rb != 20000 {
		t.Fatalf("counters %d %d %d %d", op, ob, rp, rb)
	}
}

func TestLookupAllocs(t *testing.T) {
	tab := New(Config[int]{Max: 100})
	fs := fill(t, tab, 0, 50)
	k := fs[7].Reply
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(k, 0); fs[7].Track(Reply, ack, 1, 1) }); n != 0 {
		t.Fatalf("Lookup+Track allocate %v times", n)
	}
}

// TestExpireChunks sweeps one shard bigger than a lock-hold chunk, with and
// without a budget.
func TestExpireChunks(t *testing.T) {
	tab := New(Config[int]{Max: 5000, Shards: 1})
	fs := fill(t, tab, 0, 3*sweepChunk+10)
	for _, f := range fs[:sweepChunk] {
		f.Track(Original, ack, 0, 100*sec) // survives the first sweep
	}
	end := fs[len(fs)-1].Deadline()
	if n := tab.Expire(end, 0); n != 2*sweepChunk+10 {
		t.Fatalf("unbounded sweep removed %d, want %d", n, 2*sweepChunk+10)
	}
	later := end + 100*sec
	if n := tab.Expire(later, sweepChunk+5); n != sweepChunk || tab.Len() != 0 {
		t.Fatalf("budgeted sweep removed %d, Len %d", n, tab.Len())
	}
}
