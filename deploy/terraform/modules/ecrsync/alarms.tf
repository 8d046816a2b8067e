# Alarms (optional): the function failing, and events waiting in a queue for someone to replay them.

resource "aws_cloudwatch_metric_alarm" "errors" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-errors"
  alarm_description   = "ecrsync ${var.name} returned errors: see its log group ${local.log_group_name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failure" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-failures"
  alarm_description   = "Events the function failed on wait in ${aws_sqs_queue.failure.name}: fix the cause, then replay them with `ecrsync handle`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failure.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  provider = aws.ecr
  count    = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-dead-letter"
  alarm_description   = "EventBridge could not deliver events to ecrsync in ${var.destination_account_id}; they wait in ${aws_sqs_queue.dead_letter.name} for `ecrsync handle`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.source_alarm_actions
  ok_actions          = var.source_alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "reconcile_dead_letter" {
  count = var.create_alarms && var.reconcile_enabled ? 1 : 0

  alarm_name          = "${var.name}-reconcile-dead-letter"
  alarm_description   = "Reconcile messages failed three times and wait in ${aws_sqs_queue.reconcile_dead_letter[0].name}; the next scheduled run retries those repositories."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.reconcile_dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
