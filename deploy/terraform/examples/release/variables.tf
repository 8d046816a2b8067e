variable "tfc_aws_dynamic_credentials" {
  description = "Filled by HCP Terraform with dynamic provider credentials (default = destination account, alias key \"ECR\" = source account). Declare it; never set it."
  type = object({
    default = object({ shared_config_file = string })
    aliases = map(object({ shared_config_file = string }))
  })
  default = null
}

variable "source_account_id" {
  description = "Account of the source ECR repositories."
  type        = string
}

variable "destination_account_id" {
  description = "Account the images are copied into; the function runs here, in the source Region."
  type        = string
}

variable "source_region" {
  description = "Region of the source repositories, of the rule and of the function."
  type        = string
  default     = "us-east-1"
}

variable "destination_region" {
  description = "Region the images are copied into (null: the source Region)."
  type        = string
  default     = null
}

variable "repositories" {
  description = "Source repositories (names or globs with '*')."
  type        = list(string)
}

variable "image_tags" {
  description = "Image tags whose pushes are copied (tags or globs with '*')."
  type        = list(string)
}

variable "alarm_email_addresses" {
  description = "Who the alarms e-mail (each address must confirm SNS's subscription message)."
  type        = list(string)
  default     = []
}
