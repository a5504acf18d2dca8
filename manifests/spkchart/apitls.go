package spkchart

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/spklab/spklab/internal/apicerts"
)

// The TMM API's mutual TLS: the installer makes a CA's server certificate
// for the TMMs and client certificate for the controller into two Secrets
// of the release namespace before the chart runs (no download, no tool),
// keeps them while they are good, and replaces both when one is missing,
// damaged or within apiTLSRenewBefore of expiry. The chart mounts them;
// the pods roll when the CA changes (values tmm.apiTLSFingerprint).
const (
	// TMMAPIServerSecret holds the TMMs' identity (ca.crt, tls.crt, tls.key).
	TMMAPIServerSecret = "spk-tmm-api-server"
	// TMMAPIClientSecret holds the controller's, the only client identity.
	TMMAPIClientSecret = "spk-controller-tmm-api"
	// TMMAPIClientName is the client certificate's common name.
	TMMAPIClientName = "spk-controller"

	apiTLSValidity    = 365 * 24 * time.Hour
	apiTLSRenewBefore = 30 * 24 * time.Hour
)

// TMMAPIServerName is the name the TMMs' certificate carries: the
// controller dials pod IPs and verifies this name instead.
func TMMAPIServerName(namespace string) string {
	return TMMStatefulSet + "." + namespace + ".svc"
}

// ensureAPITLS makes sure the namespace and both Secrets exist and hold a
// good pair; it returns the CA's fingerprint.
func (c *Client) ensureAPITLS(ctx context.Context) (string, error) {
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return "", fmt.Errorf("TMM API certificates: %w", err)
	}
	ns := c.opts.Namespace
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	secrets := cs.CoreV1().Secrets(ns)
	read := func(name string) (apicerts.Identity, *corev1.Secret, error) {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return apicerts.Identity{}, nil, nil
		}
		if err != nil {
			return apicerts.Identity{}, nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
		}
		return SecretIdentity(s), s, nil
	}
	server, serverSecret, err := read(TMMAPIServerSecret)
	if err != nil {
		return "", err
	}
	client, clientSecret, err := read(TMMAPIClientSecret)
	if err != nil {
		return "", err
	}
	now := time.Now()
	why := ""
	if serverSecret == nil || clientSecret == nil {
		why = "missing"
	} else if err := apicerts.Check(server, now, apiTLSRenewBefore); err != nil {
		why = "Secret " + TMMAPIServerSecret + ": " + err.Error()
	} else if err := apicerts.Check(client, now, apiTLSRenewBefore); err != nil {
		why = "Secret " + TMMAPIClientSecret + ": " + err.Error()
	} else if !apicerts.SameCA(server, client) {
		why = "the server and client certificates have different CAs"
	}
	if why == "" {
		return fingerprint(server.CA), nil
	}
	pair, err := apicerts.New(apicerts.Options{ServerName: TMMAPIServerName(ns), ClientName: TMMAPIClientName, Validity: apiTLSValidity, Now: now})
	if err != nil {
		return "", err
	}
	for _, s := range []struct {
		name string
		id   apicerts.Identity
		old  *corev1.Secret
	}{{TMMAPIServerSecret, pair.Server, serverSecret}, {TMMAPIClientSecret, pair.Client, clientSecret}} {
		want := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "spklab", "app.kubernetes.io/part-of": "spk"}},
			Type:       corev1.SecretTypeTLS,
			Data:       s.id.Files(),
		}
		if s.old == nil {
			_, err = secrets.Create(ctx, want, metav1.CreateOptions{})
		} else {
			want.ResourceVersion = s.old.ResourceVersion
			_, err = secrets.Update(ctx, want, metav1.UpdateOptions{})
		}
		if err != nil {
			return "", fmt.Errorf("writing Secret %s/%s: %w", ns, s.name, err)
		}
	}
	c.log.Info("TMM API certificates made", "why", why, "serverName", TMMAPIServerName(ns), "secrets", []string{TMMAPIServerSecret, TMMAPIClientSecret})
	return fingerprint(pair.Server.CA), nil
}

// removeAPITLS deletes both Secrets (Uninstall).
func (c *Client) removeAPITLS(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return fmt.Errorf("TMM API certificates: %w", err)
	}
	for _, name := range []string{TMMAPIServerSecret, TMMAPIClientSecret} {
		err := cs.CoreV1().Secrets(c.opts.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting Secret %s/%s: %w", c.opts.Namespace, name, err)
		}
	}
	return nil
}

// SecretIdentity is the TLS identity a Secret holds under apicerts'
// file names (what the chart mounts).
func SecretIdentity(s *corev1.Secret) apicerts.Identity {
	return apicerts.Identity{CA: s.Data[apicerts.CAFile], Cert: s.Data[apicerts.CertFile], Key: s.Data[apicerts.KeyFile]}
}

func fingerprint(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:8])
}
