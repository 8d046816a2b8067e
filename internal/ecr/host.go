// Package ecr is what ecrsync knows of Amazon ECR that needs the AWS SDK: an authn.Keychain that
// logs in with GetAuthorizationToken (cached per registry, refreshed before the 12-hour expiry,
// optionally through an assumed role), and the IAM actions the engine uses. Host naming lives in
// internal/awsname, which imports no SDK. The copy engine itself stays registry-agnostic; this
// package only hands it credentials.
package ecr

import "github.com/ecrsync/ecrsync/internal/awsname"

// Location is an ECR registry (awsname.Location): the keychain's unit of credentials.
type Location = awsname.Location

// ParseHost reads the account and Region out of an ECR registry host (awsname.ParseHost): the
// keychain's callers name registries by host.
func ParseHost(host string) (Location, bool) { return awsname.ParseHost(host) }
