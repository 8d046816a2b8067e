output "function_name" {
  description = "Name of the ecrsync function (destination account, source Region)."
  value       = module.ecrsync.function_name
}

output "function_arn" {
  description = "ARN of the ecrsync function."
  value       = module.ecrsync.function_arn
}

output "role_arn" {
  description = "ARN of the function's execution role (the principal of the source repository policies)."
  value       = module.ecrsync.role_arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the function."
  value       = module.ecrsync.log_group_name
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule in the source account."
  value       = module.ecrsync.event_rule_arn
}

output "dead_letter_queue_url" {
  description = "SQS queue (source account) of events EventBridge could not deliver; replay them with `ecrsync handle`."
  value       = module.ecrsync.dead_letter_queue_url
}

output "failure_queue_url" {
  description = "SQS queue (destination account) of events the function failed on; replay them with `ecrsync handle`."
  value       = module.ecrsync.failure_queue_url
}

output "reconcile_queue_url" {
  description = "SQS queue of the reconcile fan-out, or null when the reconcile is off."
  value       = module.ecrsync.reconcile_queue_url
}

output "config" {
  description = "The ECRSYNC_CONFIG document the function runs with (for `ecrsync handle --config`)."
  value       = module.ecrsync.config
}

output "source_access" {
  description = "How the function reaches the source account (reader role, or repository policies set by this module), and what this plan does to policies an earlier version set."
  value       = module.ecrsync.source_access
}

output "source_reader_role_arn" {
  description = "Source reader role (source account) the function assumes, or null with manage_source_repository_policy = true."
  value       = module.ecrsync.source_reader_role_arn
}

output "config_parameter_name" {
  description = "SSM parameter holding the config document, or null when it is in ECRSYNC_CONFIG."
  value       = module.ecrsync.config_parameter_name
}

output "alarm_topic_arn" {
  description = "SNS topic of the destination account's alarms (subscribe to it, or confirm the e-mail subscriptions)."
  value       = module.ecrsync.alarm_topic_arn
}

output "source_alarm_topic_arn" {
  description = "SNS topic of the source account's alarms."
  value       = module.ecrsync.source_alarm_topic_arn
}
