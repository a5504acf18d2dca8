package apicerts

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newPair(t *testing.T) *Pair {
	t.Helper()
	p, err := New(Options{ServerName: "tmm-api.spk-ingress", ClientName: "spk-controller", Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// handshake runs one TLS connection over loopback and returns the client's
// and the server's errors (a server that refuses makes the client's first
// read fail too).
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte("ok"))
		done <- err
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), client)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		_, err = io.ReadFull(c, buf)
	}
	return err, <-done
}

func TestMutualTLS(t *testing.T) {
	p := newPair(t)
	server, err := ServerConfig(p.Server)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ClientConfig(p.Client, "tmm-api.spk-ingress")
	if err != nil {
		t.Fatal(err)
	}
	if cerr, serr := handshake(t, server, client); cerr != nil || serr != nil {
		t.Fatalf("the pair's own client was refused: client %v, server %v", cerr, serr)
	}

	// No client certificate: refused by the server.
	anon := client.Clone()
	anon.Certificates = nil
	if cerr, serr := handshake(t, server, anon); cerr == nil || serr == nil {
		t.Errorf("a client without a certificate got in: client %v, server %v", cerr, serr)
	}

	// The server's own certificate shown as a client's (same CA, but for
	// server authentication only): refused.
	thief, err := ClientConfig(p.Server, "tmm-api.spk-ingress")
	if err != nil {
		t.Fatal(err)
	}
	if _, serr := handshake(t, server, thief); serr == nil || !strings.Contains(serr.Error(), "usage") {
		t.Errorf("the server certificate was taken as a client's: %v", serr)
	}

	// A client of another pair (another CA): refused; and it does not
	// trust this server either.
	other := newPair(t)
	stranger, err := ClientConfig(other.Client, "tmm-api.spk-ingress")
	if err != nil {
		t.Fatal(err)
	}
	if cerr, serr := handshake(t, server, stranger); cerr == nil || serr == nil {
		t.Errorf("another CA's client got in: client %v, server %v", cerr, serr)
	}

	// The right CA but another name: the client refuses the server.
	wrongName, err := ClientConfig(p.Client, "elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	if cerr, _ := handshake(t, server, wrongName); cerr == nil || !strings.Contains(cerr.Error(), "elsewhere") {
		t.Errorf("the client accepted a server certificate for another name: %v", cerr)
	}
}

func TestCheckAndLoad(t *testing.T) {
	p := newPair(t)
	now := time.Now()
	if err := Check(p.Server, now, time.Hour); err != nil {
		t.Errorf("fresh server identity: %v", err)
	}
	if err := Check(p.Client, now, time.Hour); err != nil {
		t.Errorf("fresh client identity: %v", err)
	}
	if err := Check(p.Server, now, 48*time.Hour); err == nil || !strings.Contains(err.Error(), "expires") {
		t.Errorf("a day-long certificate passed a two-day margin: %v", err)
	}
	mixed := p.Server
	mixed.Key = p.Client.Key
	if err := Check(mixed, now, time.Hour); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("a certificate with another's key: %v", err)
	}
	foreign := p.Server
	foreign.CA = newPair(t).Server.CA
	if err := Check(foreign, now, time.Hour); err == nil || !strings.Contains(err.Error(), "does not chain") {
		t.Errorf("a certificate with another CA: %v", err)
	}
	if !SameCA(p.Server, p.Client) || SameCA(p.Server, foreign) {
		t.Error("SameCA")
	}

	dir := t.TempDir()
	for name, data := range p.Client.Files() {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(dir)
	if err != nil || string(got.Cert) != string(p.Client.Cert) || string(got.Key) != string(p.Client.Key) || string(got.CA) != string(p.Client.CA) {
		t.Errorf("Load: %v", err)
	}
	os.Remove(filepath.Join(dir, KeyFile))
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("Load without a key: %v", err)
	}
	if _, err := New(Options{ClientName: "x", Validity: time.Hour}); err == nil {
		t.Error("New without a server name")
	}
}
