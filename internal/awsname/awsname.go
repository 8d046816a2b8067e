// Package awsname is what ecrsync knows of AWS names without talking to AWS: account IDs, Region
// names and their partitions, and Amazon ECR private registry hosts in every partition (IPv4,
// dual-stack, FIPS). It imports no AWS SDK package, so the pure packages (event, rules) can
// name ECR registries without linking the SDK; internal/ecr builds its keychain on it.
package awsname

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Location is an ECR registry: an account in a Region, and how to reach it.
type Location struct {
	Account   string // 12 digits
	Region    string // e.g. eu-west-1
	FIPS      bool   // a FIPS 140-3 endpoint (ecr-fips)
	DualStack bool   // an IPv4 and IPv6 endpoint (dkr-ecr.REGION.on.aws)
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	// regionRE accepts every Region name in the aws, aws-cn, aws-us-gov and ISO partitions
	// (us-east-1, cn-north-1, us-gov-west-1, ap-southeast-5, eusc-de-east-1...).
	regionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$`)
	// hostRE matches every ECR private registry host form:
	//   ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn]   (IPv4)
	//   ACCOUNT.dkr-ecr[-fips].REGION.on.aws               (dual-stack)
	//   ACCOUNT.dkr-ecr.REGION.on.amazonwebservices.com.cn (dual-stack, China)
	// (Amazon ECR User Guide, "Making requests to Amazon ECR registries"; AWS General Reference,
	// "Amazon ECR endpoints and quotas").
	hostRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([0-9]{12})\.(dkr\.ecr|dkr\.ecr-fips|dkr-ecr|dkr-ecr-fips)\.([a-z0-9-]+)\.(amazonaws\.com|amazonaws\.com\.cn|on\.aws|on\.amazonwebservices\.com\.cn)$`)
	})
)

// ValidAccount reports whether s is a 12-digit AWS account ID.
func ValidAccount(s string) bool { return accountRE.MatchString(s) }

// ValidRegion reports whether s has the shape of an AWS Region name.
func ValidRegion(s string) bool { return regionRE.MatchString(s) }

// Partition returns the AWS partition of a Region: aws-cn for cn-*, aws-us-gov for us-gov-*,
// aws otherwise.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// Host returns the registry host for l, in the partition of its Region.
func Host(l Location) (string, error) {
	if !ValidAccount(l.Account) {
		return "", fmt.Errorf("account ID %q: want 12 digits", l.Account)
	}
	if !ValidRegion(l.Region) {
		return "", fmt.Errorf("region %q is not an AWS Region name", l.Region)
	}
	china := Partition(l.Region) == "aws-cn"
	if china && l.FIPS {
		return "", fmt.Errorf("region %s: ECR has no FIPS endpoints in the China Regions", l.Region)
	}
	switch {
	case l.DualStack && china:
		return l.Account + ".dkr-ecr." + l.Region + ".on.amazonwebservices.com.cn", nil
	case l.DualStack && l.FIPS:
		return l.Account + ".dkr-ecr-fips." + l.Region + ".on.aws", nil
	case l.DualStack:
		return l.Account + ".dkr-ecr." + l.Region + ".on.aws", nil
	case china:
		return l.Account + ".dkr.ecr." + l.Region + ".amazonaws.com.cn", nil
	case l.FIPS:
		return l.Account + ".dkr.ecr-fips." + l.Region + ".amazonaws.com", nil
	}
	return l.Account + ".dkr.ecr." + l.Region + ".amazonaws.com", nil
}

// ParseHost reads the account and Region out of an ECR registry host (a port, if any, is
// ignored). ok is false for any other host.
func ParseHost(host string) (l Location, ok bool) {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	m := hostRE().FindStringSubmatch(h)
	if m == nil || !ValidRegion(m[3]) {
		return Location{}, false
	}
	l = Location{Account: m[1], Region: m[3], FIPS: strings.HasSuffix(m[2], "-fips"), DualStack: strings.HasPrefix(m[2], "dkr-ecr")}
	if (m[4] == "amazonaws.com.cn" || m[4] == "on.amazonwebservices.com.cn") != (Partition(l.Region) == "aws-cn") {
		return Location{}, false
	}
	return l, true
}
