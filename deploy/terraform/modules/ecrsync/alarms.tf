# Alarms (create_alarms, on by default) and where they go. Every alarm has an action: an SNS topic
# given (alarm_topic_arn / source_alarm_topic_arn) or created here, in each account, with optional
# e-mail subscriptions. They alarm on what loses events silently: Lambda dropping or failing to
# hand on asynchronous events, EventBridge failing to deliver (and failing to dead-letter), the
# function's errors, and events waiting in any dead-letter or failure queue.

locals {
  alarm_topic_created        = var.create_alarms && var.alarm_topic_arn == null
  source_alarm_topic_created = var.create_alarms && var.source_alarm_topic_arn == null

  alarm_actions = distinct(concat(
    var.alarm_topic_arn != null ? [var.alarm_topic_arn] : aws_sns_topic.alarms[*].arn,
    var.alarm_actions,
  ))
  source_alarm_actions = distinct(concat(
    var.source_alarm_topic_arn != null ? [var.source_alarm_topic_arn] : aws_sns_topic.source_alarms[*].arn,
    var.source_alarm_actions,
  ))

  queue_age = {
    namespace   = "AWS/SQS"
    metric_name = "ApproximateAgeOfOldestMessage"
    statistic   = "Maximum"
    threshold   = var.queue_age_alarm_threshold_seconds
  }

  # Destination account, function Region. Names of the first four are those of earlier versions.
  function_alarms = !var.create_alarms ? {} : merge(
    {
      errors = {
        name        = "${var.name}-errors", namespace = "AWS/Lambda", metric_name = "Errors", statistic = "Sum", threshold = 0
        dimensions  = { FunctionName = var.name }
        description = "ecrsync ${var.name} returned errors: see its log group ${local.log_group_name}."
      }
      async_events_dropped = {
        name        = "${var.name}-async-events-dropped", namespace = "AWS/Lambda", metric_name = "AsyncEventsDropped", statistic = "Sum", threshold = 0
        dimensions  = { FunctionName = var.name }
        description = "Lambda dropped events for ${var.name} without handing them to the failure queue (too old, or retries exhausted with no destination): they are lost. Check the failure queue's access and the event age settings; the next reconcile copies what they missed."
      }
      destination_delivery_failures = {
        name        = "${var.name}-destination-delivery-failures", namespace = "AWS/Lambda", metric_name = "DestinationDeliveryFailures", statistic = "Sum", threshold = 0
        dimensions  = { FunctionName = var.name }
        description = "Lambda could not put failed events of ${var.name} on its failure queue ${var.name}-failures: they are lost. Check the queue and the function role's sqs:SendMessage."
      }
      failure = merge(local.queue_age, {
        name        = "${var.name}-failures"
        dimensions  = { QueueName = "${var.name}-failures" }
        description = "Events the function failed on have waited over ${var.queue_age_alarm_threshold_seconds} s in ${var.name}-failures: fix the cause, then replay them with `ecrsync handle` (README) before the queue's retention drops them."
      })
    },
    var.reconcile_enabled ? {
      reconcile_dead_letter = merge(local.queue_age, {
        name        = "${var.name}-reconcile-dead-letter"
        dimensions  = { QueueName = "${var.name}-reconcile-dead-letter" }
        description = "Reconcile messages failed three times and wait in ${var.name}-reconcile-dead-letter; the next scheduled run retries those repositories. See the function's log for the cause."
      })
    } : {},
  )

  # Source account, source Region: the rule's delivery.
  source_alarms = !var.create_alarms ? {} : {
    dead_letter = merge(local.queue_age, {
      name        = "${var.name}-dead-letter"
      dimensions  = { QueueName = "${var.name}-dead-letter" }
      description = "EventBridge could not deliver events to ecrsync in ${var.destination_account_id}; they have waited over ${var.queue_age_alarm_threshold_seconds} s in ${var.name}-dead-letter for `ecrsync handle` (README)."
    })
    failed_invocations = {
      name        = "${var.name}-failed-invocations", namespace = "AWS/Events", metric_name = "FailedInvocations", statistic = "Sum", threshold = 0
      dimensions  = { RuleName = var.name }
      description = "EventBridge rule ${var.name} failed to invoke ecrsync in ${var.destination_account_id} (permission, function missing, throttled past the retry policy). The events went to ${var.name}-dead-letter."
    }
    dead_letter_send_failures = {
      name        = "${var.name}-dlq-send-failures", namespace = "AWS/Events", metric_name = "InvocationsFailedToBeSentToDLQ", statistic = "Sum", threshold = 0
      dimensions  = { RuleName = var.name }
      description = "EventBridge rule ${var.name} could not put undeliverable events on ${var.name}-dead-letter: they are lost. Check the queue's policy. The next reconcile copies what they missed."
    }
  }
}

resource "aws_sns_topic" "alarms" {
  count = local.alarm_topic_created ? 1 : 0

  name = "${var.name}-alarms"
  tags = var.tags
}

# E-mail subscriptions reach no one until each address confirms the message SNS sends it.
resource "aws_sns_topic_subscription" "alarms" {
  for_each = local.alarm_topic_created ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_sns_topic" "source_alarms" {
  provider = aws.ecr
  count    = local.source_alarm_topic_created ? 1 : 0

  name = "${var.name}-alarms"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "source_alarms" {
  provider = aws.ecr
  for_each = local.source_alarm_topic_created ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.source_alarms[0].arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "source" {
  provider = aws.ecr
  for_each = local.source_alarms

  alarm_name          = each.value.name
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.source_alarm_actions
  ok_actions          = local.source_alarm_actions
  tags                = var.tags
}

# Earlier versions had one resource per alarm; the alarms keep their names and are updated in place.
moved {
  from = aws_cloudwatch_metric_alarm.errors[0]
  to   = aws_cloudwatch_metric_alarm.function["errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.failure[0]
  to   = aws_cloudwatch_metric_alarm.function["failure"]
}

moved {
  from = aws_cloudwatch_metric_alarm.reconcile_dead_letter[0]
  to   = aws_cloudwatch_metric_alarm.function["reconcile_dead_letter"]
}

moved {
  from = aws_cloudwatch_metric_alarm.dead_letter[0]
  to   = aws_cloudwatch_metric_alarm.source["dead_letter"]
}

# A topic this module created with no subscriber notifies no one: say so at every plan.
check "alarms_reach_someone" {
  assert {
    condition     = !var.create_alarms || var.alarm_topic_arn != null || length(var.alarm_email_addresses) > 0 || length(var.alarm_actions) > 0
    error_message = "The alarms publish to the SNS topic ${var.name}-alarms, which this module created without subscribers: they reach no one. Set alarm_email_addresses (each address must confirm SNS's message), or alarm_topic_arn to a topic someone reads."
  }
  assert {
    condition     = !var.create_alarms || var.source_alarm_topic_arn != null || length(var.alarm_email_addresses) > 0 || length(var.source_alarm_actions) > 0
    error_message = "The source account's alarms (EventBridge delivery, dead-letter queue) publish to the topic ${var.name}-alarms there, created without subscribers: they reach no one. Set alarm_email_addresses or source_alarm_topic_arn."
  }
}
