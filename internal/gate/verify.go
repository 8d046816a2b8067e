package gate

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
)

// VerifySignature reports whether sig is a signature by pub over msg, as cosign and sigstore
// make them: ECDSA (ASN.1 DER) over SHA-256 of msg, or over the hash that matches the curve
// (SHA-384 for P-384, SHA-512 for P-521: sigstore-go's default for those keys); RSA PKCS #1
// v1.5 or PSS over SHA-256; Ed25519 over msg itself. A key of another kind verifies nothing.
func VerifySignature(pub crypto.PublicKey, msg, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		if ecdsa.VerifyASN1(k, h[:], sig) {
			return true
		}
		switch k.Curve {
		case elliptic.P384():
			h := sha512.Sum384(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		case elliptic.P521():
			h := sha512.Sum512(msg)
			return ecdsa.VerifyASN1(k, h[:], sig)
		}
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil ||
			rsa.VerifyPSS(k, crypto.SHA256, h[:], sig, nil) == nil
	case ed25519.PublicKey:
		return len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig)
	}
	return false
}

// VerifyDigestSignature reports whether sig is a signature by pub over a message known only by
// its digest (of hash h): ECDSA (ASN.1 DER) or RSA PKCS #1 v1.5 or PSS over the digest as given.
// Ed25519 signs messages, not digests, and verifies nothing here.
func VerifyDigestSignature(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	if !h.Available() || len(digest) != h.Size() {
		return false
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil || rsa.VerifyPSS(k, h, digest, sig, nil) == nil
	}
	return false
}
