variable "source_account_id" {
  description = "Account of the source ECR repositories."
  type        = string
}

variable "prod_account_id" {
  description = "First destination account (copies in eu-west-1)."
  type        = string
}

variable "dr_account_id" {
  description = "Second destination account (copies in us-west-2)."
  type        = string
}

variable "source_region" {
  description = "Region of the source repositories; both functions run here."
  type        = string
  default     = "us-east-1"
}

variable "package_file" {
  description = "The function package `make lambda` builds."
  type        = string
  default     = "../../../../dist/ecrsync-lambda-arm64.zip"
}
