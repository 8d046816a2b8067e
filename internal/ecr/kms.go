package ecr

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// KMSKeys resolves KMS key ARNs (a rule's awskms:///ARN signature keys) to their public keys with
// kms:GetPublicKey, in the key's own Region, with the process's own credentials (the function's
// execution role). It implements gate.KeySource. A key read once is kept for the life of the
// process (a KMS key's public half never changes); a failure is not kept, so a fixed key policy
// works at the next event.
//
// It makes the one call itself, over KMS's AWS JSON 1.1 protocol signed with the SDK's SigV4
// signer, instead of through aws-sdk-go-v2/service/kms: that client measured +1.20 MB on the
// amd64 bootstrap (17.69 -> 18.89 MB, past the 18 MB budget) and +1.05 MB on arm64, for one
// read-only call; this costs a few kilobytes. KMS's endpoint is https://kms.REGION.amazonaws.com
// (.amazonaws.com.cn in China), or the configuration's BaseEndpoint (tests, the KMS stand-in).
type KMSKeys struct {
	// AWS returns the AWS configuration to call with (credentials, HTTP client, BaseEndpoint);
	// required. It is called when a key is first read, not before.
	AWS func(ctx context.Context) (aws.Config, error)

	mu    sync.Mutex
	cache map[string]crypto.PublicKey
}

// NewKMSKeys returns KMSKeys that call with cfg's configuration.
func NewKMSKeys(cfg func(ctx context.Context) (aws.Config, error)) *KMSKeys {
	return &KMSKeys{AWS: cfg}
}

// PublicKey returns the public key of the KMS key keyARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID
// or :alias/NAME). A failure is a *KMSKeyError, classified (Classify): denied, missing or
// disabled keys are Permanent, throttling and KMS's own faults Transient.
func (k *KMSKeys) PublicKey(ctx context.Context, keyARN string) (crypto.PublicKey, error) {
	k.mu.Lock()
	pub, ok := k.cache[keyARN]
	k.mu.Unlock()
	if ok {
		return pub, nil
	}
	cfg, err := k.AWS(ctx)
	if err != nil {
		return nil, fmt.Errorf("KMS key %s: %w", keyARN, err)
	}
	out, err := getPublicKey(ctx, cfg, keyARN)
	if err != nil {
		return nil, Classified(&KMSKeyError{Key: keyARN, Err: err})
	}
	if out.KeyUsage != "SIGN_VERIFY" {
		return nil, registry.WithClass(&KMSKeyError{Key: keyARN, Err: fmt.Errorf("%w: key usage %s, not SIGN_VERIFY", ErrNotSigningKey, out.KeyUsage)}, registry.Permanent)
	}
	pub, err = gate.ParsePKIX(out.PublicKey)
	if err != nil {
		return nil, registry.WithClass(&KMSKeyError{Key: keyARN, Err: fmt.Errorf("key spec %s: %w", out.KeySpec, err)}, registry.Permanent)
	}
	k.mu.Lock()
	if k.cache == nil {
		k.cache = map[string]crypto.PublicKey{}
	}
	k.cache[keyARN] = pub
	k.mu.Unlock()
	return pub, nil
}

// getPublicKeyOutput is the part of GetPublicKey's answer read here (AWS KMS API Reference,
// GetPublicKey: PublicKey is the DER SubjectPublicKeyInfo, base64 in JSON).
type getPublicKeyOutput struct {
	KeyID     string `json:"KeyId"`
	KeySpec   string `json:"KeySpec"`
	KeyUsage  string `json:"KeyUsage"`
	PublicKey []byte `json:"PublicKey"`
}

// getPublicKey makes one kms:GetPublicKey call (callJSON) in the key's own Region.
func getPublicKey(ctx context.Context, cfg aws.Config, keyARN string) (*getPublicKeyOutput, error) {
	p := strings.SplitN(keyARN, ":", 6)
	if len(p) != 6 {
		return nil, fmt.Errorf("%q is not a KMS key ARN", keyARN)
	}
	var out getPublicKeyOutput
	if err := callJSON(ctx, cfg, "kms", p[3], "TrentService.GetPublicKey", map[string]string{"KeyId": keyARN}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrNotSigningKey is a KMS key made for encryption or key agreement: no signature is made with it.
var ErrNotSigningKey = errors.New("not a signing key")

// KMSKeyError is a KMS key whose public key could not be read; its message names the key and
// what to change.
type KMSKeyError struct {
	Key string // the key's ARN
	Err error
}

func (e *KMSKeyError) Error() string {
	code := apiCode(e.Err)
	var fix string
	switch {
	case strings.HasPrefix(code, "AccessDenied"):
		fix = "kms:GetPublicKey was denied: allow it on this key in the function's role policy AND in the key's key policy (the key policy must allow the role, or the account with IAM policies enabled; the Terraform module grants the role's side for the awskms:/// entries of signature_keys, the key's owner grants the key policy's)"
	case code == "NotFoundException":
		fix = "no such key: check the account, Region and key ID (or alias) of the awskms:/// reference in the rule"
	case code == "DisabledException":
		fix = "the key is disabled: enable it (aws kms enable-key) or take it out of the rule"
	case code == "KMSInvalidStateException":
		fix = "the key is pending deletion or not usable: cancel the deletion or take it out of the rule"
	case errors.Is(e.Err, ErrNotSigningKey), errors.Is(e.Err, gate.ErrKey):
		fix = "cosign signs with an asymmetric SIGN_VERIFY key (ECC_NIST_P256/P384/P521 or RSA_2048+): name such a key"
	default:
		fix = "check that KMS is reachable from here and the key ARN is right"
	}
	return fmt.Sprintf("reading the public key of KMS key %s (kms:GetPublicKey): %v; %s", e.Key, e.Err, fix)
}

func (e *KMSKeyError) Unwrap() error { return e.Err }
