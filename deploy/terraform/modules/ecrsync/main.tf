# The function and what it runs with, in the destination account (default provider), in the source
# Region. See locals.tf for the policies and the config it is given.

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  tags              = var.tags
}

resource "aws_iam_role" "this" {
  name               = local.function_role_name
  description        = "ecrsync ${var.name}: pulls from ${var.source_account_id}, pushes to ${local.destination_region}"
  assume_role_policy = jsonencode(local.function_assume_role_policy)
  tags               = var.tags

  # A new name (as on the upgrade that added the Region to it) replaces the role: the new one first,
  # so the function is never left pointing at a deleted role.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = jsonencode(local.function_policy)

  lifecycle {
    create_before_destroy = true
  }
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
  function_name = var.name
  description   = "ecrsync: copies pushed images from ${var.source_account_id}/${local.source_region} to ${var.destination_account_id}/${local.destination_region}"
  role          = aws_iam_role.this.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = ["arm64"]
  memory_size   = var.memory_size
  timeout       = var.timeout
  tags          = var.tags

  # The package (package.tf): a local file (package_source "file" or "release") or an S3 object.
  filename          = local.package_filename
  s3_bucket         = local.package_s3_bucket
  s3_key            = local.package_s3_key
  s3_object_version = local.package_s3_object_version
  source_code_hash  = local.package_hash

  # null: no reservation (the account's unreserved pool). See variables.tf, reserved_concurrency.
  reserved_concurrent_executions = var.reserved_concurrency

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
      condition     = local.package_ok
      error_message = local.package_error
    }
    precondition {
      # (HCL's || evaluates both sides: coalesce, not a null test, keeps the comparison off null.)
      condition     = coalesce(var.reserved_concurrency, 1000) >= (var.reconcile_enabled ? var.reconcile_maximum_concurrency : 1)
      error_message = "reserved_concurrency (${coalesce(var.reserved_concurrency, 0)}) must be at least reconcile_maximum_concurrency (${var.reconcile_maximum_concurrency}): the reconcile's event source mapping would otherwise be throttled below the concurrency it is allowed. Raise reserved_concurrency, lower reconcile_maximum_concurrency, or leave reserved_concurrency null."
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

# The source ACCOUNT may invoke; within it only the invoke role holds lambda:InvokeFunction on this
# function (source.tf), and only this rule's EventBridge can assume that role (aws:SourceArn).
# Not the role's ARN as principal: Lambda resolves a role principal when the permission is added, and
# a role created seconds earlier in the same apply is often not visible yet (InvalidParameterValueException,
# "The provided principal was invalid"; terraform-provider-aws #41617), so the first apply would flake.
# An account principal always exists. README: "First apply".
resource "aws_lambda_permission" "events" {
  statement_id  = "EcrsyncCrossAccountRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = var.source_account_id
}
