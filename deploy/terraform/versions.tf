terraform {
  # CI checks with 1.5.7 (strcontains() needs 1.5).
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0 brought the per-resource `region` argument and data.aws_region.region.
      version = ">= 6.0, < 7.0"
    }
  }
}
