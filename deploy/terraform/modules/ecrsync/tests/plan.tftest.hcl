# Plan-level checks of the module (terraform >= 1.7: mock_provider). Run by deploy/terraform/check.sh
# (make tf-check) with terraform 1.8.5 over the schema-only stand-in of hashicorp/aws; nothing
# reaches AWS. The two providers are mocked: "aws" is the destination account, "aws.ecr" the source
# account, both in us-east-1. Policies are jsonencode()d locals, so they are known at plan and
# asserted exactly. tools/tfcheck/modulecheck/tftest_test.go breaks each guarded property in a copy
# of the module and checks that these runs then fail.

mock_provider "aws" {
  source = "./tests/mocks/destination"
}

mock_provider "aws" {
  alias  = "ecr"
  source = "./tests/mocks/source"
}

variables {
  name                   = "ecrsync"
  source_account_id      = "111111111111"
  destination_account_id = "222222222222"
  destination_region     = "eu-west-1"
  repositories           = ["app", "team/*"]
  image_tags             = ["v*", "prod"]
  destination_repository = "mirror/{repository}"
  package_source         = "file"
  package_file           = "dist/ecrsync-lambda-arm64.zip"
  package_hash           = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  alarm_email_addresses  = ["oncall@example.com"]
}

run "iam_function_role" {
  command = plan

  assert {
    condition = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset([
      "Logs", "EcrAuth", "EcrPullSource", "EcrPushDestination", "FailureQueue", "EcrListSource", "ReconcileQueue",
    ])
    error_message = "The function's policy has other statements than Logs, EcrAuth, EcrPullSource, EcrPushDestination, FailureQueue, EcrListSource, ReconcileQueue."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Effect == "Allow" && !can(s.NotAction) && !can(s.NotResource)])
    error_message = "Every statement of the function's policy must be a plain Allow (no NotAction/NotResource)."
  }
  assert {
    # jsonencode on both sides: sort() gives lists, the literals are tuples, and == compares types too.
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      }) == jsonencode({
      Logs     = { a = ["logs:CreateLogStream", "logs:PutLogEvents"], r = ["arn:aws:logs:us-east-1:222222222222:log-group:/aws/lambda/ecrsync:*"] }
      EcrAuth  = { a = ["ecr:GetAuthorizationToken"], r = ["*"] }
      EcrPullSource = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/*"]
      }
      EcrPushDestination = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
        r = ["arn:aws:ecr:eu-west-1:222222222222:repository/mirror/app", "arn:aws:ecr:eu-west-1:222222222222:repository/mirror/team/*"]
      }
      FailureQueue = { a = ["sqs:SendMessage"], r = ["arn:aws:sqs:us-east-1:222222222222:ecrsync-failures"] }
      EcrListSource = {
        a = ["ecr:DescribeImages", "ecr:DescribeRepositories", "ecr:ListImages"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/*"]
      }
      ReconcileQueue = { a = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"], r = ["arn:aws:sqs:us-east-1:222222222222:ecrsync-reconcile"] }
    })
    error_message = "The function's role must grant exactly the engine's actions on exactly the source (pull, list) and destination (push) repository ARNs, its log group and its queues."
  }
  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = "222222222222" } }
    }]
    error_message = "Only Lambda, in the destination account, may assume the function's role."
  }
}

run "lambda_permissions" {
  command = plan

  assert {
    condition     = aws_lambda_permission.events.principal == "111111111111" && aws_lambda_permission.events.action == "lambda:InvokeFunction" && aws_lambda_permission.events.function_name == "ecrsync"
    error_message = "The cross-account permission must let the source account (and nothing wider) invoke the function, and only invoke it."
  }
  assert {
    condition = (
      aws_lambda_permission.reconcile[0].principal == "events.amazonaws.com" &&
      aws_lambda_permission.reconcile[0].source_arn == "arn:aws:events:us-east-1:222222222222:rule/ecrsync-reconcile" &&
      aws_lambda_permission.reconcile[0].source_account == "222222222222"
    )
    error_message = "The reconcile permission must be for EventBridge, on condition that the caller is the reconcile rule of the destination account."
  }
}

run "invoke_role" {
  command = plan

  assert {
    condition = jsondecode(aws_iam_role.invoke.assume_role_policy).Statement == [{
      Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = "111111111111", "aws:SourceArn" = "arn:aws:events:us-east-1:111111111111:rule/ecrsync" } }
    }]
    error_message = "Only EventBridge, for this rule (aws:SourceArn) in the source account, may assume the invoke role."
  }
  assert {
    condition = jsondecode(aws_iam_role_policy.invoke.policy).Statement == [{
      Sid = "InvokeEcrsync", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = ["arn:aws:lambda:us-east-1:222222222222:function:ecrsync"]
    }]
    error_message = "The invoke role may invoke this function only."
  }
}

run "event_pattern" {
  command = plan

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.this.event_pattern) == {
      source        = ["aws.ecr"]
      "detail-type" = ["ECR Image Action"]
      detail = {
        "action-type"     = ["PUSH"]
        result            = ["SUCCESS"]
        "repository-name" = ["app", { wildcard = "team/*" }]
        "image-tag"       = ["prod", { wildcard = "v*" }]
      }
    }
    error_message = "The rule must match successful ECR pushes of exactly the repositories and tags asked for."
  }
}

run "every_tag" {
  command = plan

  variables {
    image_tags = ["*"]
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern).detail["image-tag"] == [{ "anything-but" = "" }]
    error_message = "image_tags = [\"*\"] must match every tagged push and no untagged one."
  }
}

run "dead_letter_queue_policy" {
  command = plan

  assert {
    condition = jsondecode(aws_sqs_queue_policy.dead_letter.policy).Statement == [{
      Sid = "EventBridgeDeadLetter", Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sqs:SendMessage"
      Resource  = "arn:aws:sqs:us-east-1:111111111111:ecrsync-dead-letter"
      Condition = { ArnEquals = { "aws:SourceArn" = "arn:aws:events:us-east-1:111111111111:rule/ecrsync" } }
    }]
    error_message = "Only EventBridge, for this rule, may put messages on the dead-letter queue."
  }
}

run "cross_region_without_the_documented_path_fails" {
  command = plan

  override_data {
    target = data.aws_region.this
    values = { region = "eu-west-1" }
  }

  expect_failures = [aws_lambda_function.this]
}

run "package_file" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.filename == "dist/ecrsync-lambda-arm64.zip" && aws_lambda_function.this.source_code_hash == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" && aws_lambda_function.this.s3_bucket == null
    error_message = "package_source = \"file\" deploys package_file with its hash."
  }
}

run "package_file_missing_fails" {
  command = plan

  variables {
    package_hash = null
  }

  expect_failures = [aws_lambda_function.this]
}

run "package_s3" {
  command = plan

  variables {
    package_source            = "s3"
    package_file              = null
    package_hash              = null
    package_s3_bucket         = "artifacts-us-east-1"
    package_s3_key            = "ecrsync/v1.2.3/ecrsync-lambda-arm64.zip"
    package_s3_object_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  }

  assert {
    condition = (
      aws_lambda_function.this.s3_bucket == "artifacts-us-east-1" &&
      aws_lambda_function.this.s3_key == "ecrsync/v1.2.3/ecrsync-lambda-arm64.zip" &&
      aws_lambda_function.this.s3_object_version == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" &&
      aws_lambda_function.this.filename == null
    )
    error_message = "package_source = \"s3\" deploys the S3 object, not a file."
  }
}

run "package_release" {
  command = plan

  variables {
    package_source = "release"
    package_file   = null
    package_hash   = null
  }

  assert {
    condition     = endswith(aws_lambda_function.this.filename, "/package/ecrsync-lambda-arm64.zip") && aws_lambda_function.this.source_code_hash == filebase64sha256(aws_lambda_function.this.filename) && aws_lambda_function.this.s3_bucket == null
    error_message = "package_source = \"release\" deploys the zip inside the module, with its hash."
  }
}

run "reserved_concurrency" {
  command = plan

  variables {
    reserved_concurrency = 20
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 20
    error_message = "reserved_concurrency is the function's reservation."
  }
}

run "reserved_concurrency_below_reconcile_fails" {
  command = plan

  variables {
    reserved_concurrency = 5
  }

  expect_failures = [aws_lambda_function.this]
}

run "names_us_east_1" {
  command = plan

  assert {
    condition     = aws_iam_role.this.name == "ecrsync-us-east-1" && aws_iam_role.invoke.name == "ecrsync-invoke-us-east-1"
    error_message = "IAM role names carry the Region."
  }
}

run "names_eu_central_1" {
  command = plan

  # The same module, same name and accounts, for a second source Region.
  override_data {
    target = data.aws_region.this
    values = { region = "eu-central-1" }
  }
  override_data {
    target = data.aws_region.source
    values = { region = "eu-central-1" }
  }

  variables {
    create_dashboard = true
  }

  assert {
    condition = length(setintersection(
      toset(values(run.names_us_east_1.iam_role_names)),
      toset(values(output.iam_role_names)),
    )) == 0
    error_message = "Two instances of the module for two source Regions must not share an IAM role name (IAM names are global to an account)."
  }
  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "ecrsync-eu-central-1"
    error_message = "Dashboards are global to an account: the name carries the Region."
  }
}
