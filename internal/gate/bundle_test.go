package gate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// The DSSE specification's own example (envelope.md, "Test vectors").
func TestPAE(t *testing.T) {
	t.Parallel()
	if got := string(PAE("http://example.com/HelloWorld", []byte("hello world"))); got != "DSSEv1 29 http://example.com/HelloWorld 11 hello world" {
		t.Errorf("PAE = %q", got)
	}
}

func statement(d digest.Digest, predicate string) []byte {
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"` + d.Encoded() + `"}}],"predicateType":"` + predicate + `","predicate":{}}`)
}

func dsseBundle(t testing.TB, payloadType string, payload []byte, sign func([]byte) []byte) []byte {
	b, err := json.Marshal(map[string]any{"mediaType": MediaTypeBundle,
		"dsseEnvelope": map[string]any{"payload": payload, "payloadType": payloadType, "signatures": []map[string]any{{"sig": sign(PAE(payloadType, payload))}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBundleVerify(t *testing.T) {
	t.Parallel()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecSign := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		s, _ := ecdsa.SignASN1(rand.Reader, ec, h[:])
		return s
	}
	rsaSign := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		s, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, h[:])
		return s
	}
	want := digest.FromString("image")
	other := digest.FromString("other")
	keys := []Key{{Name: "ec.pub", Public: &ec.PublicKey}, {Name: "rsa.pub", Public: &rk.PublicKey}}
	raw, _ := hex.DecodeString(want.Encoded())
	msgSig, _ := ecdsa.SignASN1(rand.Reader, ec, raw)
	message, _ := json.Marshal(map[string]any{"mediaType": MediaTypeBundle,
		"messageSignature": map[string]any{"messageDigest": map[string]any{"algorithm": "SHA2_256", "digest": raw}, "signature": msgSig}})
	// A signature over the statement's bytes, not over PAE: DSSE's signatures sign PAE only.
	noPAE, _ := json.Marshal(map[string]any{"mediaType": MediaTypeBundle,
		"dsseEnvelope": map[string]any{"payload": statement(want, PredicateCosignSign), "payloadType": PayloadTypeInToto,
			"signatures": []map[string]any{{"sig": ecSign(statement(want, PredicateCosignSign))}}}})

	for _, c := range []struct {
		name   string
		bundle []byte
		signer string
		err    string
	}{
		{"DSSE by ECDSA", dsseBundle(t, PayloadTypeInToto, statement(want, PredicateCosignSign), ecSign), "ec.pub", ""},
		{"DSSE by RSA", dsseBundle(t, PayloadTypeInToto, statement(want, PredicateCosignSign), rsaSign), "rsa.pub", ""},
		{"message signature of the digest", message, "ec.pub", ""},
		{"statement of another digest", dsseBundle(t, PayloadTypeInToto, statement(other, PredicateCosignSign), ecSign), "", "it signs " + other.String()},
		{"attestation", dsseBundle(t, PayloadTypeInToto, statement(want, "https://spdx.dev/Document"), ecSign), "", "is an attestation"},
		{"other payload type", dsseBundle(t, "text/plain", statement(want, PredicateCosignSign), ecSign), "", `payloadType "text/plain"`},
		{"signature over the payload, not PAE", noPAE, "", "not by any trusted key"},
		{"payload changed after signing", []byte(strings.Replace(string(dsseBundle(t, PayloadTypeInToto, statement(want, PredicateCosignSign), ecSign)),
			`"payload":"`, `"payload":"IA`, 1)), "", ""},
	} {
		b, err := ParseBundle(c.bundle)
		if err != nil {
			if c.signer == "" {
				continue // refused before verification: blocked all the same
			}
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := b.Verify(keys, want)
		if got != c.signer || (c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err))) || (c.signer == "" && err == nil) {
			t.Errorf("%s: signer %q err %v; want %q, error saying %q", c.name, got, err, c.signer, c.err)
		}
		if err != nil && !errors.Is(err, ErrBundle) {
			t.Errorf("%s: error is not ErrBundle: %v", c.name, err)
		}
	}
}

func TestParseBundleRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `null`, `{}`, `[]`,
		`{"mediaType":"application/json","dsseEnvelope":{"payload":"","payloadType":"x","signatures":[{"sig":"AA=="}]}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"e30=","payloadType":"x","signatures":[]}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"e30=","payloadType":"x","signatures":[{"sig":"AA=="}]},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AA=="},"signature":"AA=="}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"MD5","digest":"AAAAAAAAAAAAAAAAAAAAAA=="},"signature":"AA=="}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"not base64!","payloadType":"x","signatures":[{"sig":"AA=="}]}}`,
		`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payload":"e30=","payloadType":"x","signatures":[{"sig":"AA=="}]}} {}`,
	} {
		if b, err := ParseBundle([]byte(in)); err == nil || !errors.Is(err, ErrBundle) {
			t.Errorf("%s: %+v %v, want an ErrBundle", in, b, err)
		}
	}
}

// FuzzParseBundle: no input panics the parser or the verifier, every refusal is an ErrBundle,
// and nothing verifies under a key whose private half the fuzzer does not have.
func FuzzParseBundle(f *testing.F) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(msg []byte) []byte {
		h := sha256.Sum256(msg)
		s, _ := ecdsa.SignASN1(rand.Reader, ec, h[:])
		return s
	}
	want := digest.FromString("image")
	f.Add(dsseBundle(f, PayloadTypeInToto, statement(want, PredicateCosignSign), sign))
	f.Add(dsseBundle(f, PayloadTypeInToto, []byte(`{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{"sha256":"00"}},{}],"predicateType":"`+PredicateCosignSign+`"}`), sign))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"` +
		"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=" + `"},"signature":"MEUCIQ=="}}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","dsseEnvelope":{"payload":"e30=","payloadType":"","signatures":[{"sig":"AA=="},{"sig":null}]}}`))
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []Key{{Name: "stranger", Public: &stranger.PublicKey}}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := ParseBundle(in)
		if err != nil {
			if !errors.Is(err, ErrBundle) {
				t.Fatalf("error not ErrBundle: %v", err)
			}
			return
		}
		if (b.DSSE == nil) == (b.Message == nil) {
			t.Fatalf("accepted a bundle with %v DSSE and %v message", b.DSSE != nil, b.Message != nil)
		}
		if who, err := b.Verify(keys, want); err == nil || who != "" {
			t.Fatalf("verified under a key nobody signed with: %q", who)
		}
		if b.DSSE != nil {
			if err := CheckStatement(b.DSSE.Payload, want); err == nil && !strings.Contains(string(b.DSSE.Payload), want.Encoded()) {
				t.Fatal("CheckStatement accepted a statement that does not name the digest")
			}
		}
	})
}
