# Two AWS accounts, one configuration:
#   provider "aws"     = the DESTINATION account, in the SOURCE Region: the function runs here
#   provider "aws.ecr" = the SOURCE account, in the source Region: the ECR repositories and the rule
#
# In HCP Terraform (Terraform Cloud) with dynamic provider credentials, the workspace fills
# var.tfc_aws_dynamic_credentials (TFC_AWS_PROVIDER_AUTH / TFC_AWS_RUN_ROLE_ARN for the default
# provider, TFC_AWS_PROVIDER_AUTH_ECR / TFC_AWS_RUN_ROLE_ARN_ECR for the "ECR" alias key). From a
# plain CLI the variable stays null and the providers use profiles, assumed roles or the usual
# environment credentials. allowed_account_ids stops a run that reached the wrong account.

provider "aws" {
  region              = local.function_region
  shared_config_files = var.tfc_aws_dynamic_credentials == null ? null : [var.tfc_aws_dynamic_credentials.default.shared_config_file]
  profile             = var.destination_profile
  allowed_account_ids = [var.destination_account_id]

  dynamic "assume_role" {
    for_each = var.destination_role_arn == null ? [] : [var.destination_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "ecrsync-terraform"
    }
  }
}

provider "aws" {
  alias               = "ecr"
  region              = var.source_region
  shared_config_files = var.tfc_aws_dynamic_credentials == null ? null : [var.tfc_aws_dynamic_credentials.aliases["ECR"].shared_config_file]
  profile             = var.source_profile
  allowed_account_ids = [var.source_account_id]

  dynamic "assume_role" {
    for_each = var.source_role_arn == null ? [] : [var.source_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "ecrsync-terraform"
    }
  }
}
