# Access to the source account. Two models, chosen by manage_source_repository_policy:
#
#   false (the default): a source reader role in the source account (provider aws.ecr) that only the
#     function's role may assume. Every source call (tokens, blobs, manifests, listings, settings
#     reads) is made as that role; no policy of the source account's repositories is touched. A
#     listing without repository names (the reconcile over globs) works only this way: it is
#     authorized against repository/* of the source registry, which no repository policy can grant.
#   true: the old model. The module writes the repository policy of each source repository named
#     without a glob, REPLACING whatever policy it had, and the function pulls with its own role.

locals {
  source_policy_access = coalesce(var.manage_source_repository_policy, false)
  # IAM names are global to the source account: the Region keeps two instances of this module (one
  # per source Region, same name) apart, as for the function's role. name is at most 40 characters,
  # "-reader-" 8, a Region at most 14: within IAM's 64.
  source_reader_name = "${var.name}-reader-${local.source_region}"
  # A plain value (not the resource's attribute) so the config and the function's policy can name
  # the role before it exists, and the policy checks can evaluate it offline.
  source_reader_arn = "arn:${local.partition}:iam::${var.source_account_id}:role/${local.source_reader_name}"

  source_uses_globs = anytrue([for r in var.repositories : strcontains(r, "*")])
  # A listing without names (DescribeRepositories over the registry) happens only when the
  # reconcile runs and some repository is a glob: only then is repository/* granted.
  source_registry_listing = var.reconcile_enabled && local.source_uses_globs
  source_registry_arn     = "arn:${local.partition}:ecr:${local.source_region}:${var.source_account_id}:repository/*"

  # What is done to the source repositories, by whichever identity does it.
  source_repository_actions = concat(
    local.ecr_pull_actions,
    var.reconcile_enabled ? local.ecr_list_actions : [],
    local.repository_creation_by_ecrsync ? local.ecr_settings_read_actions : [],
    local.gate_source_actions, # gates.tf
  )

  source_reader_statements = concat(
    [
      {
        Sid      = "EcrAuth"
        Effect   = "Allow"
        Action   = local.ecr_auth_actions
        Resource = ["*"]
      },
      {
        Sid      = "EcrReadSource"
        Effect   = "Allow"
        Action   = local.source_repository_actions
        Resource = local.source_repository_arns
      },
    ],
    local.source_registry_listing ? [{
      Sid      = "EcrListRegistry"
      Effect   = "Allow"
      Action   = local.ecr_registry_list_actions
      Resource = [local.source_registry_arn]
    }] : [],
  )

  source_reader_policy = {
    Version   = "2012-10-17"
    Statement = local.source_reader_statements
  }

  # Trust: exactly the function's role. No sts:ExternalId: it guards a third party that assumes
  # roles for many customers (the confused deputy), and here the caller is our own function whose
  # config would hold the "secret" in plain text. No aws:PrincipalArn condition either: it only
  # adds something when the principal is a whole account; the principal here is the role itself.
  # sts:RoleSessionName is pinned to ecrsync's prefix so CloudTrail shows every session as ecrsync's.
  source_reader_assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcrsyncFunction"
      Effect    = "Allow"
      Principal = { AWS = aws_iam_role.this.arn }
      Action    = "sts:AssumeRole"
      Condition = { StringLike = { "sts:RoleSessionName" = "ecrsync-*" } }
    }]
  }

  # The function's side of each model.
  access_statements = local.source_policy_access ? [
    {
      Sid      = "EcrReadSource"
      Effect   = "Allow"
      Action   = local.source_repository_actions
      Resource = local.source_repository_arns
    },
    ] : [
    {
      Sid      = "AssumeSourceReader"
      Effect   = "Allow"
      Action   = ["sts:AssumeRole"]
      Resource = [local.source_reader_arn]
    },
  ]

  # The config's source: through the reader role, or with the function's own credentials.
  source_config = merge(
    { account_id = var.source_account_id, region = local.source_region },
    local.source_policy_access ? {} : { role_arn = local.source_reader_arn },
  )

  source_access_summary = local.source_policy_access ? join(" ", [
    "repository policy: this module SETS the whole repository policy of ${join(", ", local.literal_repositories)} in ${var.source_account_id}",
    "(replacing any other statement there; destroy deletes it); the function pulls with its own role.",
    local.source_uses_globs && var.reconcile_enabled ? "The reconcile cannot list ${var.source_account_id} over globs this way (no repository policy grants a registry-wide listing): use the reader role." : "",
    ]) : join(" ", [
    "source reader role ${local.source_reader_arn}: the function assumes it for every source call; no source repository policy is managed.",
    var.manage_source_repository_policy == null ? "manage_source_repository_policy is unset (the default changed from true to false): if this plan destroys aws_ecr_repository_policy.source, those are the policies an earlier version of this module set. Set manage_source_repository_policy = true to keep them, or false to confirm." : "",
  ])
}

resource "aws_iam_role" "source_reader" {
  provider = aws.ecr
  count    = local.source_policy_access ? 0 : 1

  name                 = local.source_reader_name
  description          = "ecrsync ${var.name} (account ${var.destination_account_id}) reads the source repositories through this role"
  assume_role_policy   = jsonencode(local.source_reader_assume_role_policy)
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "source_reader" {
  provider = aws.ecr
  count    = local.source_policy_access ? 0 : 1

  name   = local.source_reader_name
  role   = aws_iam_role.source_reader[0].id
  policy = jsonencode(local.source_reader_policy)
}

# Visible in every plan: the default changed, and a policy this module used to set would go.
check "source_repository_policy" {
  assert {
    condition     = var.manage_source_repository_policy != null
    error_message = "manage_source_repository_policy is not set, and its default changed from true to false: the function now reads the source through the role ${local.source_reader_arn}, and any aws_ecr_repository_policy.source this plan destroys is a policy an earlier version of this module set on ${join(", ", local.literal_repositories)}. Set manage_source_repository_policy = true to keep those policies (and the old access model), or = false to confirm the change and silence this warning."
  }
}

check "source_listing" {
  assert {
    condition     = !(local.source_policy_access && local.source_registry_listing)
    error_message = "manage_source_repository_policy = true with repository globs (${join(", ", [for r in var.repositories : r if strcontains(r, "*")])}) and the reconcile on: listing the source registry needs credentials of account ${var.source_account_id}, which no repository policy grants, so every reconcile run will fail with AccessDenied. Use the source reader role (manage_source_repository_policy = false) or name the repositories without globs."
  }
}
