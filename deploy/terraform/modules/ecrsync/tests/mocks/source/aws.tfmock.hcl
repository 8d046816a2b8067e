# Provider "aws.ecr": the source account 111111111111, in us-east-1.
mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:us-east-1:111111111111:ecrsync-alarms" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "111111111111" }
}

mock_data "aws_region" {
  defaults = { region = "us-east-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
