package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecrsync/ecrsync/internal/ecr"
	"github.com/ecrsync/ecrsync/internal/lambda"
)

// BenchmarkFirstCopy measures one event's invocation, in a new process (a handler built for it:
// no cached token, role session or repository), for a 4 KiB image into an ECR destination:
// "existing" = the destination repository exists and the source is read with the function's own
// credentials; "role" = the same through the source reader role (adds AssumeRole); "create" =
// through the role into a missing repository that create_repository creates like the source. It
// reports the median of the invocations (b.N of them), and the AWS API calls and registry
// requests of one.
//
//	go test ./internal/app -run '^$' -bench FirstCopy -benchtime 15x
func BenchmarkFirstCopy(b *testing.B) {
	for _, v := range []struct {
		name         string
		role, create bool
	}{{"existing", false, false}, {"role", true, false}, {"create", true, true}} {
		b.Run(v.name, func(b *testing.B) {
			s := newCreateStack(b)
			dstECR := s.api.Registry(dstAccount, dstRegion)
			var took []time.Duration
			calls, requests := 0, int64(0)
			for i := range b.N {
				b.StopTimer()
				repo := fmt.Sprintf("team/svc-%d", i)
				s.sourceRepository(b, repo)
				if !v.create {
					dstECR.CreateRepository(repo, false)
				}
				d := s.imageIn(b, repo, "v1", uint64(i+1))
				doc := s.config(map[bool]string{true: `,"create_repository":true`}[v.create], "")
				if !v.role {
					doc = strings.Replace(doc, fmt.Sprintf(`,"role_arn":%q`, readerRole), "", 1)
				}
				h := s.handler(b, doc, nil)
				ev := s.eventIn(b, repo, "e", "v1", d)
				before, reqs := s.calls(), s.srcRequests.Load()+s.dstRequests.Load()
				b.StartTimer()
				start := time.Now()
				res, err := h.Handle(context.Background(), ev)
				took = append(took, time.Since(start))
				b.StopTimer()
				if err != nil || res.(lambda.Result).Outcomes[0].Outcome != lambda.OutcomeCopied {
					b.Fatalf("%v %+v", err, res)
				}
				_, calls = since(before, s.calls())
				requests = s.srcRequests.Load() + s.dstRequests.Load() - reqs
				b.StartTimer()
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
			b.ReportMetric(float64(calls), "aws-calls")
			b.ReportMetric(float64(requests), "registry-requests")
		})
	}
}

// BenchmarkAssumeRole measures a role's first credentials (one AssumeRole at the STS stand-in,
// through the SDK's client as the app builds it), the cost a new process adds per role.
func BenchmarkAssumeRole(b *testing.B) {
	s := newCreateStack(b)
	var took []time.Duration
	for range b.N {
		roles := ecr.NewRoles(*s.function(), ecr.RoleOptions{})
		start := time.Now()
		if _, err := roles.Credentials(readerRole, srcRegion).Retrieve(context.Background()); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "median-ms")
}
