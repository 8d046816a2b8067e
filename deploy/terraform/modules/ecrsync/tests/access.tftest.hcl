# Access to the source account (source_reader.tf), as plan.tftest.hcl, but in a file of its own:
# the trust of the reader role and the repository policy name the function's role by its ARN, which
# a mocked plan leaves unknown, so these runs apply (mocks only: nothing leaves this machine) with
# the function role's ARN overridden, and their state stays out of the plan-only runs.
# tools/tfcheck/modulecheck/tftest_test.go breaks each guarded property in a copy of the module and
# checks that these runs then fail.

mock_provider "aws" {
  source = "./tests/mocks/destination"
}

mock_provider "aws" {
  alias  = "ecr"
  source = "./tests/mocks/source"
}

override_resource {
  target = aws_iam_role.this
  values = { arn = "arn:aws:iam::222222222222:role/ecrsync-us-east-1" }
}

variables {
  name                            = "ecrsync"
  source_account_id               = "111111111111"
  destination_account_id          = "222222222222"
  destination_region              = "eu-west-1"
  repositories                    = ["app", "team/*"]
  image_tags                      = ["v*", "prod"]
  destination_repository          = "mirror/{repository}"
  package_source                  = "file"
  package_file                    = "dist/ecrsync-lambda-arm64.zip"
  package_hash                    = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
  alarm_email_addresses           = ["oncall@example.com"]
  manage_source_repository_policy = false
}

run "source_reader_trust" {
  command = apply

  assert {
    condition = jsondecode(aws_iam_role.source_reader[0].assume_role_policy).Statement == [{
      Sid       = "EcrsyncFunction"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::222222222222:role/ecrsync-us-east-1" }
      Action    = "sts:AssumeRole"
      Condition = { StringLike = { "sts:RoleSessionName" = "ecrsync-*" } }
    }]
    error_message = "Only the function's role may assume the reader role, and only with a session name ecrsync-*."
  }
  assert {
    condition     = output.source_reader_role_arn == aws_iam_role.source_reader[0].arn && output.iam_role_names.source_reader == "ecrsync-reader-us-east-1"
    error_message = "The outputs name the reader role."
  }
}

# The old model, opted into: the function's own role pulls (and lists: reconcile) the source
# repositories, each repository named without a glob gets a policy letting that role (and only the
# roles listed) do exactly that, and there is no reader role.
run "source_repository_policy_opt_in" {
  command = apply

  variables {
    manage_source_repository_policy         = true
    repositories                            = ["app", "team/api"]
    source_repository_policy_principal_arns = ["arn:aws:iam::333333333333:role/ecrsync-us-east-1"]
  }

  assert {
    condition     = length(aws_iam_role.source_reader) == 0 && length(aws_iam_role_policy.source_reader) == 0 && output.source_reader_role_arn == null
    error_message = "manage_source_repository_policy = true: no reader role."
  }
  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      if !contains(["Logs", "EcrAuth", "EcrPushDestination", "FailureQueue", "ReconcileQueue"], s.Sid)
      }) == jsonencode({
      EcrReadSource = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/api"]
      }
    })
    error_message = "manage_source_repository_policy = true: the function's role pulls and lists the source repositories itself (no sts:AssumeRole)."
  }
  assert {
    condition = { for k, p in aws_ecr_repository_policy.source : k => jsondecode(p.policy).Statement } == {
      for r in ["app", "team/api"] : r => [{
        Sid       = "EcrsyncPull"
        Effect    = "Allow"
        Principal = { AWS = ["arn:aws:iam::222222222222:role/ecrsync-us-east-1", "arn:aws:iam::333333333333:role/ecrsync-us-east-1"] }
        Action    = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"]
      }]
    }
    error_message = "Each source repository named without a glob gets a policy letting exactly the function's role (and the roles listed) pull and list it."
  }
  assert {
    condition     = !can(jsondecode(aws_lambda_function.this.environment[0].variables.ECRSYNC_CONFIG).source.role_arn)
    error_message = "manage_source_repository_policy = true: the config's source names no role (the function pulls with its own)."
  }
}
