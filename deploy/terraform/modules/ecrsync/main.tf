# The function and what it runs with, in the destination account (default provider), in the source
# Region. See locals.tf for the policies and the config it is given.

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name               = var.name
  description        = "ecrsync ${var.name}: pulls from ${var.source_account_id}, pushes to ${local.destination_region}"
  assume_role_policy = jsonencode(local.function_assume_role_policy)
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = jsonencode(local.function_policy)
}

# In a VPC, Lambda needs to manage its network interfaces: AWS's managed policy for exactly that.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = local.vpc_enabled ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_sqs_queue" "failure" {
  name                      = "${var.name}-failures"
  message_retention_seconds = var.queue_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_lambda_function" "this" {
  function_name    = var.name
  description      = "ecrsync: copies pushed images from ${var.source_account_id}/${local.source_region} to ${var.destination_account_id}/${local.destination_region}"
  role             = aws_iam_role.this.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  filename         = var.package_file
  source_code_hash = var.package_hash
  memory_size      = var.memory_size
  timeout          = var.timeout
  tags             = var.tags

  ephemeral_storage {
    size = var.ephemeral_storage
  }

  environment {
    variables = merge(
      local.config_environment, # config_parameter.tf
      var.reconcile_enabled ? {
        ECRSYNC_RECONCILE_QUEUE_URL = aws_sqs_queue.reconcile[0].url
        # Each concurrent invocation paces its PutImage calls to its share of the quota.
        ECRSYNC_PUT_RATE = format("%g", var.put_image_rate / var.reconcile_maximum_concurrency)
      } : {},
    )
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  dynamic "vpc_config" {
    for_each = local.vpc_enabled ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  lifecycle {
    precondition {
      condition     = local.function_region == local.source_region
      error_message = "The default provider (destination account) must be configured for the source Region (${local.source_region}), not ${local.function_region}: EventBridge invokes a function in another account only within one Region, so ecrsync runs in the source Region and writes to destination_region across Regions. Set the default provider's region to the source Region and put the destination's Region in destination_region."
    }
    precondition {
      condition     = data.aws_caller_identity.this.account_id == var.destination_account_id && data.aws_caller_identity.source.account_id == var.source_account_id
      error_message = "The providers' accounts do not match the variables: the default provider is in ${data.aws_caller_identity.this.account_id} (destination_account_id is ${var.destination_account_id}) and provider aws.ecr is in ${data.aws_caller_identity.source.account_id} (source_account_id is ${var.source_account_id})."
    }
    precondition {
      condition     = var.package_hash != null
      error_message = "The function package ${var.package_file} is missing: run `make lambda` at the repository root first."
    }
    precondition {
      condition     = local.vpc_enabled == (length(var.vpc_security_group_ids) > 0)
      error_message = "Give vpc_subnet_ids and vpc_security_group_ids together, or neither."
    }
  }

  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc, aws_iam_role_policy.source_reader, aws_ssm_parameter.config]
}

# Asynchronous invocations (EventBridge's): Lambda retries, then hands the event to the failure
# queue, from where `ecrsync handle` replays it (README).
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failure.arn
    }
  }
}

# Only the source account's invoke role, which only this rule's EventBridge can assume, may invoke.
resource "aws_lambda_permission" "events" {
  statement_id  = "EcrsyncCrossAccountRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = aws_iam_role.invoke.arn
}
