package ecrstandin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ecrsync/ecrsync/internal/awsname"
)

// The SSM stand-in: GetParameter over the AWS JSON 1.1 protocol (X-Amz-Target
// AmazonSSM.GetParameter), for the function reading its config from a parameter. A SecureString
// read without WithDecryption answers its ciphertext, as SSM does; a name that does not exist is
// ParameterNotFound.

type parameter struct {
	typ      string // String or SecureString
	value    string
	version  int64
	modified time.Time
}

// PutParameter stores a parameter (name as SSM spells it, e.g. /ecrsync/config), as the Terraform
// module's aws_ssm_parameter would.
func (s *Server) PutParameter(name, value string, secure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	p.typ, p.value, p.modified = "String", value, s.now()
	if secure {
		p.typ = "SecureString"
	}
	p.version++
	s.params[name] = p
}

func (s *Server) serveSSM(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name           string `json:"Name"`
		WithDecryption bool   `json:"WithDecryption"`
	}
	c, ok := s.jsonCall(w, r, "AmazonSSM.GetParameter", "ssm:GetParameter", &in)
	if !ok {
		return
	}
	region := credentialRE.FindStringSubmatch(r.Header.Get("Authorization"))[1]
	account := c.account
	if account == "" {
		account = "123456789012"
	}
	name := in.Name
	if i := strings.Index(name, ":parameter"); strings.HasPrefix(name, "arn:") && i > 0 {
		name = name[i+len(":parameter"):] // an ARN names /path/name after ":parameter"
	}
	s.mu.Lock()
	p, ok := s.params[name]
	s.mu.Unlock()
	if !ok {
		// SSM answers ParameterNotFound with an empty message.
		writeAPIError(w, apiError{400, "ParameterNotFound", ""})
		return
	}
	value := p.value
	if p.typ == "SecureString" && !in.WithDecryption {
		value = base64.StdEncoding.EncodeToString([]byte("standin-ciphertext:" + fmt.Sprint(len(p.value))))
	}
	arnName := name
	if !strings.HasPrefix(arnName, "/") {
		arnName = "/" + arnName
	}
	out := map[string]any{"Parameter": map[string]any{
		"Name": name, "Type": p.typ, "Value": value, "Version": p.version, "DataType": "text",
		"LastModifiedDate": float64(p.modified.UnixMilli()) / 1000,
		"ARN":              fmt.Sprintf("arn:%s:ssm:%s:%s:parameter%s", awsname.Partition(region), region, account, arnName),
	}}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}
