output "function_name" {
  description = "Name of the ecrsync function (destination account, source Region)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the ecrsync function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role: the principal the source repositories must let pull."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "event_rule_arn" {
  description = "ARN of the EventBridge rule in the source account that sends pushes to the function."
  value       = aws_cloudwatch_event_rule.this.arn
}

output "invoke_role_arn" {
  description = "ARN of the role in the source account that EventBridge assumes to invoke the function."
  value       = aws_iam_role.invoke.arn
}

output "dead_letter_queue_url" {
  description = "URL of the SQS queue (source account) holding events EventBridge could not deliver."
  value       = aws_sqs_queue.dead_letter.url
}

output "failure_queue_url" {
  description = "URL of the SQS queue (destination account) holding events the function failed on after its retries."
  value       = aws_sqs_queue.failure.url
}

output "reconcile_queue_url" {
  description = "URL of the reconcile queue, or null when reconcile_enabled is false."
  value       = var.reconcile_enabled ? aws_sqs_queue.reconcile[0].url : null
}

output "config" {
  description = "The config document given to the function (ECRSYNC_CONFIG, or the SSM parameter config_parameter_name); save it to a file for `ecrsync handle --config`."
  value       = local.config_json
}

output "event_pattern" {
  description = "The EventBridge event pattern of the rule."
  value       = jsonencode(local.event_pattern)
}

output "source_access" {
  description = "What this module does for access to the source account: the reader role the function assumes, or the repository policies it sets (and, while manage_source_repository_policy is unset, what happens to policies an earlier version set)."
  value       = local.source_access_summary
}

output "source_reader_role_arn" {
  description = "ARN of the source reader role (source account) that the function assumes for every source call, or null with manage_source_repository_policy = true."
  value       = local.source_policy_access ? null : aws_iam_role.source_reader[0].arn
}

output "config_parameter_name" {
  description = "Name of the SSM parameter holding the config document, or null when it is in ECRSYNC_CONFIG."
  value       = local.config_parameter ? aws_ssm_parameter.config[0].name : null
}

output "repository_creation_template" {
  description = "Prefix of the CREATE_ON_PUSH repository creation template in the destination account, or null without create_repositories = \"template\"."
  value       = local.repository_creation_by_template ? aws_ecr_repository_creation_template.this[0].prefix : null
}

output "iam_role_names" {
  description = "Names of the IAM roles this module creates (global to each account: they carry the Region)."
  value = merge(
    { function = aws_iam_role.this.name, invoke = aws_iam_role.invoke.name },
    local.source_policy_access ? {} : { source_reader = aws_iam_role.source_reader[0].name },
  )
}

output "alarm_topic_arn" {
  description = "SNS topic the destination account's alarms notify (given or created), or null without alarms."
  value       = var.create_alarms ? one(slice(local.alarm_actions, 0, 1)) : null
}

output "source_alarm_topic_arn" {
  description = "SNS topic the source account's alarms notify (given or created), or null without alarms."
  value       = var.create_alarms ? one(slice(local.source_alarm_actions, 0, 1)) : null
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is off."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "package" {
  description = "The function package deployed: package_source and the file (with its base64 SHA-256) or S3 object."
  value = {
    source            = var.package_source
    filename          = local.package_filename
    source_code_hash  = local.package_hash
    s3_bucket         = local.package_s3_bucket
    s3_key            = local.package_s3_key
    s3_object_version = local.package_s3_object_version
  }
}
