# terraform plan -var-file=example.tfvars  (copy to terraform.tfvars and edit)
source_account_id      = "111111111111"
source_region          = "us-east-1"
destination_account_id = "222222222222"
destination_region     = "eu-west-1" # across Regions: the function runs in us-east-1 and writes here

# The seed's shortcut: one repository, one tag ...
repo_name = "my-repository-name"
appenv    = "dev"
# ... and the lists, for more.
repositories = ["team/*"]
image_tags   = ["v*"]

destination_repository = "mirror/{repository}"
lambda_name            = "ecrsync"

memory_size           = 2048
timeout               = 900
log_retention_in_days = 30
reconcile_schedule    = "rate(1 hour)"

tags = {
  app   = "ecrsync"
  owner = "platform"
}

# Who the alarms e-mail (each address must confirm the subscription message from SNS):
# alarm_email_addresses = ["oncall@example.com"]

# Plain CLI instead of HCP Terraform:
# destination_profile = "destination-admin"
# source_profile      = "source-admin"
