package port

import (
	"bytes"
	"testing"
)

func TestNewBufsLayout(t *testing.T) {
	bufs := NewBufs(4, 1514)
	if len(bufs) != 4 {
		t.Fatalf("len = %d, want 4", len(bufs))
	}
	for i := range bufs {
		b := &bufs[i]
		if cap(b.B) != Headroom+1514 || len(b.B) != cap(b.B) {
			t.Errorf("buf %d: len %d cap %d, want %d", i, len(b.B), cap(b.B), Headroom+1514)
		}
		if b.Start != Headroom || b.End != Headroom || b.Len() != 0 {
			t.Errorf("buf %d: [%d:%d], want empty at headroom", i, b.Start, b.End)
		}
		if b.Room() != 1514 {
			t.Errorf("buf %d: room %d, want 1514", i, b.Room())
		}
	}
	// Buffers share one array but must not overlap: writing the whole of one
	// must leave its neighbour untouched.
	for i := range bufs[0].B {
		bufs[0].B[i] = 0xff
	}
	if bytes.IndexByte(bufs[1].B, 0xff) >= 0 {
		t.Fatal("writing buf 0 changed buf 1")
	}
	if got := append(bufs[0].B, 1); &got[0] == &bufs[1].B[0] {
		t.Fatal("append on buf 0 wrote into buf 1")
	}
}

func TestBufSetAndPrepend(t *testing.T) {
	var b Buf
	b.Set([]byte{1, 2, 3})
	if b.Start != Headroom || !bytes.Equal(b.Frame(), []byte{1, 2, 3}) {
		t.Fatalf("after Set: [%d:%d] %x", b.Start, b.End, b.Frame())
	}
	hdr, err := b.Prepend(4)
	if err != nil {
		t.Fatal(err)
	}
	copy(hdr, []byte{9, 9, 9, 9})
	if !bytes.Equal(b.Frame(), []byte{9, 9, 9, 9, 1, 2, 3}) {
		t.Fatalf("after Prepend: %x", b.Frame())
	}
	if _, err := b.Prepend(Headroom); err == nil {
		t.Fatal("prepending more than the remaining headroom succeeded")
	}
	// Set reuses a big enough buffer rather than allocating.
	before := &b.B[0]
	b.Set([]byte{7, 7, 7})
	if &b.B[0] != before || b.Len() != 3 {
		t.Fatalf("Set reallocated or wrong length %d", b.Len())
	}
}
