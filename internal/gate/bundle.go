package gate

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The Sigstore bundle form of a cosign signature (cosign v3, `--new-bundle-format`): an OCI 1.1
// referrer of the image, artifactType MediaTypeBundle, whose one layer is the bundle JSON
// (sigstore protobuf-specs, sigstore_bundle.proto, in its JSON mapping). Verified here with a
// public key, without Fulcio certificates, Rekor entries or timestamps: those are keyless
// material this verifier does not read (the README says so).
const (
	// MediaTypeBundle is the bundle's media type, as the referrer's artifactType and its layer's.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// PayloadTypeInToto is the DSSE payload type of an in-toto statement.
	PayloadTypeInToto = "application/vnd.in-toto+json"
	// PredicateCosignSign is the predicate type of cosign's image signature statement; other
	// predicates (SLSA provenance, SBOMs) are attestations and sign nothing here, as other
	// critical.type values do not in the simple-signing form.
	PredicateCosignSign = "https://sigstore.dev/cosign/sign/v1"
	// MaxBundle bounds a bundle read into memory: a key-based one is a few kilobytes; with a
	// certificate chain and log entries tens.
	MaxBundle = 256 << 10
)

// IsBundleType reports whether mediaType is a Sigstore bundle's (v0.1 to v0.3, with or without
// the version parameter form cosign v2 used).
func IsBundleType(mediaType string) bool {
	return strings.HasPrefix(mediaType, "application/vnd.dev.sigstore.bundle") && strings.Contains(mediaType, "+json")
}

// ErrBundle is wrapped by every error about a bundle that does not sign the image.
var ErrBundle = errors.New("sigstore bundle does not sign this image")

// Bundle is the part of a Sigstore bundle the gate checks: a DSSE envelope or a message
// signature (the bundle holds exactly one).
type Bundle struct {
	MediaType string
	DSSE      *Envelope
	Message   *MessageSignature
}

// Envelope is a DSSE envelope (github.com/secure-systems-lab/dsse, envelope.md).
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  [][]byte
}

// MessageSignature is a signature over a message known by its digest alone.
type MessageSignature struct {
	Algorithm crypto.Hash // of Digest: SHA-256, SHA-384 or SHA-512
	Digest    []byte
	Signature []byte
}

// hashAlgorithms maps the bundle's HashAlgorithm names (sigstore_common.proto) to hashes.
var hashAlgorithms = map[string]crypto.Hash{"SHA2_256": crypto.SHA256, "SHA2_384": crypto.SHA384, "SHA2_512": crypto.SHA512}

// ParseBundle reads a bundle strictly: one JSON object of a Sigstore bundle media type, exactly
// one of dsseEnvelope and messageSignature, base64 fields that decode. It never panics on any
// input (fuzzed).
func ParseBundle(b []byte) (*Bundle, error) {
	if len(b) > MaxBundle {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBundle, len(b), MaxBundle)
	}
	// []byte fields decode from base64, as protobuf's JSON mapping encodes bytes.
	var doc struct {
		MediaType    string `json:"mediaType"`
		DSSEEnvelope *struct {
			Payload     []byte `json:"payload"`
			PayloadType string `json:"payloadType"`
			Signatures  []struct {
				Sig []byte `json:"sig"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
		MessageSignature *struct {
			MessageDigest *struct {
				Algorithm string `json:"algorithm"`
				Digest    []byte `json:"digest"`
			} `json:"messageDigest"`
			Signature []byte `json:"signature"`
		} `json:"messageSignature"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: not a bundle: %w", ErrBundle, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBundle)
	}
	if !IsBundleType(doc.MediaType) {
		return nil, fmt.Errorf("%w: mediaType %q, want %s", ErrBundle, doc.MediaType, MediaTypeBundle)
	}
	out := &Bundle{MediaType: doc.MediaType}
	switch e, m := doc.DSSEEnvelope, doc.MessageSignature; {
	case e != nil && m != nil:
		return nil, fmt.Errorf("%w: both dsseEnvelope and messageSignature", ErrBundle)
	case e != nil:
		out.DSSE = &Envelope{PayloadType: e.PayloadType, Payload: e.Payload}
		for _, s := range e.Signatures {
			if len(s.Sig) > 0 {
				out.DSSE.Signatures = append(out.DSSE.Signatures, s.Sig)
			}
		}
		if len(out.DSSE.Signatures) == 0 {
			return nil, fmt.Errorf("%w: DSSE envelope without signatures", ErrBundle)
		}
	case m != nil:
		if m.MessageDigest == nil || len(m.Signature) == 0 {
			return nil, fmt.Errorf("%w: messageSignature without messageDigest or signature", ErrBundle)
		}
		h, ok := hashAlgorithms[m.MessageDigest.Algorithm]
		if !ok || len(m.MessageDigest.Digest) != h.Size() {
			return nil, fmt.Errorf("%w: messageDigest %s of %d bytes: want SHA2_256, SHA2_384 or SHA2_512 of their size", ErrBundle, m.MessageDigest.Algorithm, len(m.MessageDigest.Digest))
		}
		out.Message = &MessageSignature{Algorithm: h, Digest: m.MessageDigest.Digest, Signature: m.Signature}
	default:
		return nil, fmt.Errorf("%w: neither dsseEnvelope nor messageSignature", ErrBundle)
	}
	return out, nil
}

// PAE is DSSE's pre-authentication encoding of a payload, what its signatures sign:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Verify checks that the bundle signs want with one of keys and returns that key's name. The
// signature is checked first, and the statement believed only once signed:
//   - DSSE: a signature over PAE(payloadType, payload) by a key; payloadType in-toto; the
//     statement's predicateType cosign's image signature; one of its subjects has want's digest.
//   - messageSignature: messageDigest is want itself (the manifest's bytes are the message) and
//     the signature verifies over that digest.
func (b *Bundle) Verify(keys []Key, want digest.Digest) (string, error) {
	switch {
	case b.DSSE != nil:
		e := b.DSSE
		signer := ""
		msg := PAE(e.PayloadType, e.Payload)
	find:
		for _, sig := range e.Signatures {
			for _, k := range keys {
				if VerifySignature(k.Public, msg, sig) {
					signer = k.Name
					break find
				}
			}
		}
		if signer == "" {
			return "", fmt.Errorf("%w: DSSE signature is not by any trusted key", ErrBundle)
		}
		if e.PayloadType != PayloadTypeInToto {
			return "", fmt.Errorf("%w: signed by %s, but payloadType %q is not %s", ErrBundle, signer, e.PayloadType, PayloadTypeInToto)
		}
		if err := CheckStatement(e.Payload, want); err != nil {
			return "", fmt.Errorf("signed by %s, but %w", signer, err)
		}
		return signer, nil
	case b.Message != nil:
		m := b.Message
		if want.Algorithm().String() != digestName(m.Algorithm) || hex.EncodeToString(m.Digest) != want.Encoded() {
			return "", fmt.Errorf("%w: messageDigest %s:%s is not %s", ErrBundle, digestName(m.Algorithm), hex.EncodeToString(m.Digest), want)
		}
		for _, k := range keys {
			if VerifyDigestSignature(k.Public, m.Algorithm, m.Digest, m.Signature) {
				return k.Name, nil
			}
		}
		return "", fmt.Errorf("%w: message signature is not by any trusted key", ErrBundle)
	}
	return "", fmt.Errorf("%w: nothing signed", ErrBundle)
}

func digestName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "sha256"
	case crypto.SHA384:
		return "sha384"
	case crypto.SHA512:
		return "sha512"
	}
	return h.String()
}

// CheckStatement reads an in-toto statement (v0.1 or v1) strictly and checks that it is cosign's
// image signature of want: predicateType PredicateCosignSign and a subject with want's digest.
func CheckStatement(b []byte, want digest.Digest) error {
	if len(b) > MaxBundle {
		return fmt.Errorf("%w: statement of %d bytes, more than %d", ErrBundle, len(b), MaxBundle)
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("%w: statement is not JSON: %w", ErrBundle, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: data after the statement", ErrBundle)
	}
	switch {
	case st.Type != "https://in-toto.io/Statement/v1" && st.Type != "https://in-toto.io/Statement/v0.1":
		return fmt.Errorf("%w: statement _type %q is not an in-toto statement", ErrBundle, st.Type)
	case st.PredicateType != PredicateCosignSign:
		return fmt.Errorf("%w: predicateType %q is an attestation, not cosign's image signature (%s)", ErrBundle, st.PredicateType, PredicateCosignSign)
	}
	var named []string
	for _, s := range st.Subject {
		if got, ok := s.Digest[want.Algorithm().String()]; ok {
			if got == want.Encoded() {
				return nil
			}
			named = append(named, want.Algorithm().String()+":"+got)
		}
	}
	if len(named) == 0 {
		return fmt.Errorf("%w: the statement names no %s subject", ErrBundle, want.Algorithm())
	}
	return fmt.Errorf("%w: it signs %s, not %s", ErrBundle, strings.Join(named, ", "), want)
}
