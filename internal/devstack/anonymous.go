package devstack

import "github.com/google/go-containerregistry/pkg/authn"

// Anonymous is a keychain that never has credentials: the dev registries need none.
type Anonymous struct{}

// Resolve implements authn.Keychain.
func (Anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
