package app

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/gate"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/promote"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Checker returns the promotion gate checker on the shared client. Scan findings of an ECR
// registry are read with DescribeImageScanFindings: for cfg's source through its role_arn (the
// source reader role; enhanced findings are readable only in the registry's own account), for
// any other ECR host with the process's own credentials. KMS signature keys (awskms:///ARN) are
// read with kms:GetPublicKey in their Region with the process's own credentials, once per key
// for the process (every checker shares one cache). cfg may be nil (a plain copy).
func (a *App) Checker(cfg *rules.Config) *promote.Checker {
	c := &promote.Checker{Client: a.Client, Logger: a.log, Keys: a.kmsKeys()}
	if a.Keychain == nil {
		return c
	}
	c.Scans = func(host string) gate.ScanReader {
		l, ok := a.Keychain.Lookup(host)
		if !ok {
			return nil
		}
		role := ""
		if cfg != nil && host == cfg.Source.Host() {
			role = cfg.Source.RoleARN
		}
		return &ecr.ScanReader{API: a.Keychain.API(l, role), Account: l.Account, Role: role}
	}
	return c
}

// Untagger returns what removes destination tags for rules with propagate_deletes: ECR's
// BatchDeleteImage by tag (as the destination's role_arn, if any) for ECR destinations, the OCI
// tag DELETE for others.
func (a *App) Untagger() lambda.Untagger { return untagger{a} }

type untagger struct{ a *App }

func (u untagger) Untag(ctx context.Context, t rules.Target) error {
	if l, ok := t.Dst.ECR(); ok && u.a.Keychain != nil {
		return ecr.DeleteTag(ctx, u.a.Keychain.API(l, t.Dst.RoleARN), l.Account, t.Dst.RoleARN, t.Repository, t.Tag)
	}
	repo, err := name.NewRepository(t.Host+"/"+t.Repository, name.StrictValidation)
	if err != nil {
		return err
	}
	return u.a.Client.Repository(repo).DeleteTag(ctx, t.Tag)
}

// kmsKeys returns the process's one KMS key source. Nothing is loaded or called until a rule's
// KMS key is first read: the AWS configuration then loads (if no ECR registry loaded it already).
func (a *App) kmsKeys() *ecr.KMSKeys {
	a.kmsOnce.Do(func() { a.kms = ecr.NewKMSKeys(a.AWS) })
	return a.kms
}
