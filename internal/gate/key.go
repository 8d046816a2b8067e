// Package gate decides whether an image may be promoted: a signature from a trusted key over
// the exact digest being copied, and scan findings no worse than a rule allows. It is pure: keys,
// payloads, signatures and findings go in, a Verdict with reasons a security reviewer can act on
// comes out; reading them from registries and from ECR is internal/promote's part.
package gate

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KMSPrefix starts a key reference to an AWS KMS asymmetric key (cosign's form):
// awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID. Its public key is read with kms:GetPublicKey.
const KMSPrefix = "awskms:///"

// Key is one public key a signature may be made with.
type Key struct {
	// Name says where the key came from, for reasons and logs: the file path, "inline key
	// (sha256:<first 12 hex of the DER>)", or the KMS key ARN.
	Name string
	// Public is the key; nil for a KMS key until resolved through a KeySource.
	Public crypto.PublicKey
	// KMS is the KMS key ARN of a KMS key reference, "" otherwise.
	KMS string
}

// KeySource resolves KMS key references to their public keys (kms:GetPublicKey).
type KeySource interface {
	PublicKey(ctx context.Context, keyARN string) (crypto.PublicKey, error)
}

// ErrKey is wrapped by every error about a key: it cannot be read or is of a kind no cosign
// signature is made with.
var ErrKey = errors.New("bad public key")

// LoadKey reads a key reference as the config gives it: inline PEM (starting with -----BEGIN),
// a KMS key (awskms:///arn:...), or a path to a PEM file, read with readFile (os.ReadFile).
func LoadKey(ref string, readFile func(string) ([]byte, error)) (Key, error) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "-----BEGIN"):
		pub, err := ParsePublicKey([]byte(ref))
		if err != nil {
			return Key{}, fmt.Errorf("inline key: %w", err)
		}
		return Key{Name: "inline key (" + Fingerprint(pub) + ")", Public: pub}, nil
	case strings.HasPrefix(ref, KMSPrefix):
		arn := strings.TrimPrefix(ref, KMSPrefix)
		if !validKMSARN(arn) {
			return Key{}, fmt.Errorf("%w: %q: want awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (or alias/NAME)", ErrKey, ref)
		}
		return Key{Name: arn, KMS: arn}, nil
	case ref == "":
		return Key{}, fmt.Errorf("%w: empty key reference: give a PEM file path, inline PEM or awskms:///ARN", ErrKey)
	}
	b, err := readFile(ref)
	if err != nil {
		return Key{}, fmt.Errorf("%w: reading %s: %w (give the path of cosign.pub, inline PEM, or awskms:///ARN)", ErrKey, ref, err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", ref, err)
	}
	return Key{Name: ref, Public: pub}, nil
}

// validKMSARN accepts arn:PARTITION:kms:REGION:ACCOUNT:key/ID or :alias/NAME.
func validKMSARN(arn string) bool {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[2] != "kms" || p[3] == "" || len(p[4]) != 12 {
		return false
	}
	if p[1] != "aws" && p[1] != "aws-cn" && p[1] != "aws-us-gov" {
		return false
	}
	typ, id, ok := strings.Cut(p[5], "/")
	return ok && (typ == "key" || typ == "alias") && id != ""
}

// ParsePublicKey reads one PEM public key of a kind cosign signs with: ECDSA P-256, P-384 or
// P-521, RSA of at least 2048 bits, or Ed25519, as "PUBLIC KEY" (PKIX, what cosign writes) or
// "RSA PUBLIC KEY" (PKCS #1).
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	blk, rest := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block (want -----BEGIN PUBLIC KEY-----, as in cosign.pub)", ErrKey)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return nil, fmt.Errorf("%w: more than one PEM block: give one key per entry", ErrKey)
	}
	var pub crypto.PublicKey
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("%w: %s is a private key: give the public one (cosign.pub), and keep the private key out of the config", ErrKey, blk.Type)
	default:
		return nil, fmt.Errorf("%w: PEM block %q: want PUBLIC KEY", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return checkKind(pub)
}

// ParsePKIX reads a DER SubjectPublicKeyInfo (what kms:GetPublicKey returns) of a kind cosign
// signs with, as ParsePublicKey does for PEM.
func ParsePKIX(der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return checkKind(pub)
}

// checkKind accepts the keys cosign signs with and refuses weaker or other ones.
func checkKind(pub crypto.PublicKey) (crypto.PublicKey, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return k, nil
		}
		return nil, fmt.Errorf("%w: ECDSA curve %s: want P-256, P-384 or P-521", ErrKey, k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits: want at least 2048", ErrKey, k.N.BitLen())
		}
		return k, nil
	case ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("%w: %T: want an ECDSA, RSA or Ed25519 key", ErrKey, pub)
}

// Fingerprint names a public key for people: sha256 of its PKIX DER, first 12 hex digits.
func Fingerprint(pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "unknown key"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:6])
}
