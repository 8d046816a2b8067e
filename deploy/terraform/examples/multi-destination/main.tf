# One source, two destinations: each destination account or Region is one more module block with
# its own default provider. Every function runs in the source Region (EventBridge's cross-account
# delivery is same-Region only) and writes to its own destination_region.
#
# A source repository has one repository policy. The first block manages it and lists the second
# block's role in it; the second block leaves it alone.

provider "aws" {
  alias               = "ecr"
  region              = var.source_region
  allowed_account_ids = [var.source_account_id]
}

provider "aws" {
  alias               = "prod"
  region              = var.source_region
  allowed_account_ids = [var.prod_account_id]
}

provider "aws" {
  alias               = "dr"
  region              = var.source_region
  allowed_account_ids = [var.dr_account_id]
}

locals {
  repositories = ["app", "worker"]
  package_hash = fileexists(var.package_file) ? filebase64sha256(var.package_file) : null
}

module "prod" {
  source = "../../modules/ecrsync"

  providers = {
    aws     = aws.prod
    aws.ecr = aws.ecr
  }

  name                   = "ecrsync-prod"
  source_account_id      = var.source_account_id
  destination_account_id = var.prod_account_id
  destination_region     = "eu-west-1"
  repositories           = local.repositories
  image_tags             = ["v*"]

  # Each module block has its own source reader role; no source repository policy is touched.
  manage_source_repository_policy = false

  package_file = var.package_file
  package_hash = local.package_hash
}

module "dr" {
  source = "../../modules/ecrsync"

  providers = {
    aws     = aws.dr
    aws.ecr = aws.ecr
  }

  name                   = "ecrsync-dr"
  source_account_id      = var.source_account_id
  destination_account_id = var.dr_account_id
  destination_region     = "us-west-2"
  repositories           = local.repositories
  image_tags             = ["*"]
  destination_repository = "dr/{repository}"

  manage_source_repository_policy = false
  reconcile_schedule              = "rate(6 hours)"

  package_file = var.package_file
  package_hash = local.package_hash
}
