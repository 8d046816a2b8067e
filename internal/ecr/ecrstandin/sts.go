package ecrstandin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// The STS stand-in: AssumeRole over the Query protocol (form-encoded POST, XML answers, as in the
// AWS STS API Reference), reached by aws-sdk-go-v2 through BaseEndpoint or AWS_ENDPOINT_URL_STS.
// It issues short-lived credentials tied to the role's account; the ECR stand-in then knows the
// caller's account from the access key in the SigV4 Authorization header and answers as AWS does:
// a registry-wide DescribeRepositories of another account is AccessDeniedException (no resource
// policy can allow it, REFERENCE.md), credentials past their expiry get ExpiredTokenException.

// DefaultCredentialTTL is how long issued credentials live unless SetCredentialTTL says otherwise:
// AssumeRole's default DurationSeconds (one hour).
const DefaultCredentialTTL = time.Hour

// stsNamespace is the XML namespace of every STS answer.
const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

type iamState struct {
	ttl      time.Duration
	keys     map[string]credential // access key ID -> whose and until when
	refused  map[string]string     // role ARN -> why AssumeRole is refused
	denied   map[string]bool       // account + " " + action -> no identity policy allows it
	sessions []string              // RoleSessionName of every AssumeRole, in order
}

type credential struct {
	account, arn string
	expires      time.Time // zero: never (long-term keys)
}

func newIAMState() iamState {
	return iamState{ttl: DefaultCredentialTTL, keys: map[string]credential{}, refused: map[string]string{}, denied: map[string]bool{}}
}

// SetClock makes the stand-in read time from now (tokens, credentials): tests advance it instead
// of waiting.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// SetCredentialTTL sets the lifetime of credentials AssumeRole issues from now on (at most what
// the caller asks for with DurationSeconds).
func (s *Server) SetCredentialTTL(d time.Duration) {
	s.mu.Lock()
	s.iam.ttl = d
	s.mu.Unlock()
}

// AddCredentials declares long-term credentials (an access key ID) as belonging to account, as an
// IAM user's or a Lambda execution role's do. Keys neither added nor issued by AssumeRole belong to
// no account in particular: the ECR stand-in then lets them act on any registry, as before.
func (s *Server) AddCredentials(accessKeyID, account string) {
	s.mu.Lock()
	s.iam.keys[accessKeyID] = credential{account: account, arn: "arn:aws:iam::" + account + ":role/caller"}
	s.mu.Unlock()
}

// RefuseAssumeRole makes AssumeRole of roleARN fail with AccessDenied, as when the role's trust
// policy does not name the caller (or the caller lacks sts:AssumeRole on it).
func (s *Server) RefuseAssumeRole(roleARN string) {
	s.mu.Lock()
	s.iam.refused[roleARN] = "trust"
	s.mu.Unlock()
}

// Deny makes action (e.g. "ecr:PutLifecyclePolicy") fail with AccessDeniedException for every
// caller of account, as when no identity policy there allows it.
func (s *Server) Deny(account, action string) {
	s.mu.Lock()
	s.iam.denied[account+" "+action] = true
	s.mu.Unlock()
}

// SessionNames returns the RoleSessionName of every AssumeRole call so far, in order.
func (s *Server) SessionNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.iam.sessions...)
}

// accessKeyRE reads the access key ID out of a SigV4 Authorization header.
var accessKeyRE = regexp.MustCompile(`Credential=([^/]+)/`)

// caller finds who signed r. An expired issued key is ExpiredTokenException, as every AWS JSON
// API answers (the Query APIs say ExpiredToken).
func (s *Server) caller(r *http.Request, action string) (credential, *apiError) {
	m := accessKeyRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return credential{}, &apiError{400, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.iam.keys[m[1]]
	if !c.expires.IsZero() && !s.now().Before(c.expires) {
		return c, &apiError{400, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	if c.account != "" && s.iam.denied[c.account+" "+action] {
		return c, &apiError{400, "AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: %s because no identity-based policy allows the %s action", c.arn, action, action)}
	}
	return c, nil
}

// authorizeECR applies the one rule a repository policy cannot lift: a call over a whole registry
// (DescribeRepositories without names, CreateRepository) in another account is denied. Calls on
// named repositories of another account are allowed, as a repository policy would.
func (s *Server) authorizeECR(c credential, op, region, registryID string, named bool) *apiError {
	if c.account == "" || registryID == "" || registryID == c.account {
		return nil
	}
	if (op == "DescribeRepositories" && !named) || op == "CreateRepository" {
		resource := fmt.Sprintf("arn:%s:ecr:%s:%s:repository/*", awsname.Partition(region), region, registryID)
		return &apiError{400, "AccessDeniedException", fmt.Sprintf("User: %s is not authorized to perform: ecr:%s on resource: %s because no resource-based policy allows the ecr:%s action", c.arn, op, resource, op)}
	}
	return nil
}

// roleARNRE reads the account and name out of a role ARN.
var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/(?:.*/)?([A-Za-z0-9+=,.@_-]+)$`)

// sessionNameRE is RoleSessionName's documented pattern and length (AWS STS API Reference).
var sessionNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"AssumeRoleResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Result  struct {
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
		Credentials stsCredentials `xml:"Credentials"`
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func writeSTSError(w http.ResponseWriter, status int, code, msg string) {
	var e stsErrorResponse
	e.Xmlns, e.Error.Type, e.Error.Code, e.Error.Message, e.RequestID = stsNamespace, "Sender", code, msg, requestID()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(e)
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeSTSError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation for the request")
		return
	}
	if a := r.PostForm.Get("Action"); a != "AssumeRole" {
		writeSTSError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("the stand-in does not implement %s", a))
		return
	}
	s.mu.Lock()
	s.calls["AssumeRole"]++
	s.mu.Unlock()
	c, aerr := s.caller(r, "sts:AssumeRole")
	if aerr != nil {
		code := aerr.typ
		if code == "ExpiredTokenException" {
			code = "ExpiredToken" // the Query protocol's name for it
		}
		writeSTSError(w, http.StatusForbidden, code, aerr.msg)
		return
	}
	role, session := r.PostForm.Get("RoleArn"), r.PostForm.Get("RoleSessionName")
	m := roleARNRE.FindStringSubmatch(role)
	switch {
	case m == nil:
		writeSTSError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("%s is invalid", role))
		return
	case !sessionNameRE.MatchString(session):
		writeSTSError(w, http.StatusBadRequest, "ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session))
		return
	}
	who := c.arn
	if who == "" {
		who = "arn:aws:iam::000000000000:role/caller"
	}
	s.mu.Lock()
	s.iam.sessions = append(s.iam.sessions, session)
	_, refused := s.iam.refused[role]
	ttl := s.iam.ttl
	now := s.now()
	s.mu.Unlock()
	if refused {
		writeSTSError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", who, role))
		return
	}
	if d, err := strconv.Atoi(r.PostForm.Get("DurationSeconds")); err == nil && d > 0 && time.Duration(d)*time.Second < ttl {
		ttl = time.Duration(d) * time.Second
	}
	b := make([]byte, 20)
	rand.Read(b)
	key := "ASIA" + strings.ToUpper(hex.EncodeToString(b[:8]))
	exp := now.Add(ttl)
	arn := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", m[1], m[2], session)
	s.mu.Lock()
	s.iam.keys[key] = credential{account: m[1], arn: arn, expires: exp}
	s.mu.Unlock()

	var out assumeRoleResponse
	out.Xmlns, out.RequestID = stsNamespace, requestID()
	out.Result.AssumedRoleUser.Arn = arn
	out.Result.AssumedRoleUser.AssumedRoleID = "AROA" + strings.ToUpper(hex.EncodeToString(b[8:16])) + ":" + session
	out.Result.Credentials = stsCredentials{AccessKeyID: key, SecretAccessKey: hex.EncodeToString(b), SessionToken: "standin-session-" + hex.EncodeToString(b[4:]),
		Expiration: exp.UTC().Format(time.RFC3339)}
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(out)
}
