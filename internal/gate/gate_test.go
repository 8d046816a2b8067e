package gate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func pemOf(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestLoadKeyAcceptsEveryForm(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dir := t.TempDir()
	path := filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(path, pemOf(t, &ec.PublicKey), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(path, os.ReadFile)
	if err != nil || k.Name != path || k.Public == nil {
		t.Fatalf("file: %+v %v", k, err)
	}
	k, err = LoadKey(string(pemOf(t, &ec.PublicKey)), os.ReadFile)
	if err != nil || !strings.HasPrefix(k.Name, "inline key (sha256:") {
		t.Fatalf("inline: %+v %v", k, err)
	}
	k, err = LoadKey("awskms:///arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab", os.ReadFile)
	if err != nil || k.KMS != "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab" || k.Public != nil {
		t.Fatalf("kms: %+v %v", k, err)
	}
}

func TestLoadKeyRefusals(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	priv, _ := x509.MarshalPKCS8PrivateKey(small)
	for _, c := range []struct{ name, ref, want string }{
		{"missing file", "/nonexistent/cosign.pub", "reading /nonexistent/cosign.pub"},
		{"not PEM", "-----BEGIN nothing", "no PEM block"},
		{"private key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})), "private key"},
		{"P-224", string(pemOf(t, &ec.PublicKey)), "curve P-224"},
		{"RSA 1024", string(pemOf(t, &small.PublicKey)), "1024 bits"},
		{"bad KMS ARN", "awskms:///arn:aws:kms:us-east-1:1111:key/x", "awskms:///arn"},
		{"empty", "", "empty key reference"},
	} {
		_, err := LoadKey(c.ref, os.ReadFile)
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrKey saying %q", c.name, err, c.want)
		}
	}
}

func TestVerifySignatureEveryKeyKind(t *testing.T) {
	t.Parallel()
	msg := []byte(`{"critical":{}}`)
	h := sha256.Sum256(msg)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	epub, epriv, _ := ed25519.GenerateKey(rand.Reader)
	s256, _ := ecdsa.SignASN1(rand.Reader, p256, h[:])
	s384, _ := p384.Sign(rand.Reader, sha384(msg), crypto.SHA384)
	srsa, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, h[:])
	spss, _ := rsa.SignPSS(rand.Reader, rk, crypto.SHA256, h[:], nil)
	sed := ed25519.Sign(epriv, msg)
	for _, c := range []struct {
		name string
		pub  crypto.PublicKey
		sig  []byte
	}{{"P-256", &p256.PublicKey, s256}, {"P-384 with SHA-384", &p384.PublicKey, s384}, {"RSA PKCS1v15", &rk.PublicKey, srsa},
		{"RSA PSS", &rk.PublicKey, spss}, {"Ed25519", epub, sed}} {
		if !VerifySignature(c.pub, msg, c.sig) {
			t.Errorf("%s: a good signature does not verify", c.name)
		}
		if VerifySignature(c.pub, append([]byte(" "), msg...), c.sig) {
			t.Errorf("%s: a signature verifies over other bytes", c.name)
		}
	}
	if VerifySignature(&p384.PublicKey, msg, s256) {
		t.Error("a signature verifies under another key")
	}
}

func sha384(b []byte) []byte {
	h := crypto.SHA384.New()
	h.Write(b)
	return h.Sum(nil)
}

const goodPayload = `{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"},"image":{"docker-manifest-digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"},"type":"cosign container image signature"},"optional":null}`

func TestCheckPayload(t *testing.T) {
	t.Parallel()
	want := digest.Digest("sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b")
	if p, err := CheckPayload([]byte(goodPayload), want); err != nil || p.DockerReference != "127.0.0.1:5000/app" {
		t.Fatalf("good payload: %+v %v", p, err)
	}
	other := digest.FromString("other")
	for _, c := range []struct{ name, payload, want string }{
		{"another digest", goodPayload, "it signs sha256:6c3c"},
		{"attestation type", strings.Replace(goodPayload, "cosign container image signature", "https://in-toto.io/Statement/v1", 1), "critical.type"},
		{"no image", `{"critical":{"type":"cosign container image signature"}}`, "no critical.image"},
		{"bad digest", strings.Replace(goodPayload, "sha256:6c3c", "sha256:XYZ", 1), "docker-manifest-digest"},
		{"trailing data", goodPayload + `{}`, "data after"},
		{"not JSON", `critical`, "not JSON"},
		{"no critical", `{}`, "no critical section"},
	} {
		_, err := CheckPayload([]byte(c.payload), other)
		if !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrPayload saying %q", c.name, err, c.want)
		}
	}
}

// FuzzParsePayload: no input panics, and whatever parses names a valid digest of the right
// type, and re-checks equal to that digest only.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(goodPayload))
	f.Add([]byte(`{"critical":{"image":{"docker-manifest-digest":"sha512:00"},"type":"cosign container image signature"}}`))
	f.Add([]byte(`{"Critical":{"Image":{"Docker-Manifest-Digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"},"TYPE":"cosign container image signature"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("error not ErrPayload: %v", err)
			}
			return
		}
		if p.Type != SimpleSigningType || p.Digest.Validate() != nil {
			t.Fatalf("accepted %+v", p)
		}
		if _, err := CheckPayload(b, digest.FromBytes(b)); err == nil && p.Digest != digest.FromBytes(b) {
			t.Fatal("CheckPayload accepted a digest the payload does not name")
		}
	})
}

func TestJudgeScans(t *testing.T) {
	t.Parallel()
	clean := &ScanResult{Digest: "sha256:a", Status: ScanComplete, Counts: map[string]int{"LOW": 3, "HIGH": 1}}
	crit := &ScanResult{Digest: "sha256:b", Status: ScanComplete, Counts: map[string]int{"CRITICAL": 2, "HIGH": 1},
		Findings: []Finding{{"CVE-1", "HIGH"}, {"CVE-2", "CRITICAL"}, {"CVE-3", "CRITICAL"}}}
	pending := &ScanResult{Digest: "sha256:c", Status: ScanInProgress}
	p := ScanPolicy{MaxSeverity: "HIGH"}
	if r := p.Judge([]*ScanResult{clean}); r != nil {
		t.Errorf("clean blocked: %v", r)
	}
	r := p.Judge([]*ScanResult{clean, crit, pending})
	if len(r) != 2 || r[0] != "sha256:b has findings above HIGH: 2 CRITICAL (CVE-2 CRITICAL, CVE-3 CRITICAL)" || !strings.Contains(r[1], "IN_PROGRESS") {
		t.Errorf("reasons %q", r)
	}
	if r := (ScanPolicy{MaxSeverity: "MEDIUM"}).Judge([]*ScanResult{clean}); len(r) != 1 || !strings.Contains(r[0], "1 HIGH") {
		t.Errorf("MEDIUM: %q", r)
	}
	if _, err := ParseSeverity("SEVERE"); err == nil {
		t.Error("unknown severity accepted")
	}
}
