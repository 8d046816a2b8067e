terraform {
  # strcontains() needs 1.5; CI checks with 1.5.7.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0 brought the per-resource `region` argument and data.aws_region.region.
      version = ">= 6.0"
      # aws     = destination account, in the source Region (the function's home)
      # aws.ecr = source account, source Region (the ECR repositories and the rule)
      configuration_aliases = [aws.ecr]
    }
  }
}
