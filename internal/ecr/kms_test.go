package ecr_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
	"github.com/ecrsync/ecrsync/internal/registry"
)

// KMSKeys against the KMS stand-in: a signing key's public half, read once; an encryption key,
// a key the caller's own policy does not allow, and a missing key are Permanent *KMSKeyErrors
// naming the key and the fix.
func TestKMSKeys(t *testing.T) {
	t.Parallel()
	s := ecrstandin.New()
	t.Cleanup(s.Close)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	const sign, enc, other = "arn:aws:kms:eu-west-1:111111111111:key/a", "arn:aws:kms:eu-west-1:111111111111:key/b", "arn:aws:kms:eu-west-1:222222222222:key/c"
	s.PutKMSKey(sign, ecrstandin.KMSKey{Public: &ec.PublicKey, KeySpec: "ECC_NIST_P384"})
	s.PutKMSKey(enc, ecrstandin.KMSKey{Public: &rk.PublicKey, KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT"})
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(s.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", "")}
	k := ecr.NewKMSKeys(func(context.Context) (aws.Config, error) { return cfg, nil })
	ctx := context.Background()

	for range 3 {
		pub, err := k.PublicKey(ctx, sign)
		if err != nil || !ec.PublicKey.Equal(pub) {
			t.Fatalf("signing key: %v %v", pub, err)
		}
	}
	if n := s.Calls("GetPublicKey"); n != 1 {
		t.Errorf("GetPublicKey called %d times, want 1", n)
	}
	_, err := k.PublicKey(ctx, enc)
	if !errors.Is(err, ecr.ErrNotSigningKey) || registry.Classify(err) != registry.Permanent || !strings.Contains(err.Error(), enc) {
		t.Errorf("encryption key: %v", err)
	}
	_, err = k.PublicKey(ctx, other)
	var ke *ecr.KMSKeyError
	if !errors.As(err, &ke) || ke.Key != other || registry.Classify(err) != registry.Permanent || !strings.Contains(err.Error(), "NotFoundException") {
		t.Errorf("missing key: %v", err)
	}
	s.AddCredentials("AKIDSTANDIN", "111111111111")
	s.Deny("111111111111", "kms:GetPublicKey")
	s.PutKMSKey(other, ecrstandin.KMSKey{Public: &ec.PublicKey, KeySpec: "ECC_NIST_P384"})
	_, err = k.PublicKey(ctx, other)
	if registry.Classify(err) != registry.Permanent || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "role policy AND in the key's key policy") {
		t.Errorf("denied: %v", err)
	}
	if _, err := k.PublicKey(ctx, sign); err != nil {
		t.Errorf("a key read before stays readable from the cache: %v", err)
	}
}
