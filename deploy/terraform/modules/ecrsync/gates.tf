# Promotion gates (issue 16): the image reaches the destination only if it is signed by one of
# signature_keys and/or its scan has no finding above max_severity; deletes of source tags follow
# with propagate_deletes. Every grant and resource here exists only when an input asks for it.

locals {
  gate_signature = length(var.signature_keys) > 0
  gate_scan      = var.max_severity != null
  gate_kms_keys  = [for k in var.signature_keys : replace(k, "awskms:///", "") if can(regex("^awskms:///", k))]

  # The rule's require and propagate_deletes, merged into the config's one rule (locals.tf).
  gate_config = merge(
    local.gate_signature || local.gate_scan ? {
      require = merge(
        local.gate_signature ? { signature = { keys = var.signature_keys } } : {},
        local.gate_scan ? { scan = { max_severity = var.max_severity, wait = var.scan_wait, required = var.scan_required } } : {},
      )
    } : {},
    var.propagate_deletes ? { propagate_deletes = true } : {},
  )

  # DescribeImageScanFindings on the source repositories, as whoever reads the source (the reader
  # role, or the function with manage_source_repository_policy = true).
  gate_source_actions = local.gate_scan ? ["ecr:DescribeImageScanFindings"] : []

  gate_function_statements = concat(
    length(local.gate_kms_keys) > 0 ? [{
      Sid      = "KmsVerifySignatures"
      Effect   = "Allow"
      Action   = ["kms:GetPublicKey"]
      Resource = local.gate_kms_keys
    }] : [],
    var.propagate_deletes ? [{
      Sid      = "EcrDeleteDestinationTags"
      Effect   = "Allow"
      Action   = concat(["ecr:BatchDeleteImage"], var.reconcile_enabled ? ["ecr:ListImages"] : [])
      Resource = local.destination_repository_arns
    }] : [],
  )

  # ECR's basic scan event and Inspector's enhanced one: no action-type, image-tags[] (often
  # empty: ECR scans each platform's untagged manifest), so a rule of their own.
  scan_event_pattern = {
    source        = ["aws.ecr", "aws.inspector2"]
    "detail-type" = ["ECR Image Scan", "Inspector2 Scan"]
    detail = {
      "scan-status" = ["COMPLETE", "INITIAL_SCAN_COMPLETE"]
    }
  }
}

resource "aws_cloudwatch_event_rule" "scan" {
  provider = aws.ecr
  count    = local.gate_scan ? 1 : 0

  name          = "${var.name}-scan"
  description   = "ecrsync: completed image scans release promotions held by the scan gate"
  event_pattern = jsonencode(local.scan_event_pattern)
  state         = "ENABLED"
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "scan" {
  provider = aws.ecr
  count    = local.gate_scan ? 1 : 0

  rule      = aws_cloudwatch_event_rule.scan[0].name
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

  depends_on = [aws_lambda_permission.events, aws_iam_role_policy.invoke, aws_sqs_queue_policy.dead_letter]
}

resource "aws_cloudwatch_metric_alarm" "blocked" {
  count = var.blocked_alarm ? 1 : 0

  alarm_name          = "${var.name}-blocked"
  alarm_description   = "ecrsync blocked a promotion (unsigned, untrusted signature, findings above max_severity, or no completed scan): see the function's log lines with outcome blocked."
  namespace           = "ecrsync"
  metric_name         = "Syncs"
  dimensions          = { Outcome = "blocked" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
