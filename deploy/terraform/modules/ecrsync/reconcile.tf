# The reconcile (optional): a schedule in the destination account invokes the function with
# {"ecrsync":"reconcile"}; the function sends one message per source repository to the reconcile
# queue and handles those messages itself, through the event source mapping, so no single run nears
# Lambda's 15-minute limit.

resource "aws_sqs_queue" "reconcile_dead_letter" {
  count = var.reconcile_enabled ? 1 : 0

  name                      = "${var.name}-reconcile-dead-letter"
  message_retention_seconds = var.queue_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

resource "aws_sqs_queue" "reconcile" {
  count = var.reconcile_enabled ? 1 : 0

  name = "${var.name}-reconcile"
  # AWS advises a visibility timeout of six times the function timeout for an SQS event source.
  visibility_timeout_seconds = min(6 * var.timeout, 43200)
  # A message older than one schedule period is superseded by the next run.
  message_retention_seconds = 86400
  sqs_managed_sse_enabled   = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.reconcile_dead_letter[0].arn
    maxReceiveCount     = 3
  })
  tags = var.tags
}

resource "aws_lambda_event_source_mapping" "reconcile" {
  count = var.reconcile_enabled ? 1 : 0

  event_source_arn        = aws_sqs_queue.reconcile[0].arn
  function_name           = aws_lambda_function.this.arn
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.reconcile_maximum_concurrency
  }

  # The role must be able to read the queue before the mapping is created.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_cloudwatch_event_rule" "reconcile" {
  count = var.reconcile_enabled ? 1 : 0

  name                = "${var.name}-reconcile"
  description         = "ecrsync: reconcile ${var.source_account_id} into ${var.destination_account_id}/${local.destination_region}"
  schedule_expression = var.reconcile_schedule
  state               = "ENABLED"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "reconcile" {
  count = var.reconcile_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.reconcile[0].name
  target_id = "ecrsync-reconcile"
  arn       = aws_lambda_function.this.arn
  input     = jsonencode({ ecrsync = "reconcile" })
}

resource "aws_lambda_permission" "reconcile" {
  count = var.reconcile_enabled ? 1 : 0

  statement_id   = "EcrsyncReconcileSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "events.amazonaws.com"
  source_arn     = local.reconcile_rule_arn
  source_account = var.destination_account_id
}
