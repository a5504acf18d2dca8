package memport

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/spklab/spklab/dataplane/port"
)

func frames(n int) []port.Buf {
	bufs := make([]port.Buf, n)
	for i := range bufs {
		bufs[i].Set([]byte{byte(i), byte(i >> 8), 0xaa, byte(i)})
	}
	return bufs
}

func TestOrderAndBatching(t *testing.T) {
	a, b := Pair("a", "b")
	defer a.Close()
	defer b.Close()
	const total = 100
	if n, err := a.Send(frames(total)); n != total || err != nil {
		t.Fatalf("Send = %d, %v", n, err)
	}
	rx := port.NewBufs(32, 64)
	var got [][]byte
	for len(got) < total {
		n, err := b.Recv(rx, time.Second)
		if err != nil || n == 0 {
			t.Fatalf("Recv after %d frames = %d, %v", len(got), n, err)
		}
		if n > len(rx) {
			t.Fatalf("Recv returned %d > batch %d", n, len(rx))
		}
		for i := 0; i < n; i++ {
			if rx[i].Start != port.Headroom {
				t.Fatalf("Start = %d, want Headroom", rx[i].Start)
			}
			got = append(got, append([]byte(nil), rx[i].Frame()...))
		}
	}
	// Full batches while frames are queued: 32+32+32+4.
	want := frames(total)
	for i := range want {
		if !bytes.Equal(got[i], want[i].Frame()) {
			t.Fatalf("frame %d = %x, want %x", i, got[i], want[i].Frame())
		}
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != total || sa.TxBytes != 4*total || sb.RxPackets != total || sb.RxBytes != 4*total {
		t.Fatalf("stats a=%+v b=%+v", sa, sb)
	}
	// The other direction is independent.
	if n, _ := a.Recv(rx, 0); n != 0 {
		t.Fatalf("a received %d frames it never got", n)
	}
}

func TestRecvBatchFillsFromQueue(t *testing.T) {
	a, b := Pair("a", "b")
	a.Send(frames(10))
	rx := port.NewBufs(4, 64)
	if n, err := b.Recv(rx, time.Second); n != 4 || err != nil {
		t.Fatalf("first batch = %d, %v; want 4", n, err)
	}
	if n, _ := b.Recv(rx, time.Second); n != 4 {
		t.Fatalf("second batch = %d, want 4", n)
	}
	if n, _ := b.Recv(rx, time.Second); n != 2 {
		t.Fatalf("third batch = %d, want 2", n)
	}
}

func TestRecvTimeout(t *testing.T) {
	a, b := Pair("a", "b")
	defer a.Close()
	rx := port.NewBufs(1, 64)
	start := time.Now()
	n, err := b.Recv(rx, 50*time.Millisecond)
	if n != 0 || err != nil {
		t.Fatalf("Recv = %d, %v; want 0, nil", n, err)
	}
	if d := time.Since(start); d < 45*time.Millisecond {
		t.Fatalf("returned after %v, before the timeout", d)
	}
	if n, err := b.Recv(rx, 0); n != 0 || err != nil {
		t.Fatalf("poll = %d, %v", n, err)
	}
}

func TestRecvWakesOnSend(t *testing.T) {
	a, b := Pair("a", "b")
	rx := port.NewBufs(8, 64)
	done := make(chan int)
	go func() {
		n, _ := b.Recv(rx, -1)
		done <- n
	}()
	time.Sleep(20 * time.Millisecond)
	a.Send(frames(1))
	select {
	case n := <-done:
		if n != 1 {
			t.Fatalf("Recv = %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked Recv did not wake on Send")
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	a, b := Pair("a", "b")
	rx := port.NewBufs(1, 64)
	errc := make(chan error)
	go func() {
		_, err := b.Recv(rx, -1)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, port.ErrClosed) {
			t.Fatalf("Recv after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Recv")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := b.Send(frames(1)); !errors.Is(err, port.ErrClosed) {
		t.Fatalf("Send on closed port = %v", err)
	}
	// Sending to a closed peer is a wire with nobody listening: counted drop.
	if n, err := a.Send(frames(3)); n != 3 || err != nil {
		t.Fatalf("Send to closed peer = %d, %v", n, err)
	}
	if s := a.Stats(); s.TxDrops != 3 || s.TxPackets != 0 {
		t.Fatalf("stats %+v, want 3 drops", s)
	}
}

func TestQueueFullDrops(t *testing.T) {
	a, b := Pair("a", "b")
	a.Send(frames(QueueLen + 5))
	if s := a.Stats(); s.TxPackets != QueueLen || s.TxDrops != 5 {
		t.Fatalf("stats %+v", s)
	}
	_ = b
}

func TestTruncatedFrameDropped(t *testing.T) {
	a, b := Pair("a", "b")
	big := make([]port.Buf, 2)
	big[0].Set(make([]byte, 100))
	big[1].Set([]byte{1, 2, 3})
	a.Send(big)
	rx := port.NewBufs(2, 64)
	n, err := b.Recv(rx, time.Second)
	if err != nil || n != 1 || !bytes.Equal(rx[0].Frame(), []byte{1, 2, 3}) {
		t.Fatalf("Recv = %d, %v, %x", n, err, rx[0].Frame())
	}
	if s := b.Stats(); s.RxTruncated != 1 {
		t.Fatalf("RxTruncated = %d, want 1", s.RxTruncated)
	}
}

func TestSendRejectsBadBounds(t *testing.T) {
	a, _ := Pair("a", "b")
	bufs := frames(2)
	bufs[1].End = len(bufs[1].B) + 1
	n, err := a.Send(bufs)
	if n != 1 || err == nil {
		t.Fatalf("Send = %d, %v; want 1 and an error", n, err)
	}
}

func TestMACs(t *testing.T) {
	a, b := Pair("ext", "int")
	a2, _ := Pair("ext", "x")
	if a.MAC() == b.MAC() {
		t.Fatal("both ends have the same MAC")
	}
	if a.MAC() != a2.MAC() {
		t.Fatal("MAC is not stable for a name")
	}
	m := a.MAC()
	if m[0]&1 != 0 || m[0]&2 == 0 {
		t.Fatalf("MAC %x is not unicast locally administered", m)
	}
	if a.Name() != "ext" || a.MTU() != DefaultMTU {
		t.Fatalf("name %q mtu %d", a.Name(), a.MTU())
	}
}

func TestConcurrentSendRecv(t *testing.T) {
	a, b := Pair("a", "b")
	const total = 5000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; i++ {
			var f [1]port.Buf
			f[0].Set([]byte{byte(i), byte(i >> 8)})
			for {
				before := a.Stats().TxDrops
				a.Send(f[:])
				if a.Stats().TxDrops == before {
					break
				}
				time.Sleep(time.Millisecond) // queue full: let the reader catch up
			}
		}
	}()
	rx := port.NewBufs(16, 64)
	next := 0
	for next < total {
		n, err := b.Recv(rx, 5*time.Second)
		if err != nil || n == 0 {
			t.Fatalf("Recv at %d = %d, %v", next, n, err)
		}
		for i := 0; i < n; i++ {
			f := rx[i].Frame()
			if got := int(f[0]) | int(f[1])<<8; got != next&0xffff {
				t.Fatalf("frame %d out of order: got %d", next, got)
			}
			next++
		}
	}
	wg.Wait()
}
