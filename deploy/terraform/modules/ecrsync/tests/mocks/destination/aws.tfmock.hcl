# The default provider "aws": the destination account 222222222222, in us-east-1 (the source Region,
# where the function runs). Data sources need values; the topic's ARN is fixed for runs that apply.
mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:us-east-1:222222222222:ecrsync-alarms" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "222222222222" }
}

mock_data "aws_region" {
  defaults = { region = "us-east-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}
