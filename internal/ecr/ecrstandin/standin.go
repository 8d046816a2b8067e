// Package ecrstandin stands in for the parts of Amazon ECR that cannot run here, for tests and
// `ecrsync dev`: the control plane (GetAuthorizationToken, DescribeRepositories, ListImages,
// DescribeImages, and repository management in repos.go, over the JSON 1.1 protocol, for
// aws-sdk-go-v2 pointed at it with BaseEndpoint or AWS_ENDPOINT_URL_ECR), STS AssumeRole and the
// callers' accounts (sts.go), SSM GetParameter (ssm.go) and KMS GetPublicKey (kms.go) on the same endpoint, and, in front of a real registry, ECR's registry behaviour: Basic auth
// with the tokens it issued and their expiry, Region-bound tokens, 429 TOOMANYREQUESTS bursts,
// immutable tags (400 TAG_INVALID) and missing repositories (404 NAME_UNKNOWN).
//
// It is a stand-in, not a mock: the images live in a real distribution registry; only what
// AWS adds around it is imitated, with the messages AWS sends.
package ecrstandin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ExpiredTokenMessage is ECR's answer to an expired token (amazon-ecr-credential-helper#679).
const ExpiredTokenMessage = "Your authorization token has expired. Reauthenticate and try again."

// Server is the control-plane stand-in and the registry of issued tokens.
type Server struct {
	// URL is the endpoint to give the AWS SDK (BaseEndpoint, AWS_ENDPOINT_URL_ECR).
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	tokenTTL time.Duration
	tokens   map[string]issued // password -> where and until when it is valid
	regs     map[string]*Registry
	calls    map[string]int
	now      func() time.Time // SetClock
	iam      iamState         // sts.go: who holds which credentials, what is refused
	params   map[string]parameter
	kmsKeys  map[string]KMSKey // kms.go
}

type issued struct {
	account, region string
	expires         time.Time
}

// New starts a control-plane stand-in on 127.0.0.1. Tokens live 12 hours, as ECR's do, unless
// SetTokenTTL says otherwise.
func New() *Server {
	s := &Server{tokenTTL: 12 * time.Hour, tokens: map[string]issued{}, regs: map[string]*Registry{}, calls: map[string]int{},
		now: time.Now, iam: newIAMState(), params: map[string]parameter{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// SetTokenTTL sets the lifetime of tokens issued from now on.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	s.tokenTTL = d
	s.mu.Unlock()
}

// ExpireTokens makes every token issued so far expired, as twelve hours passing would.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.expires = s.now().Add(-time.Second)
		s.tokens[k] = t
	}
}

// Calls reports how many times an API operation (e.g. "GetAuthorizationToken") was called.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// apiError is a JSON 1.1 protocol error.
type apiError struct {
	status int
	typ    string
	msg    string
}

// credentialRE reads the Region out of a SigV4 Authorization header's credential scope.
var credentialRE = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))
	// One endpoint serves every stand-in service (aws.Config.BaseEndpoint applies to all clients):
	// the SigV4 credential scope names the service.
	if m != nil && m[2] == "sts" {
		s.serveSTS(w, r)
		return
	}
	if m != nil && m[2] == "ssm" {
		s.serveSSM(w, r)
		return
	}
	if m != nil && m[2] == "kms" {
		s.serveKMS(w, r)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(target, "AmazonEC2ContainerRegistry_V20150921.") || m == nil || m[2] != "ecr" {
		writeAPIError(w, apiError{400, "UnrecognizedClientException", "The security token included in the request is invalid."})
		return
	}
	region := m[1]
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var in struct {
		RegistryID      string   `json:"registryId"`
		RepositoryName  string   `json:"repositoryName"`
		RepositoryNames []string `json:"repositoryNames"`
		NextToken       string   `json:"nextToken"`
		MaxResults      int      `json:"maxResults"`
		ImageIDs        []struct {
			ImageDigest string `json:"imageDigest"`
			ImageTag    string `json:"imageTag"`
		} `json:"imageIds"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			writeAPIError(w, apiError{400, "SerializationException", err.Error()})
			return
		}
	}
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()

	caller, aerr := s.caller(r, "ecr:"+op)
	if aerr != nil {
		writeAPIError(w, *aerr)
		return
	}
	if aerr := s.authorizeECR(caller, op, region, in.RegistryID, len(in.RepositoryNames) > 0); aerr != nil {
		writeAPIError(w, *aerr)
		return
	}
	if in.RegistryID == "" && caller.account != "" {
		in.RegistryID = caller.account // the caller's own registry, as ECR assumes
	}
	var out any
	switch op {
	case "GetAuthorizationToken":
		out = s.getAuthorizationToken(region, in.RegistryID, caller.expires)
	case "CreateRepository", "GetLifecyclePolicy", "PutLifecyclePolicy", "ListTagsForResource", "TagResource":
		out, aerr = s.repositoryOp(op, region, in.RegistryID, body)
	case "DescribeImageScanFindings", "BatchDeleteImage":
		out, aerr = s.imageOp(op, region, in.RegistryID, body) // scan.go
	case "DescribeRepositories":
		out, aerr = s.describeRepositories(region, in.RegistryID, in.RepositoryNames, in.NextToken, in.MaxResults)
	case "ListImages":
		out, aerr = s.listImages(region, in.RegistryID, in.RepositoryName, in.NextToken, in.MaxResults)
	case "DescribeImages":
		var ids []string
		for _, id := range in.ImageIDs {
			ids = append(ids, id.ImageDigest+"|"+id.ImageTag)
		}
		out, aerr = s.describeImages(region, in.RegistryID, in.RepositoryName, ids, in.NextToken, in.MaxResults)
	default:
		aerr = &apiError{400, "UnknownOperationException", "the stand-in does not implement " + op}
	}
	if aerr != nil {
		writeAPIError(w, *aerr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func writeAPIError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

type authorizationData struct {
	AuthorizationToken string  `json:"authorizationToken"`
	ExpiresAt          float64 `json:"expiresAt"` // epoch seconds, as the JSON 1.1 protocol sends timestamps
	ProxyEndpoint      string  `json:"proxyEndpoint"`
}

// getAuthorizationToken issues a token for the registry; one obtained with temporary credentials
// expires with them if they end first (inferred: a token cannot outlive the session that asked
// for it; either answer is handled, the keychain refreshes on the expired-token 403).
func (s *Server) getAuthorizationToken(region, account string, credExpires time.Time) any {
	b := make([]byte, 24)
	rand.Read(b)
	pass := "standin-" + region + "-" + hex.EncodeToString(b)
	s.mu.Lock()
	exp := s.now().Add(s.tokenTTL)
	if !credExpires.IsZero() && credExpires.Before(exp) {
		exp = credExpires
	}
	if account == "" {
		for _, reg := range s.regs {
			if reg.region == region {
				account = reg.account
				break
			}
		}
	}
	s.tokens[pass] = issued{account: account, region: region, expires: exp}
	s.mu.Unlock()
	return map[string]any{"authorizationData": []authorizationData{{
		AuthorizationToken: base64.StdEncoding.EncodeToString([]byte("AWS:" + pass)),
		ExpiresAt:          float64(exp.UnixMilli()) / 1000,
		ProxyEndpoint:      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", account, region),
	}}}
}

// checkToken says whether a Basic password is a token this server issued for region.
func (s *Server) checkToken(pass, region string) (expired, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, found := s.tokens[pass]
	if !found || t.region != region {
		return false, false
	}
	return s.now().After(t.expires), true
}

// registryFor finds the registry an API call is about.
func (s *Server) registryFor(region, account string) (*Registry, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, reg := range s.regs {
		if reg.region == region && (account == "" || reg.account == account) {
			return reg, nil
		}
	}
	return nil, &apiError{400, "RegistryNotFoundException", fmt.Sprintf("no registry %q in %s", account, region)}
}

// page cuts a sorted list by nextToken (an index) and maxResults.
func page[T any](all []T, next string, max int) ([]T, string) {
	start := 0
	fmt.Sscan(next, &start)
	if start > len(all) {
		start = len(all)
	}
	if max <= 0 {
		max = 100
	}
	end := min(start+max, len(all))
	tok := ""
	if end < len(all) {
		tok = fmt.Sprint(end)
	}
	return all[start:end], tok
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
