package awsregion

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestListMatchesTheSDKEndpointData reads partitions.json of the aws-sdk-go-v2 module this
// module builds with (its endpoint rules' partition data, internal to the SDK, so read from the
// module's directory) and checks that every partition's Regions are ours, no more, no fewer.
func TestListMatchesTheSDKEndpointData(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go-v2").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/aws/aws-sdk-go-v2: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	b, err := os.ReadFile(filepath.Join(dir, "internal", "endpoints", "awsrulesfn", "partitions.json"))
	if err != nil {
		t.Fatalf("the SDK's partition data (run go mod download): %v", err)
	}
	var doc struct {
		Partitions []struct {
			ID      string                     `json:"id"`
			Regions map[string]json.RawMessage `json:"regions"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ours := Partitions()
	seen := map[string]bool{}
	for _, p := range doc.Partitions {
		var sdk []string
		for r := range p.Regions {
			if !strings.HasSuffix(r, "-global") {
				sdk = append(sdk, r)
			}
		}
		slices.Sort(sdk)
		got := slices.Sorted(slices.Values(ours[p.ID]))
		if !slices.Equal(got, sdk) {
			t.Errorf("partition %s: ours %q, the SDK's %q", p.ID, got, sdk)
		}
		seen[p.ID] = true
	}
	for _, want := range []string{"aws", "aws-cn", "aws-us-gov"} {
		if !seen[want] {
			t.Errorf("the SDK's data has no partition %s", want)
		}
	}
	for p := range ours {
		if !seen[p] {
			t.Errorf("partition %s is not in the SDK's data", p)
		}
	}
}

func TestSuggestTellsTyposFromNewRegions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, region, want string
		typo               bool
	}{
		{"known", "eu-west-1", "", false},
		{"known in China", "cn-northwest-1", "", false},
		{"doubled letter", "eu-westt-1", "eu-west-1", true},
		{"swapped letters", "us-esat-1", "us-east-1", true},
		{"missing letter", "ap-southest-1", "ap-southeast-1", true},
		{"wrong area letter", "eu-gov-west-1", "", false}, // made of known parts: may be new
		{"typo in GovCloud", "us-gov-wset-1", "us-gov-west-1", true},
		{"new number in a known area", "ap-southeast-9", "", false},
		{"new direction pair", "eu-east-1", "", false},
		{"resembles nothing", "moon-base-1", "", false},
		{"shape wrong but close", "us-east1", "us-east-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, typo := Suggest(tt.region)
			if got != tt.want || typo != tt.typo {
				t.Fatalf("Suggest(%q) = %q, %v; want %q, %v", tt.region, got, typo, tt.want, tt.typo)
			}
		})
	}
}

func TestKnownAndList(t *testing.T) {
	t.Parallel()
	if !Known("us-east-1") || !Known("us-gov-west-1") || Known("us-east-9") || Known("aws-global") {
		t.Fatal("Known is wrong for us-east-1, us-gov-west-1, us-east-9 or aws-global")
	}
	l := List()
	if !slices.IsSorted(l) || !slices.Contains(l, "eusc-de-east-1") {
		t.Fatalf("List() = %q: want sorted, with eusc-de-east-1", l)
	}
	l[0] = "changed"
	if List()[0] == "changed" {
		t.Fatal("List shares its slice with the package")
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"tag", "tags", 1}, {"regoin", "region", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}, {"ab", "ba", 1}} {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
