package cli

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/ecr/ecrstandin"
)

// TestCopyLogsIntoECR: `ecrsync copy` with an ECR host gets its password from
// GetAuthorizationToken (here the control-plane stand-in, through AWS_ENDPOINT_URL_ECR), in the
// registry's Region, with the environment's AWS credentials; other hosts keep Docker credentials.
// Not parallel: it sets the environment.
func TestCopyLogsIntoECR(t *testing.T) {
	api := ecrstandin.New()
	defer api.Close()
	t.Setenv("AWS_ENDPOINT_URL_ECR", api.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "standin-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	const host = "222222222222.dkr.ecr.eu-west-1.amazonaws.com"
	kc, err := keychainFor(context.Background(), nil, "127.0.0.1:5000/app:v1", host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	reg, _ := name.NewRegistry(host)
	a, err := kc.Resolve(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Username != "AWS" || cfg.Password == "" {
		t.Fatalf("ECR credentials %q / %d-byte password, want AWS and a token", cfg.Username, len(cfg.Password))
	}
	if n := api.Calls("GetAuthorizationToken"); n != 1 {
		t.Fatalf("GetAuthorizationToken called %d times, want 1", n)
	}
	local, _ := name.NewRegistry("127.0.0.1:5000")
	if a, err := kc.Resolve(local); err != nil || a != authn.Anonymous {
		t.Fatalf("a non-ECR host: %v %v, want the Docker config's (anonymous)", a, err)
	}
	// Without an ECR host, no AWS configuration is loaded at all.
	plain, err := keychainFor(context.Background(), nil, "127.0.0.1:5000/app:v1", "127.0.0.1:5001/app")
	if err != nil || plain != authn.DefaultKeychain {
		t.Fatalf("keychain for two local registries: %T %v", plain, err)
	}
}
