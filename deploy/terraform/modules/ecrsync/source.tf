# The source account's side (provider aws.ecr): the rule that catches pushes, its target, the role
# EventBridge uses to invoke the function across accounts, and the rule's dead-letter queue.

resource "aws_cloudwatch_event_rule" "this" {
  provider = aws.ecr

  name          = var.name
  description   = "ecrsync: successful ECR pushes of ${join(", ", var.repositories)} to ${var.destination_account_id}/${local.destination_region}"
  event_pattern = jsonencode(local.event_pattern)
  state         = "ENABLED"
  tags          = var.tags
}

resource "aws_iam_role" "invoke" {
  provider = aws.ecr

  name               = local.invoke_role_name
  description        = "EventBridge rule ${var.name} invokes ecrsync in ${var.destination_account_id}"
  assume_role_policy = jsonencode(local.invoke_assume_role_policy)
  tags               = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_iam_role_policy" "invoke" {
  provider = aws.ecr

  name   = local.invoke_role_name
  role   = aws_iam_role.invoke.id
  policy = jsonencode(local.invoke_policy)

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sqs_queue" "dead_letter" {
  provider = aws.ecr

  name                      = "${var.name}-dead-letter"
  message_retention_seconds = var.queue_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue_policy" "dead_letter" {
  provider = aws.ecr

  queue_url = aws_sqs_queue.dead_letter.url
  policy    = jsonencode(local.dead_letter_policy)
}

resource "aws_cloudwatch_event_target" "this" {
  provider = aws.ecr

  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "ecrsync"
  arn       = aws_lambda_function.this.arn
  role_arn  = aws_iam_role.invoke.arn

  retry_policy {
    maximum_retry_attempts       = var.target_maximum_retry_attempts
    maximum_event_age_in_seconds = var.target_maximum_event_age_in_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }

  lifecycle {
    precondition {
      condition     = local.function_region == local.source_region
      error_message = "EventBridge delivers to a Lambda function in another account only within one Region: the function (default provider, ${local.function_region}) must be in the source Region (${local.source_region})."
    }
  }

  depends_on = [aws_lambda_permission.events, aws_iam_role_policy.invoke, aws_sqs_queue_policy.dead_letter]
}

# Replaces any existing policy on each of these repositories (see manage_source_repository_policy).
resource "aws_ecr_repository_policy" "source" {
  provider = aws.ecr
  for_each = local.source_policy_access ? toset(local.literal_repositories) : toset([])

  repository = each.key
  policy     = jsonencode(local.source_repository_policy)
}
