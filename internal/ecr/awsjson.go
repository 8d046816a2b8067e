package ecr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// maxJSONAnswer bounds what one lean API call reads (a GetPublicKey answer is under 2 KB; an SSM
// parameter at most 8 KB of value).
const maxJSONAnswer = 256 << 10

// callJSON makes one call of an AWS JSON 1.1 API (KMS's, SSM's) without the service's SDK client:
// a signed POST of in to target (e.g. "AmazonSSM.GetParameter"), the answer decoded into out.
// Each SDK client adds megabytes of schemas and endpoint tables to the binary and milliseconds of
// package init to every start, for one call made once per process here. The endpoint is the
// service's in region (its partition's domain), or the configuration's BaseEndpoint, or
// AWS_ENDPOINT_URL_<SERVICE> (as the SDK honours it). An error answer is a
// *smithy.GenericAPIError with the service's code (the __type of the body, as the SDK reads it),
// so Classify and callers treat it as they would the SDK's.
func callJSON(ctx context.Context, cfg aws.Config, service, region, target string, in, out any) error {
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	endpoint := "https://" + service + "." + region + "." + domain
	if v := os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(service)); v != "" {
		endpoint = v
	} else if cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	if cfg.Credentials == nil {
		return fmt.Errorf("no AWS credentials to call %s with", service)
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return err
	}
	var client aws.HTTPClient = http.DefaultClient
	if cfg.HTTPClient != nil {
		client = cfg.HTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		code := e.Type
		if code == "" {
			code = resp.Header.Get("X-Amzn-ErrorType")
		}
		code = code[strings.LastIndexByte(code, '#')+1:] // "com.amazonaws.kms#NotFoundException"
		code, _, _ = strings.Cut(code, ":")              // X-Amzn-ErrorType may carry ":http://..."
		fault := smithy.FaultClient
		if resp.StatusCode >= 500 {
			fault = smithy.FaultServer
		}
		if code == "" {
			code = fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return &smithy.GenericAPIError{Code: code, Message: e.Message, Fault: fault}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("reading %s's answer: %w", target, err)
	}
	return nil
}
