// Package ref is ecrsync's one grammar of image names: registry hosts, repository names, tags
// and digests, and whole references host[:port]/repository[:tag][@digest]. Events, rules and the
// copy engine all check names here, so what one accepts the others accept too. It is pure: the
// standard library only.
//
// The grammar is the OCI distribution spec's ("Pulling manifests": <name> and <reference>) and
// the OCI image spec's digest grammar, within the limits go-containerregistry's
// name.StrictValidation enforces, since the engine builds its requests through that package:
// everything Parse accepts, name.NewRepository/NewTag/NewDigest with StrictValidation accept too
// (the fuzz target checks it).
//
// Case rules:
//   - Repository names are lower case, always (the spec's grammar; registries refuse others).
//   - Tags keep their case: v1 and V1 are two tags.
//   - Digests: the algorithm is lower case; sha256 and sha512 encodings are lower-case hex.
//   - Hosts are case-insensitive, as DNS names are (RFC 4343; RFC 3986 §3.2.2 "The host subcomponent
//     is case-insensitive"). Their canonical form is lower case: Parse, ParseHost and CanonicalHost
//     return it, and every cache, keychain and comparison uses that form. Input that arrives from
//     elsewhere (a registry notification's request.host, a reference typed on the command line)
//     may use either case; a config file must write the canonical form (rules refuses upper case
//     there, so one registry is never named two ways in one file).
package ref

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Limits, with their reasons.
const (
	// MaxRepository is the longest repository name: go-containerregistry's limit (255), which
	// every request of the engine goes through. ECR's API allows 256, distribution 255 including
	// the host; a name only ECR would take cannot be copied, so it is refused everywhere.
	MaxRepository = 255
	// MaxTag is the spec's limit on a tag (128 characters).
	MaxTag = 128
	// MaxDigest bounds a digest's length: a sha512 one is 135 characters.
	MaxDigest = 256
	// MaxHost is the longest DNS name (253 characters), plus room for a port.
	MaxHost = 253 + len(":65535")
)

// ErrInvalid is wrapped by every error of this package: the name breaks the grammar, and no
// retry can fix that.
var ErrInvalid = errors.New("invalid image name")

var (
	// repositoryRE: path components of lower-case letters and digits, separated inside a
	// component by '.', '_', '__' or one or more '-', and by '/' between components.
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	// tagRE: letters, digits, '_', '.', '-', not starting with '.' or '-'. (At most MaxTag
	// characters, checked with len: a {0,127} repetition costs a compile at every start.)
	tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]*$`)
	// digestRE: algorithm ":" encoded (OCI image spec, "Digests").
	digestRE = regexp.MustCompile(`^[a-z0-9]+([+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)
	// domainRE: dot-separated DNS labels of letters, digits and inner '-', either case.
	domainRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$`)
	// platformRE: os/architecture[/variant], each part lower-case letters, digits, '.', '_' or
	// '-' (GOOS, GOARCH and the OCI image spec's variants: v7, v8, v3).
	platformRE = regexp.MustCompile(`^[a-z0-9._-]+/[a-z0-9._-]+(/[a-z0-9._-]+)?$`)
	// hexRE: the encoding of the registered algorithms sha256 and sha512.
	hexRE = regexp.MustCompile(`^[a-f0-9]+$`)
)

// registered are the digest algorithms the OCI image spec registers, with their encoded length.
var registered = map[string]int{"sha256": 64, "sha512": 128}

// ValidRepository reports whether s is a repository name (without the host).
func ValidRepository(s string) bool { return len(s) <= MaxRepository && repositoryRE.MatchString(s) }

// ValidTag reports whether s is a tag.
func ValidTag(s string) bool { return len(s) <= MaxTag && tagRE.MatchString(s) }

// ValidPlatform reports whether s names a platform as os/architecture[/variant], the form of
// `docker --platform`, `crane --platform` and a rule's platforms: linux/amd64, linux/arm/v7.
func ValidPlatform(s string) bool { return len(s) <= 128 && platformRE.MatchString(s) }

// ValidDigest reports whether s follows the digest grammar, whatever its algorithm and length.
// Events are checked with it: the Amazon ECR documentation's own example event carries a
// shortened sha256 digest. Requests are built only from what CheckDigest accepts.
func ValidDigest(s string) bool { return len(s) <= MaxDigest && digestRE.MatchString(s) }

// CheckDigest accepts a digest the engine can verify: a registered algorithm (sha256, sha512)
// with an encoding of its exact length in lower-case hex.
func CheckDigest(s string) error {
	if !ValidDigest(s) {
		return invalid("digest %q: want algorithm:hex, like sha256:<64 hex digits>", s)
	}
	alg, enc, _ := strings.Cut(s, ":")
	n, ok := registered[alg]
	if !ok {
		return invalid("digest %q: algorithm %s is not sha256 or sha512", s, alg)
	}
	if len(enc) != n || !hexRE.MatchString(enc) {
		return invalid("digest %q: want %d lower-case hex digits after %s:", s, n, alg)
	}
	return nil
}

// ValidHost reports whether s is a registry host[:port] in either case: a DNS name, an IPv4
// address, or an IPv6 address in brackets, and an optional port 1-65535.
func ValidHost(s string) bool {
	_, err := ParseHost(s)
	return err == nil
}

// CanonicalHost returns host in its canonical form (lower case). It does not validate.
func CanonicalHost(host string) string { return strings.ToLower(host) }

// ParseHost checks a registry host[:port] and returns its canonical form.
func ParseHost(s string) (string, error) {
	if s == "" || len(s) > MaxHost {
		return "", invalid("registry host %q: want host[:port]", s)
	}
	name, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", invalid("registry host %q: unclosed [", s)
		}
		name, port = s[:end+1], s[end+1:]
		if ip, err := netip.ParseAddr(name[1 : len(name)-1]); err != nil || !ip.Is6() || ip.Is4In6() || ip.Zone() != "" {
			return "", invalid("registry host %q: want an IPv6 address inside [ ]", s)
		}
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", invalid("registry host %q: want [ipv6]:port", s)
		}
		port = strings.TrimPrefix(port, ":")
		if port == "" && strings.HasSuffix(s, ":") {
			return "", invalid("registry host %q: empty port", s)
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		name, port = s[:i], s[i+1:]
		if port == "" {
			return "", invalid("registry host %q: empty port", s)
		}
	}
	if !strings.HasPrefix(name, "[") && (len(name) > 253 || !domainRE.MatchString(name)) {
		return "", invalid("registry host %q: want a DNS name or IP address, with no scheme or path", s)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
			return "", invalid("registry host %q: port %q is not 1-65535", s, port)
		}
	}
	return CanonicalHost(s), nil
}

// Reference is a parsed image reference. Host is canonical (lower case); Tag, Digest or both may
// be empty.
type Reference struct {
	Host       string // host[:port]
	Repository string // path components, without the host
	Tag        string
	Digest     string
}

// Name returns host/repository.
func (r Reference) Name() string { return r.Host + "/" + r.Repository }

// String returns host/repository[:tag][@digest].
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Parse reads host[:port]/repository[:tag][@digest]. The host is required and is what comes
// before the first '/' (so "app:v1" and "library/app" are refused: there is no default registry
// to fall back on, as with go-containerregistry's StrictValidation). The digest must be one the
// engine can verify (CheckDigest).
func Parse(s string) (Reference, error) {
	if s == "" {
		return Reference{}, invalid("empty image reference")
	}
	var r Reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := CheckDigest(r.Digest); err != nil {
			return Reference{}, fmt.Errorf("image reference %q: %w", s, err)
		}
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return Reference{}, invalid("image reference %q: want host[:port]/repository[:tag][@digest], with the registry host first", s)
	}
	host, path := rest[:slash], rest[slash+1:]
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		r.Tag = path[i+1:]
		path = path[:i]
		if !ValidTag(r.Tag) {
			return Reference{}, invalid("image reference %q: tag %q is not a valid tag (letters, digits, _ . -, not starting with . or -, at most %d)", s, r.Tag, MaxTag)
		}
	}
	h, err := ParseHost(host)
	if err != nil {
		return Reference{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	if !strings.ContainsAny(h, ".:") && h != "localhost" {
		// Docker's rule, which go-containerregistry follows: a first component without '.' or
		// ':' is a path component of a Docker Hub name, not a host.
		return Reference{}, invalid("image reference %q: %q is not a registry host (want a name with a dot, a port, or localhost first)", s, host)
	}
	r.Host = h
	if !ValidRepository(path) {
		return Reference{}, invalid("image reference %q: repository %q is not a valid name (lower-case letters and digits, separated by . _ __ - and /; at most %d)", s, path, MaxRepository)
	}
	if (h == "docker.io" || h == "index.docker.io") && !strings.Contains(path, "/") {
		// Docker Hub's official images live under library/; go-containerregistry's strict mode
		// refuses the short form rather than guess.
		return Reference{}, invalid("image reference %q: on Docker Hub write %s/library/%s", s, h, path)
	}
	r.Repository = path
	return r, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
