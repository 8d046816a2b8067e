# ecrsync — keep container images in sync across AWS accounts and Regions.
SHELL := /bin/bash
GO    ?= go
BIN   ?= bin/ecrsync
# The dev build: the same CLI plus `ecrsync dev` (embedded registries). Kept out of bin/ecrsync and
# the Lambda's bootstrap: Go runs every linked package's init at start-up, and the dev stack's
# (distribution, redis, otel, grpc, prometheus) would double it.
DEVBIN ?= bin/ecrsync-dev
# lambda.norpc: the Lambda runtime API only (provided.al2023); leaves net/rpc and gob out.
TAGS  ?= lambda.norpc
# Build tags of the Lambda's bootstrap (make lambda, make release): lambdaonly leaves the CLI out
# (cmd/ecrsync/lambdaonly.go): 13 MB instead of 18 (amd64), fewer packages to start.
LAMBDA_TAGS ?= $(TAGS),lambdaonly
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell bash scripts/commit.sh)
BUILDINFO := github.com/ecrsync/ecrsync/internal/buildinfo
LDFLAGS := -s -w -X $(BUILDINFO).Version=$(VERSION) -X $(BUILDINFO).Commit=$(COMMIT)

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/ecrsync for this machine (the CLI users download)
	CGO_ENABLED=0 $(GO) build -tags $(TAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ecrsync

dev: ## Build bin/ecrsync-dev: the CLI with `ecrsync dev` (embedded registries) built in
	CGO_ENABLED=0 $(GO) build -tags $(TAGS),devstack -trimpath -ldflags '$(LDFLAGS)' -o $(DEVBIN) ./cmd/ecrsync

demo: dev ## Run the whole sync on one machine: embedded registries, a multi-platform image, no AWS
	$(DEVBIN) dev --demo

test: ## Run every test (real registries on 127.0.0.1, the Lambda emulator, Terraform checks)
	bash scripts/test.sh

test-short: ## Run the fast unit tests only
	$(GO) test -short ./...

lint: ## gofmt and go vet (the CLI, the dev build and the Lambda build)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags devstack ./...
	$(GO) vet -tags lambda.norpc,lambdaonly ./cmd/...

lambda: ## Build dist/ecrsync-lambda-{arm64,amd64}.zip, each holding bootstrap
	VERSION='$(VERSION)' COMMIT='$(COMMIT)' LAMBDA_TAGS='$(LAMBDA_TAGS)' bash scripts/lambda.sh

release: ## make release VERSION=vX.Y.Z: CLI for linux/darwin x amd64/arm64, Lambda zips, module archive, SBOM, SHA256SUMS in dist/
	VERSION='$(VERSION)' COMMIT='$(COMMIT)' TAGS='$(TAGS)' LAMBDA_TAGS='$(LAMBDA_TAGS)' bash scripts/release.sh

bench: build ## Benchmark ecrsync side by side with crane, regctl, oras and skopeo; writes bench/RESULTS.md
	bash bench/run.sh

faults: build ## Run the full fault-injection matrix; writes docs/faults.md
	bash scripts/faults.sh

tf-check: ## terraform fmt, tflint, validate (1.5.7), terraform test (1.8.5) and actionlint, offline
	bash deploy/terraform/check.sh

.PHONY: help build dev demo test test-short lint lambda release bench faults tf-check
