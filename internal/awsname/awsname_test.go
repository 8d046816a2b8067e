package awsname

import "testing"

func TestHostAndParseHostAgreeInEveryPartition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		loc  Location
		host string
	}{
		{"commercial", Location{Account: "111111111111", Region: "us-east-1"}, "111111111111.dkr.ecr.us-east-1.amazonaws.com"},
		{"commercial fips", Location{Account: "111111111111", Region: "us-west-2", FIPS: true}, "111111111111.dkr.ecr-fips.us-west-2.amazonaws.com"},
		{"commercial dual-stack", Location{Account: "111111111111", Region: "eu-west-1", DualStack: true}, "111111111111.dkr-ecr.eu-west-1.on.aws"},
		{"fips dual-stack", Location{Account: "111111111111", Region: "us-east-2", FIPS: true, DualStack: true}, "111111111111.dkr-ecr-fips.us-east-2.on.aws"},
		{"china", Location{Account: "222222222222", Region: "cn-north-1"}, "222222222222.dkr.ecr.cn-north-1.amazonaws.com.cn"},
		{"china dual-stack", Location{Account: "222222222222", Region: "cn-northwest-1", DualStack: true}, "222222222222.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn"},
		{"govcloud", Location{Account: "333333333333", Region: "us-gov-west-1"}, "333333333333.dkr.ecr.us-gov-west-1.amazonaws.com"},
		{"govcloud fips", Location{Account: "333333333333", Region: "us-gov-east-1", FIPS: true}, "333333333333.dkr.ecr-fips.us-gov-east-1.amazonaws.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Host(tt.loc)
			if err != nil || got != tt.host {
				t.Fatalf("Host(%+v) = %q, %v; want %q", tt.loc, got, err, tt.host)
			}
			back, ok := ParseHost(got + ":443")
			if !ok || back != tt.loc {
				t.Fatalf("ParseHost(%q) = %+v, %v; want %+v", got, back, ok, tt.loc)
			}
		})
	}
}

func TestHostRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, l := range []Location{
		{Account: "12345", Region: "us-east-1"},
		{Account: "111111111111", Region: "US-EAST-1"},
		{Account: "111111111111", Region: "us-east-1.evil.com/"},
		{Account: "111111111111", Region: "cn-north-1", FIPS: true},
	} {
		if h, err := Host(l); err == nil {
			t.Errorf("Host(%+v) = %q, want an error", l, h)
		}
	}
}

func TestParseHostRejectsLookalikes(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		"127.0.0.1:5000",
		"public.ecr.aws",
		"111111111111.dkr.ecr.us-east-1.amazonaws.com.evil.example",
		"111111111111.dkr.ecr.cn-north-1.amazonaws.com", // China Region outside the China partition
		"111111111111.dkr.ecr.us-east-1.amazonaws.com.cn",
		"11111111111.dkr.ecr.us-east-1.amazonaws.com",
		"x111111111111.dkr.ecr.us-east-1.amazonaws.com",
	} {
		if l, ok := ParseHost(h); ok {
			t.Errorf("ParseHost(%q) = %+v, want not ECR", h, l)
		}
	}
}
