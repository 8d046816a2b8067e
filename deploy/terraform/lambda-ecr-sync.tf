# ecrsync: ECR pushes in the source account -> EventBridge (cross-account) -> the function in the
# destination account -> the same images in the destination account's ECR, in destination_region.
# One more destination (account or Region) is one more module block: see examples/multi-destination.
module "ecrsync" {
  source = "./modules/ecrsync"

  providers = {
    aws     = aws
    aws.ecr = aws.ecr
  }

  name                   = var.lambda_name
  source_account_id      = var.source_account_id
  destination_account_id = var.destination_account_id
  destination_region     = var.destination_region
  repositories           = local.repositories
  image_tags             = local.image_tags
  destination_repository = var.destination_repository

  package_source            = var.package_source
  package_file              = local.package_file
  package_hash              = local.package_hash
  package_s3_bucket         = var.package_s3_bucket
  package_s3_key            = var.package_s3_key
  package_s3_object_version = var.package_s3_object_version

  memory_size           = var.memory_size
  timeout               = var.timeout
  ephemeral_storage     = var.ephemeral_storage
  log_level             = var.log_level
  log_retention_in_days = var.log_retention_in_days

  manage_source_repository_policy = var.manage_source_repository_policy

  create_repositories                               = var.create_repositories
  repository_image_tag_mutability                   = var.repository_image_tag_mutability
  repository_image_tag_mutability_exclusion_filters = var.repository_image_tag_mutability_exclusion_filters
  repository_scan_on_push                           = var.repository_scan_on_push
  repository_kms_key                                = var.repository_kms_key
  repository_lifecycle_policy                       = var.repository_lifecycle_policy
  repository_tags                                   = var.repository_tags
  repository_creation_template_prefix               = var.repository_creation_template_prefix
  config_parameter                                  = var.config_parameter

  reserved_concurrency = var.reserved_concurrency

  reconcile_enabled  = var.reconcile_enabled
  reconcile_schedule = var.reconcile_schedule

  vpc_subnet_ids         = var.vpc_subnet_ids
  vpc_security_group_ids = var.vpc_security_group_ids

  create_alarms          = var.create_alarms
  alarm_topic_arn        = var.alarm_topic_arn
  source_alarm_topic_arn = var.source_alarm_topic_arn
  alarm_email_addresses  = var.alarm_email_addresses
  alarm_actions          = var.alarm_actions
  source_alarm_actions   = var.source_alarm_actions
  create_dashboard       = var.create_dashboard

  tags = var.tags
}
