package ecrstandin

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The KMS stand-in: GetPublicKey over the AWS JSON 1.1 protocol (X-Amz-Target
// TrentService.GetPublicKey), for signature keys given as awskms:///ARN. It answers as the AWS
// KMS API Reference documents: the public key as a DER SubjectPublicKeyInfo (base64 in JSON), its
// KeySpec, KeyUsage and SigningAlgorithms; a key it does not hold is NotFoundException, a disabled
// one DisabledException, one pending deletion KMSInvalidStateException, and a caller the key
// policy does not allow AccessDeniedException (Deny(account, "kms:GetPublicKey") denies it on
// the identity side instead). The private half never leaves the test that made it.

// KMSKey is one asymmetric KMS key the stand-in holds.
type KMSKey struct {
	Public crypto.PublicKey
	// KeySpec as KMS names it: ECC_NIST_P256, ECC_NIST_P384, RSA_2048...
	KeySpec string
	// KeyUsage: SIGN_VERIFY (what cosign signs with), ENCRYPT_DECRYPT, KEY_AGREEMENT; "" means
	// SIGN_VERIFY.
	KeyUsage string
	// State: Enabled (""), Disabled, PendingDeletion.
	State string
	// PolicyDenies makes the key policy deny every caller, as a key policy that names neither
	// the caller's role nor its account does.
	PolicyDenies bool
}

// PutKMSKey stores the key whose ARN is arn (arn:aws:kms:REGION:ACCOUNT:key/ID).
func (s *Server) PutKMSKey(arn string, k KMSKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kmsKeys == nil {
		s.kmsKeys = map[string]KMSKey{}
	}
	s.kmsKeys[arn] = k
}

func (s *Server) serveKMS(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyID string `json:"KeyId"`
	}
	c, ok := s.jsonCall(w, r, "TrentService.GetPublicKey", "kms:GetPublicKey", &in)
	if !ok {
		return
	}
	s.mu.Lock()
	k, ok := s.kmsKeys[in.KeyID]
	s.mu.Unlock()
	who := c.arn
	if who == "" {
		who = "arn:aws:iam::123456789012:role/caller"
	}
	switch {
	case !ok:
		writeAPIError(w, apiError{400, "NotFoundException", fmt.Sprintf("Key '%s' does not exist", in.KeyID)})
		return
	case k.PolicyDenies:
		writeAPIError(w, apiError{400, "AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: kms:GetPublicKey on resource: %s because no resource-based policy allows the kms:GetPublicKey action", who, in.KeyID)})
		return
	case k.State == "Disabled":
		writeAPIError(w, apiError{400, "DisabledException", in.KeyID + " is disabled."})
		return
	case k.State == "PendingDeletion":
		writeAPIError(w, apiError{400, "KMSInvalidStateException", in.KeyID + " is pending deletion."})
		return
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		writeAPIError(w, apiError{500, "KMSInternalException", err.Error()})
		return
	}
	usage := k.KeyUsage
	if usage == "" {
		usage = "SIGN_VERIFY"
	}
	out := map[string]any{"KeyId": in.KeyID, "KeySpec": k.KeySpec, "CustomerMasterKeySpec": k.KeySpec, "KeyUsage": usage,
		"PublicKey": base64.StdEncoding.EncodeToString(der)}
	if usage == "SIGN_VERIFY" {
		out["SigningAlgorithms"] = signingAlgorithms(k.KeySpec)
	} else {
		out["EncryptionAlgorithms"] = []string{"RSAES_OAEP_SHA_256"}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

// signingAlgorithms are the SigningAlgorithms KMS lists for a key spec.
func signingAlgorithms(spec string) []string {
	switch spec {
	case "ECC_NIST_P256":
		return []string{"ECDSA_SHA_256"}
	case "ECC_NIST_P384":
		return []string{"ECDSA_SHA_384"}
	case "ECC_NIST_P521":
		return []string{"ECDSA_SHA_512"}
	}
	return []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PSS_SHA_256"}
}

// jsonCall begins an AWS JSON 1.1 call: it answers UnknownOperationException unless r is a POST
// of target (Service.Operation), decodes the body into in, counts the call and authorizes
// action. ok false means it has written the error answer.
func (s *Server) jsonCall(w http.ResponseWriter, r *http.Request, target, action string, in any) (c credential, ok bool) {
	if got := r.Header.Get("X-Amz-Target"); r.Method != http.MethodPost || got != target {
		writeAPIError(w, apiError{400, "UnknownOperationException", "the stand-in does not implement " + got})
		return c, false
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, in); err != nil {
		writeAPIError(w, apiError{400, "SerializationException", err.Error()})
		return c, false
	}
	op := target[strings.IndexByte(target, '.')+1:]
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	c, aerr := s.caller(r, action)
	if aerr != nil {
		writeAPIError(w, *aerr)
		return c, false
	}
	return c, true
}
