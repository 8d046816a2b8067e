# The seed's variables come first (region, appenv, lambda_name, source_account_id, source_region,
# destination_account_id, destination_region, repo_name), then what the product adds. Values passed
# straight to the module are validated there (modules/ecrsync/variables.tf).

variable "tfc_aws_dynamic_credentials" {
  description = "Filled by HCP Terraform when the workspace uses AWS dynamic provider credentials (default = destination account, alias key \"ECR\" = source account). Leave null from a plain CLI."
  type = object({
    default = object({ shared_config_file = string })
    aliases = map(object({ shared_config_file = string }))
  })
  default = null

  validation {
    condition     = var.tfc_aws_dynamic_credentials == null || can(var.tfc_aws_dynamic_credentials.aliases["ECR"].shared_config_file)
    error_message = "HCP Terraform gave no credentials for the alias key \"ECR\": set TFC_AWS_PROVIDER_AUTH_ECR=true and TFC_AWS_RUN_ROLE_ARN_ECR in the workspace (the suffix is case-sensitive)."
  }
}

variable "destination_profile" {
  description = "Plain CLI only: AWS profile of the destination account (default provider). null uses the usual credential chain."
  type        = string
  default     = null
}

variable "source_profile" {
  description = "Plain CLI only: AWS profile of the source account (provider aws.ecr). null uses the usual credential chain."
  type        = string
  default     = null
}

variable "destination_role_arn" {
  description = "Plain CLI only: role to assume in the destination account, for example from a central deployment account."
  type        = string
  default     = null

  validation {
    condition     = var.destination_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.destination_role_arn))
    error_message = "destination_role_arn must be an IAM role ARN."
  }
}

variable "source_role_arn" {
  description = "Plain CLI only: role to assume in the source account."
  type        = string
  default     = null

  validation {
    condition     = var.source_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.source_role_arn))
    error_message = "source_role_arn must be an IAM role ARN."
  }
}

variable "region" {
  description = <<-EOT
    Region of the function, its rule and queues. EventBridge invokes a function in another account
    only within one Region, so this must be the source Region: null (the default) means
    source_region, and any other value fails at plan with an explanation. The images still go to
    destination_region.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be null or a Region name such as us-east-1."
  }
}

variable "appenv" {
  description = "The seed's trigger: one image tag (\"dev\", \"prod\") whose pushes are copied. Added to image_tags; null to use image_tags alone."
  type        = string
  default     = null

  validation {
    condition     = var.appenv == null || can(regex("^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$", var.appenv))
    error_message = "appenv must be an image tag (letters, digits, '_', '.', '-'; at most 128 characters)."
  }
}

variable "lambda_name" {
  description = "Name of the function; also the prefix of the roles, rule, queues and alarms."
  type        = string
  default     = "ecrsync"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", var.lambda_name))
    error_message = "lambda_name must be 1-40 characters of letters, digits, '-' and '_'."
  }
}

variable "source_account_id" {
  description = "AWS account ID that holds the source ECR repositories (provider aws.ecr)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account ID."
  }
}

variable "source_region" {
  description = "Region of the source ECR repositories. The function runs here too (see region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.source_region))
    error_message = "source_region must be a Region name such as us-east-1."
  }
}

variable "destination_account_id" {
  description = "AWS account ID the images are copied into (default provider); the function runs in this account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.destination_account_id))
    error_message = "destination_account_id must be a 12-digit AWS account ID."
  }
}

variable "destination_region" {
  description = "Region of the destination ECR repositories; may differ from source_region (the function writes across Regions). null means source_region."
  type        = string
  default     = null

  validation {
    condition     = var.destination_region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.destination_region))
    error_message = "destination_region must be a Region name such as eu-west-1."
  }
}

variable "repo_name" {
  description = "The seed's repository: one source repository name. Added to repositories; null to use repositories alone."
  type        = string
  default     = null

  validation {
    condition     = var.repo_name == null || can(regex("^[a-z0-9*][a-z0-9._/*-]{0,255}$", var.repo_name))
    error_message = "repo_name must be an ECR repository name (lower-case letters, digits, '.', '_', '-', '/')."
  }
}

variable "repositories" {
  description = "More source repositories to sync: names or globs with '*' (\"team/*\"). With repo_name, at least one is needed."
  type        = list(string)
  default     = []
}

variable "image_tags" {
  description = "More image tags that trigger a copy: tags or globs with '*' (\"v*\"); [\"*\"] for every tagged push. With appenv, at least one is needed."
  type        = list(string)
  default     = []
}

variable "destination_repository" {
  description = "Destination repository name; \"{repository}\" stands for the source repository's name (\"mirror/{repository}\")."
  type        = string
  default     = "{repository}"
}

variable "package_source" {
  description = "Where the function package comes from: \"file\" (package_file, `make lambda`), \"s3\" (package_s3_*) or \"release\" (the module from the release archive: see README)."
  type        = string
  default     = "file"
}

variable "package_file" {
  description = "package_source = \"file\": path of the function package; null means dist/ecrsync-lambda-arm64.zip at the repository root, as `make lambda` builds it."
  type        = string
  default     = null
}

variable "package_hash" {
  description = "package_source = \"s3\": base64 SHA-256 of the object, so a new upload under the same key deploys (optional with package_s3_object_version)."
  type        = string
  default     = null
}

variable "package_s3_bucket" {
  description = "package_source = \"s3\": bucket of the function package, in the source Region (where the function runs)."
  type        = string
  default     = null
}

variable "package_s3_key" {
  description = "package_source = \"s3\": key of the function package."
  type        = string
  default     = null
}

variable "package_s3_object_version" {
  description = "package_source = \"s3\": object version of the package (versioned bucket)."
  type        = string
  default     = null
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for the function (null = none); at least reconcile_maximum_concurrency (10). See the module's variable for PutImage's 10 TPS and Lambda's 100 unreserved."
  type        = number
  default     = null
}

variable "memory_size" {
  description = "Function memory in MB (128-10240); CPU and network scale with it."
  type        = number
  default     = 2048
}

variable "timeout" {
  description = "Function timeout in seconds (30-900)."
  type        = number
  default     = 900
}

variable "ephemeral_storage" {
  description = "Size of the function's /tmp in MB (512-10240); ecrsync keeps verified blobs in up to half of it for retries."
  type        = number
  default     = 512
}

variable "log_level" {
  description = "Application log level of the function: TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"
}

variable "log_retention_in_days" {
  description = "Retention of the function's logs in days (a value CloudWatch Logs accepts; 0 = forever)."
  type        = number
  default     = 30
}

variable "manage_source_repository_policy" {
  description = "Source access: null/false = a source reader role the function assumes (no source policy is touched); true = set the ECR repository policy of each source repository named without a glob, REPLACING any existing policy. The default was true before: set true to keep policies an existing deployment manages."
  type        = bool
  default     = null
}

variable "reconcile_enabled" {
  description = "Run the periodic reconcile that copies what events missed (and images older than this deployment)."
  type        = bool
  default     = true
}

variable "reconcile_schedule" {
  description = "Schedule expression of the reconcile, for example rate(1 hour) or cron(0 3 * * ? *)."
  type        = string
  default     = "rate(1 hour)"
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in (with vpc_security_group_ids); empty = no VPC. See README for the VPC endpoints needed."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function in a VPC."
  type        = list(string)
  default     = []
}

variable "create_alarms" {
  description = "Create CloudWatch alarms on function errors and on the dead-letter and failure queues."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic in the destination account (source Region) for the function's alarms; null creates <lambda_name>-alarms."
  type        = string
  default     = null
}

variable "source_alarm_topic_arn" {
  description = "SNS topic in the source account for the alarms on the rule's delivery; null creates <lambda_name>-alarms there."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the created topics (each must confirm SNS's message before it receives anything)."
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "More ARNs notified by the destination account's alarms, besides the topic."
  type        = list(string)
  default     = []
}

variable "source_alarm_actions" {
  description = "More ARNs notified by the source account's alarms, besides the topic."
  type        = list(string)
  default     = []
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard of the function's metrics."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "create_repositories" {
  description = "How a missing destination repository is created: \"none\", \"ecrsync\" (like the source repository) or \"template\" (CREATE_ON_PUSH creation template). See the module's variables."
  type        = string
  default     = "none"
}

variable "repository_image_tag_mutability" {
  description = "Tag mutability of created repositories; null = like the source."
  type        = string
  default     = null
}

variable "repository_image_tag_mutability_exclusion_filters" {
  description = "Tag wildcards excluded from the tag mutability setting of created repositories (with *_WITH_EXCLUSION)."
  type        = list(string)
  default     = []
}

variable "repository_scan_on_push" {
  description = "Scan on push of created repositories; null = like the source."
  type        = bool
  default     = null
}

variable "repository_kms_key" {
  description = "KMS key ARN (destination account and Region) for created repositories; null = AES256."
  type        = string
  default     = null
}

variable "repository_lifecycle_policy" {
  description = "Lifecycle policy JSON of created repositories; null = like the source, \"\" = none."
  type        = string
  default     = null
}

variable "repository_tags" {
  description = "Tags of created repositories; null = like the source, {} = none."
  type        = map(string)
  default     = null
}

variable "repository_creation_template_prefix" {
  description = "With create_repositories = \"template\": the repository prefix of the creation template."
  type        = string
  default     = null
}

variable "config_parameter" {
  description = "Put the config in an SSM parameter instead of ECRSYNC_CONFIG; null = when it is too long for Lambda's 4 KB environment."
  type        = bool
  default     = null
}
