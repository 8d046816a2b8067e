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
	// ListActions are what the reconcile needs on source repositories to list their tags
	// (ListImages names each tag's digest; nothing calls DescribeImages).
	ListActions = []string{
		"ecr:ListImages",
	}
	// RegistryListActions list a registry's repositories (DescribeRepositories without names),
	// which the reconcile does only when a rule's repositories are globs. It is authorized on
	// repository/* of that registry and no repository policy can grant it across accounts: it needs
	// credentials of the registry's account (the source reader role).
	RegistryListActions = []string{
		"ecr:DescribeRepositories",
	}
	// AuthActions are account-wide (resource "*"): one token per registry and Region.
	AuthActions = []string{
		"ecr:GetAuthorizationToken",
	}
	// SettingsReadActions read a source repository's settings for repository creation "like the
	// source" (Creator): DescribeRepositories by name, GetLifecyclePolicy, ListTagsForResource.
	SettingsReadActions = []string{
		"ecr:DescribeRepositories",
		"ecr:GetLifecyclePolicy",
		"ecr:ListTagsForResource",
	}
	// CreateActions create a missing destination repository (Creator; and, for a CREATE_ON_PUSH
	// creation template, what the pusher needs).
	CreateActions = []string{
		"ecr:CreateRepository",
	}
	// CreateLifecycleActions set a created repository's lifecycle policy, when it gets one.
	CreateLifecycleActions = []string{
		"ecr:PutLifecyclePolicy",
	}
	// CreateTagActions set a created repository's tags, when it gets any.
	CreateTagActions = []string{
		"ecr:TagResource",
	}
	// KMSCreateActions are what creating a repository encrypted with a customer managed KMS key
	// needs on that key: ECR calls DescribeKey and CreateGrant on the creator's behalf (Amazon ECR
	// User Guide, "Encryption at rest"; RetireGrant is for deleting, which ecrsync never does).
	KMSCreateActions = []string{
		"kms:CreateGrant",
		"kms:DescribeKey",
	}
	// ScanReadActions read a source image's scan findings for a rule's scan gate (ScanReader), on
	// the source repositories, as the source reader role: enhanced scanning's findings are not
	// readable from another account.
	ScanReadActions = []string{
		"ecr:DescribeImageScanFindings",
	}
	// KMSVerifyActions read the public key of a KMS key named in a signature gate
	// (awskms:///ARN); the key's own policy must allow the function's role too.
	KMSVerifyActions = []string{
		"kms:GetPublicKey",
	}
	// DeleteActions remove a destination tag whose source tag was deleted (propagate_deletes):
	// BatchDeleteImage by tag, never by digest.
	DeleteActions = []string{
		"ecr:BatchDeleteImage",
	}
	// PruneListActions list a destination's tags for `sync --prune` (the OCI tag list is
	// ecr:ListImages).
	PruneListActions = []string{
		"ecr:ListImages",
	}
)
