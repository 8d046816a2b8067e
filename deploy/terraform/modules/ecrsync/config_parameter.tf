# How the config reaches the function. Lambda's environment holds 4 KB in all, and lifecycle
# policies are long: a document above config_parameter_threshold bytes goes to an SSM parameter
# that the function reads at start (GetParameter), named by ECRSYNC_CONFIG_PARAMETER; a smaller one
# stays in ECRSYNC_CONFIG, which costs no call.
#
# The parameter is a String, not a SecureString: the document holds no secret (account IDs, role
# ARNs, globs, lifecycle policies), a String needs no KMS key or kms:Decrypt grant, and it reads
# as it is in the console. Its tier follows its size: Standard holds 4 KB, Advanced 8 KB.

locals {
  config_json      = jsonencode(local.config)
  config_parameter = var.config_parameter == null ? length(local.config_json) > var.config_parameter_threshold : var.config_parameter

  config_parameter_name = "/${var.name}/config"
  config_parameter_arn  = "arn:${local.partition}:ssm:${local.function_region}:${var.destination_account_id}:parameter${local.config_parameter_name}"

  config_environment = local.config_parameter ? { ECRSYNC_CONFIG_PARAMETER = local.config_parameter_name } : { ECRSYNC_CONFIG = local.config_json }

  config_parameter_statements = local.config_parameter ? [{
    Sid      = "ConfigParameter"
    Effect   = "Allow"
    Action   = ["ssm:GetParameter"]
    Resource = [local.config_parameter_arn]
  }] : []
}

resource "aws_ssm_parameter" "config" {
  count = local.config_parameter ? 1 : 0

  name  = local.config_parameter_name
  type  = "String"
  tier  = length(local.config_json) > 4096 ? "Advanced" : "Standard"
  value = local.config_json
  tags  = var.tags

  lifecycle {
    precondition {
      condition     = length(local.config_json) <= 8192
      error_message = "The config document is ${length(local.config_json)} bytes, more than an SSM parameter's 8 KB: shorten the lifecycle policy (or set it on the repositories by other means)."
    }
  }
}
