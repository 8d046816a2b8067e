# Deploy a released version from HCP Terraform with nothing but this configuration in a Git
# repository (a VCS-driven workspace: no Go, no make). The module comes from the release archive,
# which holds the function package; `terraform init` (which HCP Terraform runs in the plan and in
# the apply) downloads it and refuses it unless its SHA-256 is the one pinned here. Take the line
# from the release's notes or `make release` output, or: sha256sum ecrsync-terraform-module-vX.Y.Z.tar.gz
#
# Credentials: HCP Terraform dynamic provider credentials, TFC_AWS_PROVIDER_AUTH/TFC_AWS_RUN_ROLE_ARN
# (destination account) and TFC_AWS_PROVIDER_AUTH_ECR/TFC_AWS_RUN_ROLE_ARN_ECR (source account).

provider "aws" {
  # Destination account, in the SOURCE Region: where the function runs.
  region              = var.source_region
  shared_config_files = var.tfc_aws_dynamic_credentials == null ? null : [var.tfc_aws_dynamic_credentials.default.shared_config_file]
  allowed_account_ids = [var.destination_account_id]
}

provider "aws" {
  alias               = "ecr"
  region              = var.source_region
  shared_config_files = var.tfc_aws_dynamic_credentials == null ? null : [var.tfc_aws_dynamic_credentials.aliases["ECR"].shared_config_file]
  allowed_account_ids = [var.source_account_id]
}

module "ecrsync" {
  # The release archive, pinned by its SHA-256 (go-getter's checksum parameter).
  source = "https://github.com/ecrsync/ecrsync/releases/download/v0.1.0/ecrsync-terraform-module-v0.1.0.tar.gz?checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000"

  providers = {
    aws     = aws
    aws.ecr = aws.ecr
  }

  package_source = "release"

  name                   = "ecrsync"
  source_account_id      = var.source_account_id
  destination_account_id = var.destination_account_id
  destination_region     = var.destination_region
  repositories           = var.repositories
  image_tags             = var.image_tags

  # A source reader role the function assumes; no source repository policy is touched. (Unset, every
  # plan warns: the default was true before. An upgrade that must keep those policies sets true.)
  manage_source_repository_policy = false

  alarm_email_addresses = var.alarm_email_addresses
}
