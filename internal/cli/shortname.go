package cli

import "strings"

// DefaultRegistry is where a short name points, as docker and crane resolve it.
const DefaultRegistry = "docker.io"

// expandShort resolves a short image name as docker does: a first component that is not a host
// (no '.', no ':', not localhost) means Docker Hub, and a single-component repository there is
// under library/ (alpine -> docker.io/library/alpine). latest adds the tag "latest" when s names
// neither tag nor digest (a source; a destination without a tag takes the source's). It returns
// s unchanged when it is already whole.
func expandShort(s string, latest bool) string {
	first, _, hasSlash := strings.Cut(s, "/")
	if !hasSlash {
		// One component: a Docker Hub official image, unless it looks like a host
		// (127.0.0.1:5000, registry.example.com, localhost:5000), which stays for the parser
		// to refuse as a reference without a repository.
		first = first[:strings.IndexAny(first+":", ":@")]
	}
	if first == "" || strings.ContainsAny(first, ".:") || first == "localhost" {
		return s // it names its host, or is not a name at all
	}
	repo := s
	if !hasSlash {
		repo = "library/" + s
	}
	out := DefaultRegistry + "/" + repo
	if latest && !strings.ContainsAny(repo[strings.LastIndex(repo, "/")+1:], ":@") {
		out += ":latest"
	}
	return out
}
