# Alarm checks of the module (terraform >= 1.7: mock_provider), as plan.tftest.hcl, but in a file
# of their own: the first run applies (mocks only) so the created topics' ARNs are known, and its
# state stays out of the plan-only runs. tools/tfcheck/modulecheck/tftest_test.go breaks each
# guarded property in a copy of the module and checks that these runs then fail.

mock_provider "aws" {
  source = "./tests/mocks/destination"
}

mock_provider "aws" {
  alias  = "ecr"
  source = "./tests/mocks/source"
}

variables {
  name                   = "ecrsync"
  source_account_id      = "111111111111"
  destination_account_id = "222222222222"
  destination_region     = "eu-west-1"
  repositories           = ["app", "team/*"]
  image_tags             = ["v*", "prod"]
  destination_repository = "mirror/{repository}"
  package_source         = "file"
  package_file           = "dist/ecrsync-lambda-arm64.zip"
  package_hash           = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  alarm_email_addresses  = ["oncall@example.com"]
  # Set, as a deployment that read the upgrade note would: unset, the module's check
  # source_repository_policy fails every run (run "source_repository_policy_unset_warns").
  manage_source_repository_policy = false
}

run "alarms_have_actions" {
  # apply (of mocks: nothing leaves this machine) so the created topics' ARNs are known.
  command = apply

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.function)) == toset(["errors", "async_events_dropped", "destination_delivery_failures", "failure", "reconcile_dead_letter"]) && toset(keys(aws_cloudwatch_metric_alarm.source)) == toset(["dead_letter", "failed_invocations", "dead_letter_send_failures"])
    error_message = "Alarms missing: want Lambda Errors, AsyncEventsDropped, DestinationDeliveryFailures, EventBridge FailedInvocations and InvocationsFailedToBeSentToDLQ, and the age of every dead-letter and failure queue."
  }
  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.function), values(aws_cloudwatch_metric_alarm.source)) : length(a.alarm_actions) > 0 && length(a.ok_actions) > 0])
    error_message = "Every alarm must notify someone: alarm_actions and ok_actions may not be empty."
  }
  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.function) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:222222222222:ecrsync-alarms"])]) && alltrue([for a in values(aws_cloudwatch_metric_alarm.source) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:111111111111:ecrsync-alarms"])])
    error_message = "Each account's alarms must notify the topic created in that account (a source-account alarm cannot reach a destination-account topic)."
  }
  assert {
    condition = jsonencode(merge(
      { for k, a in aws_cloudwatch_metric_alarm.function : k => [a.namespace, a.metric_name] },
      { for k, a in aws_cloudwatch_metric_alarm.source : "source.${k}" => [a.namespace, a.metric_name] },
      )) == jsonencode({
      errors                             = ["AWS/Lambda", "Errors"]
      async_events_dropped               = ["AWS/Lambda", "AsyncEventsDropped"]
      destination_delivery_failures      = ["AWS/Lambda", "DestinationDeliveryFailures"]
      failure                            = ["AWS/SQS", "ApproximateAgeOfOldestMessage"]
      reconcile_dead_letter              = ["AWS/SQS", "ApproximateAgeOfOldestMessage"]
      "source.dead_letter"               = ["AWS/SQS", "ApproximateAgeOfOldestMessage"]
      "source.failed_invocations"        = ["AWS/Events", "FailedInvocations"]
      "source.dead_letter_send_failures" = ["AWS/Events", "InvocationsFailedToBeSentToDLQ"]
    })
    error_message = "Each alarm must watch its metric: Lambda Errors, AsyncEventsDropped, DestinationDeliveryFailures; the age of the oldest message of every dead-letter and failure queue; EventBridge FailedInvocations and InvocationsFailedToBeSentToDLQ."
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && length(aws_sns_topic.source_alarms) == 1 && aws_sns_topic_subscription.alarms["oncall@example.com"].protocol == "email" && aws_sns_topic_subscription.source_alarms["oncall@example.com"].endpoint == "oncall@example.com"
    error_message = "Without given topics, one topic per account is created, with the e-mail subscriptions."
  }
}

run "alarms_to_given_topics" {
  command = plan

  variables {
    alarm_topic_arn        = "arn:aws:sns:us-east-1:222222222222:oncall"
    source_alarm_topic_arn = "arn:aws:sns:us-east-1:111111111111:oncall"
  }

  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.function) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:222222222222:oncall"])]) && alltrue([for a in values(aws_cloudwatch_metric_alarm.source) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:111111111111:oncall"])])
    error_message = "Each account's alarms must notify the topic given for that account."
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_sns_topic.source_alarms) == 0
    error_message = "No topic is created when one is given."
  }
}

