# Destination repositories created on demand (create_repositories):
#
#   "ecrsync":  the function creates a missing destination repository when a copy finds it missing,
#               like the source repository (tag mutability and its exclusion filters, scan on push,
#               lifecycle policy, tags, read through the source access) unless a repository_*
#               variable sets the value. It needs ecr:CreateRepository on the destination
#               repositories, ecr:PutLifecyclePolicy only when a lifecycle policy can be set,
#               ecr:TagResource only when tags can be set, and on a named KMS key the two KMS
#               actions ECR calls at creation (Amazon ECR User Guide, "Encryption at rest": ECR
#               calls DescribeKey, then CreateGrant twice, on the creator's behalf; RetireGrant is
#               used when a repository is deleted, which ecrsync never does).
#   "template": a repository creation template applied for CREATE_ON_PUSH in the destination
#               account, so ECR itself creates a repository on the first push under the prefix,
#               with the template's fixed settings (no "like the source"): tag mutability, exclusion
#               filters, lifecycle policy, AES256. The pusher then needs ecr:CreateRepository on the
#               repository (User Guide, "Creating a repository creation template"; inferred, not
#               checked against AWS: ECR authorizes the implicit creation as the pusher's
#               CreateRepository and applies the template's lifecycle policy itself). Tags and KMS
#               keys need a custom role on the template (custom_role_arn), which this module does
#               not create: use "ecrsync" for those.
#   "none":     repositories must exist (the copy fails needs_action naming the repository).

locals {
  repository_creation_by_ecrsync  = var.create_repositories == "ecrsync"
  repository_creation_by_template = var.create_repositories == "template"

  # null = like the source (which may have one, so the grant is needed); "" or {} = none.
  repository_lifecycle_possible = var.repository_lifecycle_policy != ""
  repository_tags_possible      = var.repository_tags == null || try(length(var.repository_tags) > 0, false)

  ecr_create_statement_actions = concat(
    local.ecr_create_actions,
    local.repository_creation_by_ecrsync && local.repository_lifecycle_possible ? local.ecr_create_lifecycle_actions : [],
    local.repository_creation_by_ecrsync && local.repository_tags_possible ? local.ecr_create_tag_actions : [],
  )

  repository_creation_statements = concat(
    var.create_repositories == "none" ? [] : [{
      Sid      = "EcrCreateDestination"
      Effect   = "Allow"
      Action   = local.ecr_create_statement_actions
      Resource = local.destination_repository_arns
    }],
    local.repository_creation_by_ecrsync && var.repository_kms_key != null ? [{
      Sid      = "KmsForRepositoryCreation"
      Effect   = "Allow"
      Action   = local.kms_create_actions
      Resource = [var.repository_kms_key]
      # Only through ECR in the destination Region, as ECR uses it when creating the repository.
      Condition = { StringEquals = { "kms:ViaService" = "ecr.${local.destination_region}.amazonaws.com" } }
    }] : [],
  )

  # The config's create_repository: only what is set here; the rest the function reads from the
  # source repository.
  create_repository_config = local.repository_creation_by_ecrsync ? {
    create_repository = merge(
      var.repository_image_tag_mutability == null ? {} : { image_tag_mutability = var.repository_image_tag_mutability },
      length(var.repository_image_tag_mutability_exclusion_filters) == 0 ? {} : { image_tag_mutability_exclusion_filters = var.repository_image_tag_mutability_exclusion_filters },
      var.repository_scan_on_push == null ? {} : { scan_on_push = var.repository_scan_on_push },
      var.repository_kms_key == null ? {} : { encryption = { type = "KMS", kms_key = var.repository_kms_key } },
      var.repository_lifecycle_policy == null ? {} : { lifecycle_policy = var.repository_lifecycle_policy },
      var.repository_tags == null ? {} : { tags = var.repository_tags },
    )
  } : {}
}

resource "aws_ecr_repository_creation_template" "this" {
  count = local.repository_creation_by_template ? 1 : 0
  # The destination registry: the default provider's account, in the destination Region.
  region = local.destination_region

  prefix               = var.repository_creation_template_prefix
  applied_for          = ["CREATE_ON_PUSH"]
  image_tag_mutability = coalesce(var.repository_image_tag_mutability, "MUTABLE")
  lifecycle_policy     = var.repository_lifecycle_policy == "" ? null : var.repository_lifecycle_policy

  dynamic "image_tag_mutability_exclusion_filter" {
    for_each = var.repository_image_tag_mutability_exclusion_filters
    content {
      filter      = image_tag_mutability_exclusion_filter.value
      filter_type = "WILDCARD"
    }
  }

  encryption_configuration {
    encryption_type = "AES256"
  }

  lifecycle {
    precondition {
      condition     = var.repository_creation_template_prefix != null
      error_message = "create_repositories = \"template\" needs repository_creation_template_prefix: the repository name prefix the template applies to (\"mirror\" for mirror/..., or ROOT for every repository without a more specific template)."
    }
    precondition {
      condition     = var.repository_scan_on_push == null && var.repository_tags == null && var.repository_kms_key == null
      error_message = "A creation template cannot set scan on push (use the registry's scanning configuration), and with tags or a KMS key ECR needs a custom role (custom_role_arn) this module does not create: use create_repositories = \"ecrsync\" for those settings."
    }
  }
}

check "repository_creation_kms_key" {
  assert {
    condition     = var.repository_kms_key == null || can(regex(":kms:${local.destination_region}:${var.destination_account_id}:key/", var.repository_kms_key))
    error_message = "repository_kms_key must be a key of the destination account ${var.destination_account_id} in ${local.destination_region}: ECR encrypts a repository only with a key of its own account and Region."
  }
}
