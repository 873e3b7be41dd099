package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanyardhq/lanyard/internal/config"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a pool
// that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "lanyard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServesHTTPSWithACertificate(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	in := start(t, startOpts{mutate: func(c *config.Config) {
		c.Server.TLSCert, c.Server.TLSKey = certFile, keyFile
	}})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := strings.Replace(in.base, "http://", "https://", 1) + "/v1/me"
	hr, _ := http.NewRequest("GET", url, nil)
	hr.Header.Set("Authorization", "Bearer "+testBootstrap)
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("HTTPS /v1/me: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port gets no answer from the API.
	if plain, err := http.Get(in.base + "/healthz"); err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Fatal("the TLS port answered plain HTTP")
		}
	}
}

// TestRefusedCredentialsAreAudited: refused credentials reach the audit trail aggregated, named
// by a fingerprint, never by value.
func TestRefusedCredentialsAreAudited(t *testing.T) {
	dir := t.TempDir()
	in := start(t, startOpts{dataDir: dir})
	bad := "lk_" + strings.Repeat("A", 33)
	for i := 0; i < 3; i++ {
		in.must(401, req{method: "GET", path: "/v1/me", token: bad})
	}
	if err := in.stop(); err != nil { // shutdown flushes the pending refusals
		t.Fatal(err)
	}
	again := start(t, startOpts{dataDir: dir})
	a := again.must(200, req{method: "GET", path: "/v1/audit?action=credential.refused", token: testBootstrap})
	if strings.Contains(string(a.body), bad) || strings.Contains(string(a.body), bad[3:15]) {
		t.Fatalf("the refused token is in the audit trail: %s", a.body)
	}
	evs := a.json(t)["events"].([]any)
	if len(evs) != 1 {
		t.Fatalf("%d refusal events, want 1 aggregated: %s", len(evs), a.body)
	}
	e := evs[0].(map[string]any)
	if e["count"] != float64(3) || !strings.HasPrefix(e["target"].(string), "hmac:") || e["ip"] != "127.0.0.1" {
		t.Fatalf("refusal event = %v", e)
	}
}
