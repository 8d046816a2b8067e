// Package release holds the tests of `make release` (scripts/release.sh): two builds of one commit
// are the same bytes, and what is built is stamped and complete. There is no code here, only tests.
package release
