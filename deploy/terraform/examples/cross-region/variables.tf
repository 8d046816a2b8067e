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
  description = "Region the images are copied into."
  type        = string
  default     = "eu-west-1"
}

variable "package_file" {
  description = "The function package `make lambda` builds."
  type        = string
  default     = "../../../../dist/ecrsync-lambda-arm64.zip"
}
