// Package apicerts makes the certificates of a mutual-TLS API with one
// server identity and one client: a CA that exists only while it signs, a
// server certificate for a DNS name (the server's addresses change, so the
// client names it instead of trusting an IP) and a client certificate good
// for client authentication only. Everything is made here with crypto/x509:
// nothing is downloaded and no tool is run, so an offline install can make
// them.
package apicerts

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names inside a directory of one identity, as a Kubernetes TLS
// Secret with a ca.crt key mounts them.
const (
	CAFile   = "ca.crt"
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Identity is one side's files: the CA to trust, its certificate and key,
// all PEM.
type Identity struct {
	CA, Cert, Key []byte
}

// Files maps the identity to its file names.
func (id Identity) Files() map[string][]byte {
	return map[string][]byte{CAFile: id.CA, CertFile: id.Cert, KeyFile: id.Key}
}

// Pair is a server and its one client, signed by the same throwaway CA.
type Pair struct {
	Server, Client Identity
}

// Options say what the certificates name and how long they last.
type Options struct {
	// ServerName is the DNS name in the server certificate; clients dial
	// by address and verify this name.
	ServerName string
	// ClientName is the client certificate's common name.
	ClientName string
	// Validity is how long all three last from Now.
	Validity time.Duration
	Now      time.Time
}

// New makes a pair. The CA's key is not kept: no further certificate can
// be signed, so replacing a leaked one means making a new pair.
func New(o Options) (*Pair, error) {
	if o.ServerName == "" || o.ClientName == "" || o.Validity <= 0 {
		return nil, errors.New("apicerts: want a server name, a client name and a positive validity")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	// A minute of slack for clocks a little behind the installer's.
	notBefore, notAfter := o.Now.Add(-time.Minute), o.Now.Add(o.Validity)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("apicerts: CA key: %w", err)
	}
	ca := &x509.Certificate{
		Subject:               pkix.Name{CommonName: o.ServerName + " API CA"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if ca.SerialNumber, err = serial(); err != nil {
		return nil, err
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("apicerts: CA certificate: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("apicerts: CA certificate: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	leaf := func(cn string, dns []string, usage x509.ExtKeyUsage) (Identity, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Identity{}, fmt.Errorf("apicerts: %s key: %w", cn, err)
		}
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn},
			DNSNames:    dns,
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if tmpl.SerialNumber, err = serial(); err != nil {
			return Identity{}, err
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return Identity{}, fmt.Errorf("apicerts: %s certificate: %w", cn, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return Identity{}, fmt.Errorf("apicerts: %s key: %w", cn, err)
		}
		return Identity{
			CA:   caPEM,
			Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			Key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		}, nil
	}
	server, err := leaf(o.ServerName, []string{o.ServerName}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	client, err := leaf(o.ClientName, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	return &Pair{Server: server, Client: client}, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("apicerts: serial number: %w", err)
	}
	return n, nil
}

// Check says whether an identity is whole and still good at now for at
// least margin: its certificate parses, matches its key, chains to its CA
// and has not expired. An installer keeps a pair that passes and makes a
// new one otherwise.
func Check(id Identity, now time.Time, margin time.Duration) error {
	block, _ := pem.Decode(id.Cert)
	if block == nil {
		return errors.New(CertFile + ": no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", CertFile, err)
	}
	kb, _ := pem.Decode(id.Key)
	if kb == nil {
		return errors.New(KeyFile + ": no PEM key")
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return fmt.Errorf("%s: %w", KeyFile, err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: not an ECDSA key", KeyFile)
	}
	certPub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !certPub.Equal(&priv.PublicKey) {
		return errors.New(CertFile + " and " + KeyFile + " do not match")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(id.CA) {
		return errors.New(CAFile + ": no PEM certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("%s does not chain to %s: %w", CertFile, CAFile, err)
	}
	if left := cert.NotAfter.Sub(now); left < margin {
		return fmt.Errorf("%s expires %s (in %v, less than %v)", CertFile, cert.NotAfter.Format(time.RFC3339), left.Round(time.Hour), margin)
	}
	return nil
}

// SameCA says whether two identities trust the same CA (a server and a
// client made as one pair).
func SameCA(a, b Identity) bool { return bytes.Equal(a.CA, b.CA) }

// Load reads an identity from a directory holding CAFile, CertFile and
// KeyFile (a mounted Secret).
func Load(dir string) (Identity, error) {
	var id Identity
	for name, dst := range map[string]*[]byte{CAFile: &id.CA, CertFile: &id.Cert, KeyFile: &id.Key} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return Identity{}, fmt.Errorf("TLS identity in %s: %w", dir, err)
		}
		*dst = b
	}
	return id, nil
}

// ServerConfig is the server side: it shows its certificate and takes only
// clients whose certificate its CA signed for client authentication (a
// server certificate of the same CA is refused), TLS 1.3.
func ServerConfig(id Identity) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(id.Cert, id.Key)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(id.CA) {
		return nil, errors.New("server: " + CAFile + " holds no PEM certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientConfig is the client side: it shows its certificate and trusts only
// a server certificate its CA signed for serverName, whatever address it
// dialed.
func ClientConfig(id Identity, serverName string) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(id.Cert, id.Key)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(id.CA) {
		return nil, errors.New("client: " + CAFile + " holds no PEM certificate")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
	}, nil
}
