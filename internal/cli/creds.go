package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// sideFlags are per-side credentials and TLS for copy: one registry may need other credentials
// or TLS handling than the other.
type sideFlags struct {
	srcCreds, dstCreds       string
	srcInsecure, dstInsecure bool
}

func (s *sideFlags) register(fl interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}) {
	const creds = " registry's credentials: USER:PASSWORD, or the NAME of a Docker credential helper (runs docker-credential-NAME); default: the Docker config (docker login) and its helpers"
	fl.StringVar(&s.srcCreds, "src-creds", "", "the source"+creds)
	fl.StringVar(&s.dstCreds, "dst-creds", "", "the destination"+creds)
	fl.BoolVar(&s.srcInsecure, "src-insecure", false, "--insecure for the source registry only")
	fl.BoolVar(&s.dstInsecure, "dst-insecure", false, "--insecure for the destination registry only")
}

// keychain returns a keychain that answers srcHost and dstHost with the credentials the flags
// give, and every other registry (and a side without flags) with next.
func (s *sideFlags) keychain(srcHost, dstHost string, next authn.Keychain) (authn.Keychain, error) {
	k := hostKeychain{hosts: map[string]authn.Authenticator{}, next: next}
	for _, side := range []struct{ flag, spec, host string }{{"--src-creds", s.srcCreds, srcHost}, {"--dst-creds", s.dstCreds, dstHost}} {
		if side.spec == "" {
			continue
		}
		a, err := credsFrom(side.flag, side.spec, side.host)
		if err != nil {
			return nil, err
		}
		if prev, ok := k.hosts[side.host]; ok && prev != a {
			return nil, usageError{fmt.Errorf("--src-creds and --dst-creds name one registry (%s): give one of them", side.host)}
		}
		k.hosts[side.host] = a
	}
	return k, nil
}

// credsFrom reads USER:PASSWORD, or a credential helper's name.
func credsFrom(flag, spec, host string) (authn.Authenticator, error) {
	if user, pass, ok := strings.Cut(spec, ":"); ok {
		if user == "" || pass == "" {
			return nil, usageError{fmt.Errorf("%s: want USER:PASSWORD or a credential helper's name", flag)}
		}
		return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
	}
	if strings.ContainsAny(spec, "/\\ ") {
		return nil, usageError{fmt.Errorf("%s %q: a credential helper is named without path (docker-credential-NAME on PATH)", flag, spec)}
	}
	if _, err := exec.LookPath("docker-credential-" + spec); err != nil {
		return nil, usageError{fmt.Errorf("%s %s: docker-credential-%s is not on PATH", flag, spec, spec)}
	}
	return &helperAuth{helper: spec, host: host}, nil
}

// hostKeychain answers some hosts itself and the rest with next.
type hostKeychain struct {
	hosts map[string]authn.Authenticator
	next  authn.Keychain
}

// Resolve returns the authenticator of r's registry.
func (k hostKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := k.hosts[r.RegistryStr()]; ok {
		return a, nil
	}
	return k.next.Resolve(r)
}

// helperTimeout bounds a credential helper's run (it may ask a keyring or a cloud API).
const helperTimeout = 30 * time.Second

// helperAuth asks a Docker credential helper (docker-credential-NAME get, the server on stdin,
// {"Username","Secret"} on stdout: docker's credential helper protocol) on each use; a helper
// that fails is an error, not anonymous access.
type helperAuth struct{ helper, host string }

// Authorization runs the helper.
func (h *helperAuth) Authorization() (*authn.AuthConfig, error) {
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-credential-"+h.helper, "get")
	cmd.Stdin = strings.NewReader(h.host)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("credential helper docker-credential-%s for %s: %w: %s", h.helper, h.host, err, strings.TrimSpace(errb.String()))
	}
	var c struct{ Username, Secret string }
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		return nil, fmt.Errorf("credential helper docker-credential-%s: its answer is not {\"Username\",\"Secret\"}: %w", h.helper, err)
	}
	if c.Secret == "" {
		return nil, errors.New("credential helper docker-credential-" + h.helper + " gave no secret for " + h.host)
	}
	if c.Username == "<token>" { // an identity token, as docker's helpers return one
		return &authn.AuthConfig{IdentityToken: c.Secret}, nil
	}
	return &authn.AuthConfig{Username: c.Username, Password: c.Secret}, nil
}
