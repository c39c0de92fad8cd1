package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/pbenchd/pbenchd/internal/action"
	"github.com/pbenchd/pbenchd/internal/config"
)

// WriteTestCert writes a self-signed certificate and its key into dir.
func writeTestCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pbenchd-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestWebConfigValidation: `check` and reload (both config.Load) refuse a
// web config that would break the HTTP server, with an exact message.
func TestWebConfigValidation(t *testing.T) {
	dir := t.TempDir()
	writeTestCert(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good.yml", "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  alice: "+string(hash)+"\n")
	missing := filepath.Join(dir, "missing.yml")
	noCert := file("nocert.yml", "tls_server_config:\n  cert_file: gone.pem\n  key_file: key.pem\n")
	badHash := file("badhash.yml", "basic_auth_users:\n  bob: plaintext\n")
	unknown := file("unknown.yml", "basic_auth:\n  bob: x\n")
	keyMismatch := file("swapped.yml", "tls_server_config:\n  cert_file: key.pem\n  key_file: cert.pem\n")
	cases := []struct {
		name, listen, file string
		want               []string
	}{
		{"a good file with TLS and a user", "", good, nil},
		{"a missing file", "", missing, []string{"web.config_file: " + missing + ": no such file or directory"}},
		{"a missing certificate", "", noCert, []string{"web.config_file: " + noCert + ": tls_server_config.cert_file: open " + filepath.Join(dir, "gone.pem") + ": no such file or directory"}},
		{"a bad bcrypt hash", "", badHash, []string{"web.config_file: " + badHash + ": basic_auth_users.bob: not a bcrypt hash (make one with htpasswd -nBC 10 bob): crypto/bcrypt: hashedSecret too short to be a bcrypted password"}},
		{"an unknown key", "", unknown, []string{"web.config_file: " + unknown + ": basic_auth: unknown key; allowed are basic_auth_users, http_server_config, rate_limit, tls_server_config"}},
		{"a key in place of the certificate", "", keyMismatch, []string{"web.config_file: " + keyMismatch + ": failed to load X509KeyPair: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched"}},
		{"not an address", "not an address", "", []string{`web.listen_address: "not an address" is not host:port (like :9731 or 127.0.0.1:9731): address not an address: missing port in address`}},
		{"a port out of range", "127.0.0.1:70000", "", []string{`web.listen_address: "127.0.0.1:70000": port "70000" is not a number from 0 to 65535`}},
		{"both at once", "x:y", missing, []string{
			`web.listen_address: "x:y": port "y" is not a number from 0 to 65535`,
			"web.config_file: " + missing + ": no such file or directory"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]any{}
			if tc.listen != "" {
				set["web.listen_address"] = tc.listen
			}
			if tc.file != "" {
				set["web.config_file"] = tc.file
			}
			cfg, err := config.Load(config.Options{Kinds: action.Kinds, Environ: []string{}, Set: set})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want no error, got:\n%v", err)
				}
				snap := string(cfg.WebSnapshot())
				if !strings.Contains(snap, "BEGIN CERTIFICATE") || strings.Contains(snap, "cert_file") {
					t.Errorf("the snapshot does not inline the certificate:\n%s", snap)
				}
				return
			}
			if err == nil {
				t.Fatalf("loaded; want\n%s", strings.Join(tc.want, "\n"))
			}
			if got := err.Error(); got != strings.Join(tc.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}
