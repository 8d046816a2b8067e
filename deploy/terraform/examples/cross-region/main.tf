# Cross-Region: images pushed in us-east-1 (source account) appear in eu-west-1 (destination
# account). EventBridge invokes a function in another account only within one Region, so the
# function runs in the destination account but in the SOURCE Region, and writes to eu-west-1.
#
#   source account, us-east-1          destination account, us-east-1        destination account, eu-west-1
#   ECR push -> rule -> target  ---->  ecrsync function  -------------------> ECR (mirror/app:v1.2.3)

provider "aws" {
  # Destination account, source Region: where the function runs.
  region              = var.source_region
  allowed_account_ids = [var.destination_account_id]
}

provider "aws" {
  alias               = "ecr"
  region              = var.source_region
  allowed_account_ids = [var.source_account_id]
}

module "ecrsync" {
  source = "../../modules/ecrsync"

  providers = {
    aws     = aws
    aws.ecr = aws.ecr
  }

  name                   = "ecrsync-eu"
  source_account_id      = var.source_account_id
  destination_account_id = var.destination_account_id
  destination_region     = var.destination_region
  repositories           = ["app", "team/*"]
  image_tags             = ["v*", "prod"]
  destination_repository = "mirror/{repository}"

  # The source is read through a reader role the module creates; no source repository policy.
  manage_source_repository_policy = false

  package_file = var.package_file
  package_hash = fileexists(var.package_file) ? filebase64sha256(var.package_file) : null
}
