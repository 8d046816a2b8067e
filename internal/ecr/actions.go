package ecr

// The ECR IAM actions ecrsync calls, by purpose. The Terraform module's policies are checked
// against these lists (tools/tfcheck reads this file's string literals with go/parser): keep each
// a plain composite literal of strings.
//
// The OCI distribution API that the copy engine speaks maps onto them: HEAD/GET manifest ->
// BatchGetImage, HEAD blob -> BatchCheckLayerAvailability, GET blob -> GetDownloadUrlForLayer,
// POST/PATCH/PUT upload -> InitiateLayerUpload/UploadLayerPart/CompleteLayerUpload, PUT manifest
// -> PutImage (Amazon ECR User Guide, "Private repository policy" and "Required IAM permissions
// for pushing an image").
var (
	// PullActions are what the source repository must allow.
	PullActions = []string{
		"ecr:BatchGetImage",
		"ecr:GetDownloadUrlForLayer",
		"ecr:BatchCheckLayerAvailability",
	}
	// PushActions are what each destination repository must allow. Pull actions are included:
	// the engine checks what the destination already has before it sends anything.
	PushActions = []string{
		"ecr:BatchCheckLayerAvailability",
		"ecr:BatchGetImage",
		"ecr:GetDownloadUrlForLayer",
		"ecr:InitiateLayerUpload",
		"ecr:UploadLayerPart",
		"ecr:CompleteLayerUpload",
		"ecr:PutImage",
	}
	// ListActions are what the reconcile needs on source repositories to list images.
	ListActions = []string{
		"ecr:DescribeRepositories",
		"ecr:ListImages",
		"ecr:DescribeImages",
	}
	// AuthActions are account-wide (resource "*"): one token per registry and Region.
	AuthActions = []string{
		"ecr:GetAuthorizationToken",
	}
)
