# Everything that decides what the function may do, and which events reach it, is computed here
# as plain values: tools/tfcheck evaluates these expressions in a Go test and checks the IAM actions,
# the ARNs and the event pattern against the engine's action lists and the Lambda's event fixtures.
locals {
  partition = data.aws_partition.this.partition

  # EventBridge delivers to a function in another account only within one Region, so the function
  # lives in the source Region (data.aws_region.this must equal data.aws_region.source; the
  # precondition on aws_lambda_function.this says so) and writes to destination_region across Regions.
  function_region    = data.aws_region.this.region
  source_region      = data.aws_region.source.region
  destination_region = coalesce(var.destination_region, local.function_region)

  # Repositories named without a glob get a repository policy; globs cannot.
  literal_repositories = [for r in var.repositories : r if !strcontains(r, "*")]

  destination_repositories = distinct([for r in var.repositories : replace(var.destination_repository, "{repository}", r)])

  # IAM matches '*' in a resource ARN across '/', like EventBridge's wildcard: a glob grants
  # (and lets through) a superset of what the function's own rule matching accepts.
  source_repository_arns      = [for r in var.repositories : "arn:${local.partition}:ecr:${local.source_region}:${var.source_account_id}:repository/${r}"]
  destination_repository_arns = [for r in local.destination_repositories : "arn:${local.partition}:ecr:${local.destination_region}:${var.destination_account_id}:repository/${r}"]

  # The ECR actions the engine calls; internal/ecr/actions.go in the main module is the source of
  # truth, and tools/tfcheck fails when these lists and that file disagree.
  ecr_pull_actions = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
  ecr_push_actions = [
    "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
  ]
  ecr_list_actions             = ["ecr:ListImages"]
  ecr_registry_list_actions    = ["ecr:DescribeRepositories"]
  ecr_auth_actions             = ["ecr:GetAuthorizationToken"]
  ecr_settings_read_actions    = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource"]
  ecr_create_actions           = ["ecr:CreateRepository"]
  ecr_create_lifecycle_actions = ["ecr:PutLifecyclePolicy"]
  ecr_create_tag_actions       = ["ecr:TagResource"]
  kms_create_actions           = ["kms:CreateGrant", "kms:DescribeKey"]

  # ECRSYNC_CONFIG: the config contract of the Lambda (issue "The Lambda"), one rule, one destination.
  config = {
    source = local.source_config # source_reader.tf
    rules = [merge({
      repositories = var.repositories
      tags         = var.image_tags
      destinations = [merge({
        account_id = var.destination_account_id
        region     = local.destination_region
        repository = var.destination_repository
      }, local.create_repository_config)] # repository_creation.tf
    }, local.gate_config)]                # gates.tf
  }

  # Only successful pushes of matching repositories and tags reach the function. A name is an exact
  # match, a glob an EventBridge wildcard, and the tag "*" alone anything-but "", so untagged
  # child-manifest pushes (empty image-tag) never match.
  event_pattern = {
    source        = ["aws.ecr"]
    "detail-type" = ["ECR Image Action"]
    detail = {
      "action-type" = var.propagate_deletes ? ["PUSH", "DELETE"] : ["PUSH"] # gates.tf
      result        = ["SUCCESS"]
      "repository-name" = concat(
        [for r in var.repositories : r if !strcontains(r, "*")],
        [for r in var.repositories : { wildcard = r } if strcontains(r, "*")],
      )
      "image-tag" = concat(
        [for t in var.image_tags : t if !strcontains(t, "*")],
        [for t in var.image_tags : { wildcard = t } if strcontains(t, "*") && t != "*"],
        [for t in var.image_tags : { "anything-but" = "" } if t == "*"],
      )
    }
  }

  function_arn      = "arn:${local.partition}:lambda:${local.function_region}:${var.destination_account_id}:function:${var.name}"
  log_group_name    = "/aws/lambda/${var.name}"
  log_group_arn     = "arn:${local.partition}:logs:${local.function_region}:${var.destination_account_id}:log-group:${local.log_group_name}"
  failure_queue_arn = "arn:${local.partition}:sqs:${local.function_region}:${var.destination_account_id}:${var.name}-failures"
  # The reconcile queue exists only with reconcile_enabled; its ARN is still a plain value.
  reconcile_queue_arn = "arn:${local.partition}:sqs:${local.function_region}:${var.destination_account_id}:${var.name}-reconcile"
  rule_arn            = "arn:${local.partition}:events:${local.source_region}:${var.source_account_id}:rule/${var.name}"
  dead_letter_arn     = "arn:${local.partition}:sqs:${local.source_region}:${var.source_account_id}:${var.name}-dead-letter"
  # IAM names are global to an account: the Region keeps two instances of this module (one per source
  # Region, same name) apart. name is at most 40 characters, a Region at most 14: within IAM's 64.
  function_role_name = "${var.name}-${local.function_region}"
  invoke_role_name   = "${var.name}-invoke-${local.source_region}"
  reconcile_rule_arn = "arn:${local.partition}:events:${local.function_region}:${var.destination_account_id}:rule/${var.name}-reconcile"

  function_statements = [
    {
      Sid      = "Logs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${local.log_group_arn}:*"]
    },
    {
      Sid      = "EcrAuth"
      Effect   = "Allow"
      Action   = local.ecr_auth_actions
      Resource = ["*"]
    },
    {
      Sid      = "EcrPushDestination"
      Effect   = "Allow"
      Action   = local.ecr_push_actions
      Resource = local.destination_repository_arns
    },
    {
      Sid      = "FailureQueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [local.failure_queue_arn]
    },
  ]

  reconcile_statements = [
    {
      Sid      = "ReconcileQueue"
      Effect   = "Allow"
      Action   = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"]
      Resource = [local.reconcile_queue_arn]
    },
  ]

  function_policy = {
    Version = "2012-10-17"
    Statement = concat(
      local.function_statements,
      var.reconcile_enabled ? local.reconcile_statements : [],
      local.access_statements,              # source_reader.tf
      local.repository_creation_statements, # repository_creation.tf
      local.config_parameter_statements,    # config_parameter.tf
      local.gate_function_statements,       # gates.tf
    )
  }

  function_assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.destination_account_id } }
    }]
  }

  # The role EventBridge assumes in the source account: for this rule only, to invoke this function only.
  invoke_assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        # gates.tf: with a scan gate, the scan rule invokes through this role too.
        StringEquals = merge(
          { "aws:SourceAccount" = var.source_account_id, "aws:SourceArn" = local.rule_arn },
          local.gate_scan ? { "aws:SourceArn" = [local.rule_arn, "${local.rule_arn}-scan"] } : {},
        )
      }
    }]
  }

  invoke_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeEcrsync"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [local.function_arn]
    }]
  }

  # Lets EventBridge put undeliverable events on the rule's dead-letter queue.
  dead_letter_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridgeDeadLetter"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = local.dead_letter_arn
      Condition = { ArnEquals = { "aws:SourceArn" = local.rule_arn } }
    }]
  }

  # Set on the source repositories with manage_source_repository_policy: the function's role may
  # pull (and list, for the reconcile; read settings, for repository creation).
  source_repository_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcrsyncPull"
      Effect    = "Allow"
      Principal = { AWS = concat([aws_iam_role.this.arn], var.source_repository_policy_principal_arns) }
      Action    = local.source_repository_actions
    }]
  }

  vpc_enabled = length(var.vpc_subnet_ids) > 0
}
