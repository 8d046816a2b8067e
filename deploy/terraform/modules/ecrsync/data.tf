# The function's side: destination account, source Region.
data "aws_partition" "this" {}

data "aws_region" "this" {}

data "aws_caller_identity" "this" {}

# The source side: source account, source Region.
data "aws_region" "source" {
  provider = aws.ecr
}

data "aws_caller_identity" "source" {
  provider = aws.ecr
}
