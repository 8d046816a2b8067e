// Package awsregion is the list of AWS Region names, by partition, and what to make of a name
// that is not on it: a near miss of a known Region (eu-westt-1) is a typo, while a name built
// from the usual parts (ap-southeast-9) or resembling nothing may be a Region opened after this
// list was made. It imports nothing from the AWS SDK; its test checks the list against the
// SDK's endpoint data (partitions.json of aws-sdk-go-v2).
package awsregion

import (
	"slices"
	"strings"
)

// partitions holds each partition's Regions, as in aws-sdk-go-v2's partitions.json (without the
// *-global pseudo-Regions, which name no ECR registry).
var partitions = map[string][]string{
	"aws": {
		"af-south-1",
		"ap-east-1", "ap-east-2",
		"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ap-south-1", "ap-south-2",
		"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
		"ca-central-1", "ca-west-1",
		"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
		"il-central-1",
		"me-central-1", "me-south-1", "me-west-1",
		"mx-central-1",
		"sa-east-1", "sa-west-1",
		"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	},
	"aws-cn":     {"cn-north-1", "cn-northwest-1"},
	"aws-us-gov": {"us-gov-east-1", "us-gov-west-1"},
	"aws-eusc":   {"eusc-de-east-1"},
	"aws-iso":    {"us-iso-east-1", "us-iso-west-1"},
	"aws-iso-b":  {"us-isob-east-1", "us-isob-west-1"},
	"aws-iso-e":  {"eu-isoe-west-1"},
	"aws-iso-f":  {"us-isof-east-1", "us-isof-south-1"},
}

var (
	known = map[string]bool{}
	all   []string
	// Words seen in known names: first parts (us, eu, cn...) and the rest (east, gov, isob...).
	// A name made only of these and a number looks like a new Region, not a typo.
	firstWords, laterWords = map[string]bool{}, map[string]bool{}
)

func init() {
	for _, rs := range partitions {
		for _, r := range rs {
			known[r] = true
			all = append(all, r)
			words := strings.Split(r, "-")
			firstWords[words[0]] = true
			for _, w := range words[1 : len(words)-1] {
				laterWords[w] = true
			}
		}
	}
	slices.Sort(all)
}

// maxTypo is the largest edit distance (insertions, deletions, substitutions, transpositions)
// at which an unknown name counts as a misspelt known Region.
const maxTypo = 2

// Known reports whether region is on the list.
func Known(region string) bool { return known[region] }

// List returns every known Region, sorted.
func List() []string { return slices.Clone(all) }

// Partitions returns the partitions the list covers and their Regions (a copy).
func Partitions() map[string][]string {
	out := make(map[string][]string, len(partitions))
	for p, rs := range partitions {
		out[p] = slices.Clone(rs)
	}
	return out
}

// Suggest returns the known Region that region is most likely a misspelling of, and true, when
// region is not known, is within a few edits of a known Region, and is not made of the usual
// parts of Region names (an area such as us or ap, directions such as east or southeast, a
// number), which a Region opened after this list would be. Otherwise it returns "", false: the
// name is known, or may be new.
func Suggest(region string) (string, bool) {
	if known[region] || looksNew(region) {
		return "", false
	}
	best, bestD := "", maxTypo+1
	for _, r := range all {
		if d := Distance(region, r); d < bestD {
			best, bestD = r, d
		}
	}
	return best, best != ""
}

// looksNew reports whether name is area-words-number with every word one that known Region
// names use in that place.
func looksNew(name string) bool {
	words := strings.Split(name, "-")
	if len(words) < 3 || !firstWords[words[0]] {
		return false
	}
	n := words[len(words)-1]
	if n == "" || len(n) > 2 || strings.Trim(n, "0123456789") != "" {
		return false
	}
	for _, w := range words[1 : len(words)-1] {
		if !laterWords[w] {
			return false
		}
	}
	return true
}

// Distance is the optimal-string-alignment edit distance between a and b: the fewest
// insertions, deletions, substitutions and swaps of adjacent bytes that turn a into b.
func Distance(a, b string) int {
	// Three rows suffice: the current one, the previous, and the one before it (for swaps).
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
