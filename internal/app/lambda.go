package app

import (
	"context"
	"fmt"
	"os"
	"strconv"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/ecrsync/ecrsync/internal/buildinfo"
	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/lambda"
	"github.com/ecrsync/ecrsync/internal/replicate"
	"github.com/ecrsync/ecrsync/internal/rules"
)

// Lambda is the function's entry point: it reads the config (ECRSYNC_CONFIG_PARAMETER's SSM
// parameter, ECRSYNC_CONFIG or the seed's variables), builds the process's one client, pacer,
// copier and handler — shared by event and reconcile invocations — and serves invocations until
// the runtime stops the process. Its first line names the build; a bad config fails the init
// phase, with the bad field named in the log.
func Lambda(ctx context.Context, userAgent string) int {
	log := lambda.Logger()
	log.InfoContext(ctx, "init", "version", buildinfo.String())
	h, err := LambdaHandler(ctx, os.Getenv, Options{Logger: log, UserAgent: userAgent})
	if err != nil {
		log.ErrorContext(ctx, "init", "err", err)
		return 1
	}
	awslambda.StartWithOptions(h.Handle, awslambda.WithContext(ctx), awslambda.WithEnableSIGTERM())
	return 0
}

// lambdaSpoolLimit is the blob spool's bound in Lambda: half of /tmp (the function's ephemeral
// storage, 512 MB unless the module's ephemeral_storage input says more), never less than the
// engine's default. The spool's files are unlinked as they are made, so nothing is left in /tmp
// from one invocation (or one execution environment's process) to the next.
func lambdaSpoolLimit(tmp string) int64 {
	return max(diskSize(tmp)/2, replicate.DefaultSpoolLimit)
}

// LambdaHandler builds the function's handler from its environment (getenv): the config (from
// the SSM parameter ECRSYNC_CONFIG_PARAMETER names, else ECRSYNC_CONFIG or the seed's
// variables), the fan-out queue (ECRSYNC_RECONCILE_QUEUE_URL) and the PUT rate
// (ECRSYNC_PUT_RATE). o adds what the environment does not say (the logger, and in tests the AWS
// endpoints and the clock).
func LambdaHandler(ctx context.Context, getenv func(string) string, o Options) (*lambda.Handler, error) {
	cfg, err := lambdaConfig(ctx, getenv, &o)
	if err != nil {
		return nil, err
	}
	o.Rules = cfg
	// The handler writes one line per event and destination; the reconcile one per copy.
	o.QuietCopies = true
	if v := getenv(lambda.EnvPutRate); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 {
			return nil, fmt.Errorf("%s=%q: want a positive number of PUTs a second", lambda.EnvPutRate, v)
		}
		o.ECRPutRate = rate
	}
	if o.Copy.SpoolLimit == 0 {
		o.Copy.SpoolLimit = lambdaSpoolLimit(os.TempDir())
	}
	a, err := New(ctx, o)
	if err != nil {
		return nil, err
	}
	ho := HandlerOptions{Metrics: true}
	if url := getenv(lambda.EnvReconcileQueue); url != "" {
		q, err := a.Queue(ctx, url)
		if err != nil {
			return nil, err
		}
		ho.Queue = q
	}
	return a.Handler(cfg, ho), nil
}

// lambdaConfig reads the function's config. A config too long for Lambda's 4 KB environment is
// in the SSM parameter ECRSYNC_CONFIG_PARAMETER names, read once at start with the function's
// own credentials (the AWS configuration is loaded for it and kept in o for the rest).
func lambdaConfig(ctx context.Context, getenv func(string) string, o *Options) (*rules.Config, error) {
	param := getenv(ecr.EnvConfigParameter)
	if param == "" {
		cfg, err := rules.Resolve("", getenv)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return cfg, nil
	}
	if getenv(rules.EnvConfig) != "" {
		return nil, fmt.Errorf("config: both %s and %s are set: keep one (the parameter is for documents too long for the environment)",
			rules.EnvConfig, ecr.EnvConfigParameter)
	}
	if o.AWS == nil {
		ac, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("config: loading AWS configuration to read %s %s: %w", ecr.EnvConfigParameter, param, err)
		}
		o.AWS = &ac
	}
	doc, err := ecr.LoadConfigParameter(ctx, *o.AWS, param)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := rules.Load(doc)
	if err != nil {
		return nil, fmt.Errorf("config: parameter %s (%s): %w", param, ecr.EnvConfigParameter, err)
	}
	return cfg, nil
}
