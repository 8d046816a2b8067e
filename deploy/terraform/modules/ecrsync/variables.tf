variable "name" {
  description = "Name of the function; also the prefix of every other resource this module creates (roles, rule, queues, alarms)."
  type        = string
  default     = "ecrsync"

  validation {
    # Leaves room for the longest suffix ("-reconcile-dead-letter") within SQS's 80 characters
    # and IAM's 64-character role names ("-invoke").
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$", var.name))
    error_message = "name must be 1-40 characters of letters, digits, '-' and '_', starting with a letter or digit."
  }
}

variable "source_account_id" {
  description = "AWS account ID that holds the source ECR repositories (the account of provider aws.ecr)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.source_account_id))
    error_message = "source_account_id must be a 12-digit AWS account ID."
  }
}

variable "destination_account_id" {
  description = "AWS account ID the images are copied into (the account of the default provider, where the function runs)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.destination_account_id))
    error_message = "destination_account_id must be a 12-digit AWS account ID."
  }
}

variable "destination_region" {
  description = <<-EOT
    Region of the destination ECR registry. null means the function's own Region, which is always the
    source Region: EventBridge delivers to a function in another account only within one Region, so
    the function runs in the source Region and writes across Regions to this one.
  EOT
  type        = string
  default     = null

  validation {
    condition     = var.destination_region == null || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.destination_region))
    error_message = "destination_region must be a Region name such as eu-west-1 or us-gov-west-1."
  }
}

variable "repositories" {
  description = "Source repositories to sync: names, or globs where '*' matches any characters (\"team/*\"). Globs get no repository policy from this module."
  type        = list(string)

  validation {
    condition     = length(var.repositories) > 0
    error_message = "repositories must name at least one repository (use [\"*\"] for all)."
  }
  validation {
    condition = alltrue([for r in var.repositories : can(regex("^[a-z0-9*][a-z0-9._/*-]{0,255}$", r)) && !strcontains(r, "**")])
    # EventBridge wildcard patterns know only '*'; ECR names are lower case.
    error_message = "Each repository must be an ECR repository name (lower-case letters, digits, '.', '_', '-', '/'), optionally with single '*' wildcards; no '**', '?' or '[...]'."
  }
}

variable "image_tags" {
  description = "Image tags that trigger a copy: tags, or globs where '*' matches any characters (\"v*\"). [\"*\"] means every tagged push. Untagged child-manifest pushes never match."
  type        = list(string)

  validation {
    condition     = length(var.image_tags) > 0
    error_message = "image_tags must list at least one tag or glob (use [\"*\"] for every tag)."
  }
  validation {
    condition     = alltrue([for t in var.image_tags : can(regex("^[A-Za-z0-9_*][A-Za-z0-9_.*-]{0,127}$", t)) && !strcontains(t, "**")])
    error_message = "Each image tag must be a Docker tag (letters, digits, '_', '.', '-'; at most 128 characters, not starting with '.' or '-'), optionally with single '*' wildcards."
  }
}

variable "destination_repository" {
  description = "Name of the destination repository; \"{repository}\" stands for the source repository's name (\"mirror/{repository}\"). The repositories must exist unless the destination account has a CREATE_ON_PUSH repository creation template."
  type        = string
  default     = "{repository}"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/-]{0,255}$", replace(var.destination_repository, "{repository}", "x")))
    error_message = "destination_repository must be an ECR repository name, optionally containing \"{repository}\"."
  }
}

variable "package_source" {
  description = <<-EOT
    Where the function package comes from: "file" (package_file: the zip `make lambda` builds, for
    CLI-driven runs), "s3" (package_s3_bucket/package_s3_key/package_s3_object_version, in the
    function's Region, for pipelines that build and upload) or "release" (the zip inside this module,
    when the module is used from the release archive with a pinned checksum: HCP Terraform VCS runs).
  EOT
  type        = string
  default     = "file"

  validation {
    condition     = contains(["file", "s3", "release"], var.package_source)
    error_message = "package_source must be \"file\", \"s3\" or \"release\"."
  }
}

variable "package_file" {
  description = "package_source = \"file\": path of the function package, the zip holding `bootstrap` that `make lambda` builds (dist/ecrsync-lambda-arm64.zip)."
  type        = string
  default     = null

  validation {
    condition     = var.package_file == null || endswith(coalesce(var.package_file, "x.zip"), ".zip")
    error_message = "package_file must be a .zip file (make lambda builds dist/ecrsync-lambda-arm64.zip)."
  }
}

variable "package_hash" {
  description = "Base64 SHA-256 of the package (filebase64sha256 of package_file; for S3, of the object), so a new build is deployed. With \"file\", null means the file is not built yet (plan then stops saying so). Not used with \"release\" (the module hashes its own zip)."
  type        = string
  default     = null
}

variable "package_s3_bucket" {
  description = "package_source = \"s3\": bucket holding the function package, in the function's Region (the source Region)."
  type        = string
  default     = null
}

variable "package_s3_key" {
  description = "package_source = \"s3\": key of the function package (a zip holding `bootstrap`)."
  type        = string
  default     = null
}

variable "package_s3_object_version" {
  description = "package_source = \"s3\": object version of the package in a versioned bucket; a new version deploys it. null takes the current object (then set package_hash so a new upload is noticed)."
  type        = string
  default     = null
}

variable "reserved_concurrency" {
  description = <<-EOT
    Concurrent executions reserved for the function; null (the default) reserves none. A reservation
    both guarantees and caps the function's concurrency. It must be at least
    reconcile_maximum_concurrency. Each concurrent copy may call PutImage, which ECR allows 10 times a
    second per account and Region: more concurrency does not copy faster once that quota binds. Lambda
    keeps 100 executions of each account and Region unreserved: a reservation that would leave fewer
    fails the apply (the account's default limit is 1,000).
  EOT
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null || (coalesce(var.reserved_concurrency, 1) >= 1 && floor(coalesce(var.reserved_concurrency, 1)) == coalesce(var.reserved_concurrency, 1))
    error_message = "reserved_concurrency must be null or a whole number of at least 1 (0 would stop the function: turn off its rule instead)."
  }
}

variable "memory_size" {
  description = "Function memory in MB. Lambda scales CPU and network with memory; the copy streams blobs, so memory does not limit image size. 2048 MB moves multi-GB layers well within the timeout."
  type        = number
  default     = 2048

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds (at most 900, Lambda's limit). A multi-GB image needs minutes: keep the default unless images are small."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 30 to 900."
  }
}

variable "ephemeral_storage" {
  description = "Size of the function's /tmp in MB (512-10240). ecrsync keeps verified blobs there, up to half of it, so that a retry after a destination failure does not read the source again; larger layers stream from the source on each attempt."
  type        = number
  default     = 512

  validation {
    condition     = var.ephemeral_storage >= 512 && var.ephemeral_storage <= 10240 && floor(var.ephemeral_storage) == var.ephemeral_storage
    error_message = "ephemeral_storage must be a whole number of MB from 512 to 10240."
  }
}

variable "log_level" {
  description = "Application log level of the function (Lambda advanced logging, JSON format)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group, in days (0 = never expire)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "maximum_retry_attempts" {
  description = "How often Lambda retries a failed asynchronous invocation (0-2) before the event goes to the failure queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.maximum_retry_attempts)
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long Lambda keeps an event queued for the function (60-21600 s) before it goes to the failure queue."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600."
  }
}

variable "target_maximum_retry_attempts" {
  description = "How often EventBridge retries delivering an event to the function (0-185) before it goes to the rule's dead-letter queue."
  type        = number
  default     = 185

  validation {
    condition     = var.target_maximum_retry_attempts >= 0 && var.target_maximum_retry_attempts <= 185
    error_message = "target_maximum_retry_attempts must be between 0 and 185."
  }
}

variable "target_maximum_event_age_in_seconds" {
  description = "How long EventBridge keeps retrying delivery of an event to the function (60-86400 s)."
  type        = number
  default     = 86400

  validation {
    condition     = var.target_maximum_event_age_in_seconds >= 60 && var.target_maximum_event_age_in_seconds <= 86400
    error_message = "target_maximum_event_age_in_seconds must be between 60 and 86400."
  }
}

variable "queue_message_retention_seconds" {
  description = "How long the dead-letter and failure queues keep an event for replay (60-1209600 s)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.queue_message_retention_seconds >= 60 && var.queue_message_retention_seconds <= 1209600
    error_message = "queue_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "manage_source_repository_policy" {
  description = <<-EOT
    Source access model. false (the default when null): a source reader role in the source account,
    which only the function's role may assume, reads the source; no repository policy is touched.
    true: the module sets the ECR repository policy of each source repository named without a glob so
    the function's role may pull. That REPLACES any existing policy on those repositories and destroy
    deletes it; a reconcile over globs cannot work this way. Before this version the default was true:
    set true to keep the policies an existing deployment manages (null warns in every plan).
  EOT
  type        = bool
  default     = null
}

variable "source_repository_policy_principal_arns" {
  description = "More IAM role ARNs allowed to pull from the source repositories, in the repository policy this module manages (for example the roles of other destinations' module blocks)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.source_repository_policy_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "source_repository_policy_principal_arns must be IAM role ARNs."
  }
}

variable "reconcile_enabled" {
  description = "Whether to run the periodic reconcile, which copies what events missed: a schedule invokes the function with {\"ecrsync\":\"reconcile\"}, which queues one message per source repository for itself."
  type        = bool
  default     = true
}

variable "reconcile_schedule" {
  description = "EventBridge schedule expression of the reconcile."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be an EventBridge schedule expression: rate(1 hour), rate(30 minutes), cron(0 * * * ? *)."
  }
}

variable "reconcile_maximum_concurrency" {
  description = "How many reconcile messages (one per repository) the function handles at once (2-1000). ECR's PutImage allows 10 per second per account and Region."
  type        = number
  default     = 10

  validation {
    condition     = var.reconcile_maximum_concurrency >= 2 && var.reconcile_maximum_concurrency <= 1000
    error_message = "reconcile_maximum_concurrency must be between 2 and 1000."
  }
}

variable "put_image_rate" {
  description = "ECR PutImage calls per second the reconcile may make in the destination account and Region, shared by all its concurrent invocations (ECR's default quota is 10)."
  type        = number
  default     = 10

  validation {
    condition     = var.put_image_rate > 0 && var.put_image_rate <= 1000
    error_message = "put_image_rate must be above 0 and at most 1000."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in; empty runs it outside any VPC. Give vpc_security_group_ids too, and see the README for the VPC endpoints it then needs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.vpc_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "vpc_subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function when it runs in a VPC (they must allow HTTPS out)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.vpc_security_group_ids : can(regex("^sg-[0-9a-f]+$", s))])
    error_message = "vpc_security_group_ids must be security group IDs (sg-...)."
  }
}

variable "create_alarms" {
  description = "Whether to create CloudWatch alarms (function errors, dropped and undeliverable async events, EventBridge delivery failures, events waiting in any dead-letter or failure queue) and, unless topics are given, an SNS topic for them in each account."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic (destination account, function Region) the function-side alarms notify. null creates one, <name>-alarms, subscribed by alarm_email_addresses."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", coalesce(var.alarm_topic_arn, "x")))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "source_alarm_topic_arn" {
  description = "SNS topic in the SOURCE account and Region the alarms on the rule's delivery notify (alarms can only notify a topic in their own account here). null creates one there, <name>-alarms, subscribed by alarm_email_addresses."
  type        = string
  default     = null

  validation {
    condition     = var.source_alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", coalesce(var.source_alarm_topic_arn, "x")))
    error_message = "source_alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the topics this module creates (both accounts). Each address gets a confirmation message from SNS and receives nothing until it confirms."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "alarm_email_addresses must be e-mail addresses."
  }
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

variable "queue_age_alarm_threshold_seconds" {
  description = "An alarm fires when the oldest event in a dead-letter or failure queue has waited longer than this (seconds)."
  type        = number
  default     = 300

  validation {
    condition     = var.queue_age_alarm_threshold_seconds >= 0 && var.queue_age_alarm_threshold_seconds < 1209600
    error_message = "queue_age_alarm_threshold_seconds must be between 0 and 1209599 (14 days, SQS's longest retention)."
  }
}

variable "create_dashboard" {
  description = "Whether to create a CloudWatch dashboard of the function's metrics (syncs, bytes, durations, outcomes, queue ages); named <name>-<Region>."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource this module creates."
  type        = map(string)
  default     = {}
}

variable "create_repositories" {
  description = "How a missing destination repository gets created: \"none\" (it must exist), \"ecrsync\" (the function creates it like the source repository, see the repository_* variables), or \"template\" (a repository creation template applied for CREATE_ON_PUSH; ECR creates it on the first push under repository_creation_template_prefix)."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "ecrsync", "template"], var.create_repositories)
    error_message = "create_repositories must be \"none\", \"ecrsync\" or \"template\"."
  }
}

variable "repository_image_tag_mutability" {
  description = "Tag mutability of created repositories; null = like the source repository (\"template\": MUTABLE)."
  type        = string
  default     = null

  validation {
    condition     = var.repository_image_tag_mutability == null || can(regex("^(MUTABLE|IMMUTABLE|IMMUTABLE_WITH_EXCLUSION|MUTABLE_WITH_EXCLUSION)$", var.repository_image_tag_mutability))
    error_message = "repository_image_tag_mutability must be MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION."
  }
}

variable "repository_image_tag_mutability_exclusion_filters" {
  description = "Tag wildcards excluded from the tag mutability setting (1-5, with the *_WITH_EXCLUSION settings only)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.repository_image_tag_mutability_exclusion_filters) <= 5 && alltrue([for f in var.repository_image_tag_mutability_exclusion_filters : can(regex("^[0-9A-Za-z._*-]{1,128}$", f))])
    error_message = "repository_image_tag_mutability_exclusion_filters: at most 5 tag wildcards of letters, digits, '.', '_', '-' and '*'."
  }
}

variable "repository_scan_on_push" {
  description = "Scan on push of created repositories; null = like the source repository."
  type        = bool
  default     = null
}

variable "repository_kms_key" {
  description = "ARN of a KMS key of the destination account and Region to encrypt created repositories with; null = AES256 (a source repository's key cannot encrypt another account's repository)."
  type        = string
  default     = null

  validation {
    condition     = var.repository_kms_key == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.repository_kms_key))
    error_message = "repository_kms_key must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "repository_lifecycle_policy" {
  description = "ECR lifecycle policy JSON of created repositories; null = like the source repository, \"\" = none."
  type        = string
  default     = null

  validation {
    condition     = var.repository_lifecycle_policy == null || var.repository_lifecycle_policy == "" || can(jsondecode(var.repository_lifecycle_policy).rules)
    error_message = "repository_lifecycle_policy must be an ECR lifecycle policy: a JSON object with a \"rules\" array."
  }
}

variable "repository_tags" {
  description = "Resource tags of created repositories; null = like the source repository, {} = none."
  type        = map(string)
  default     = null
}

variable "repository_creation_template_prefix" {
  description = "With create_repositories = \"template\": the repository name prefix the creation template applies to (\"mirror\" for mirror/..., ROOT for every repository without a more specific template)."
  type        = string
  default     = null
}

variable "config_parameter" {
  description = "Whether the config document goes to an SSM parameter (read by the function at start) instead of the ECRSYNC_CONFIG environment variable; null = when it is longer than config_parameter_threshold."
  type        = bool
  default     = null
}

variable "config_parameter_threshold" {
  description = "With config_parameter = null: the config document's length in bytes above which it goes to the SSM parameter. Lambda's whole environment holds 4 KB."
  type        = number
  default     = 3072

  validation {
    condition     = var.config_parameter_threshold >= 0 && var.config_parameter_threshold <= 3500
    error_message = "config_parameter_threshold must be between 0 and 3500 (Lambda's environment holds 4 KB in all)."
  }
}

# Promotion gates (gates.tf).

variable "signature_keys" {
  description = "Promote only images with a cosign signature by one of these keys: inline PEM public keys (the contents of cosign.pub; file paths do not reach the function) or awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID (the function gets kms:GetPublicKey; the key's policy must allow its role too). [] = no signature gate."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.signature_keys : can(regex("^\\s*-----BEGIN PUBLIC KEY-----", k)) || can(regex("^awskms:///arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", k))])
    error_message = "Each signature key is an inline PEM public key (-----BEGIN PUBLIC KEY-----, as in cosign.pub) or awskms:///ARN of a KMS key."
  }
}

variable "max_severity" {
  description = "Promote only images whose ECR scan (basic or enhanced; every platform of an index) has no finding above this severity: NONE, INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL. null = no scan gate. Adds the scan-complete event rule and ecr:DescribeImageScanFindings on the source repositories."
  type        = string
  default     = null

  validation {
    condition     = var.max_severity == null || contains(["NONE", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"], coalesce(var.max_severity, "NONE"))
    error_message = "max_severity is one of NONE, INFORMATIONAL, LOW, MEDIUM, HIGH, CRITICAL (or null for no scan gate)."
  }
}

variable "scan_wait" {
  description = "With max_severity: how long one invocation waits for a scan in progress (a Go duration, e.g. 60s). A waiting invocation holds a concurrency slot; the scan-complete event releases a held image anyway."
  type        = string
  default     = "60s"

  validation {
    condition     = can(regex("^([0-9]+(s|m))+$", var.scan_wait))
    error_message = "scan_wait is a duration in seconds or minutes, like 60s or 5m."
  }
}

variable "scan_required" {
  description = "With max_severity: false lets an image without any scan (scanning off for the repository) through; true blocks it."
  type        = bool
  default     = true
}

variable "propagate_deletes" {
  description = "Whether a source tag's deletion removes the tag from the destination (BatchDeleteImage by tag, never an image another tag names): the event rule then also matches DELETE, and the function gets ecr:BatchDeleteImage (and ecr:ListImages for sync --prune) on the destination repositories."
  type        = bool
  default     = false
}

variable "blocked_alarm" {
  description = "Whether to alarm (to alarm_actions) when a promotion is blocked by a gate (the Syncs metric with Outcome=blocked)."
  type        = bool
  default     = false
}
