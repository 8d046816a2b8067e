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
  # Set, as a deployment that read the upgrade note would: unset, the module's check
  # source_repository_policy fails every run (run "source_repository_policy_unset_warns").
  manage_source_repository_policy = false
}

run "iam_function_role" {
  command = plan

  # The function reads the source only through the reader role (source_reader.tf): its own policy
  # holds sts:AssumeRole on that role and no source repository. No gate, no repository creation.
  assert {
    condition = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset([
      "Logs", "EcrAuth", "EcrPushDestination", "FailureQueue", "ReconcileQueue", "AssumeSourceReader",
    ])
    error_message = "The function's policy has other statements than Logs, EcrAuth, EcrPushDestination, FailureQueue, ReconcileQueue, AssumeSourceReader."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Effect == "Allow" && !can(s.NotAction) && !can(s.NotResource) && !can(s.Condition)])
    error_message = "Every statement of the function's policy must be a plain Allow (no NotAction/NotResource, no condition)."
  }
  assert {
    # jsonencode on both sides: sort() gives lists, the literals are tuples, and == compares types too.
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      }) == jsonencode({
      Logs    = { a = ["logs:CreateLogStream", "logs:PutLogEvents"], r = ["arn:aws:logs:us-east-1:222222222222:log-group:/aws/lambda/ecrsync:*"] }
      EcrAuth = { a = ["ecr:GetAuthorizationToken"], r = ["*"] }
      EcrPushDestination = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
        r = ["arn:aws:ecr:eu-west-1:222222222222:repository/mirror/app", "arn:aws:ecr:eu-west-1:222222222222:repository/mirror/team/*"]
      }
      FailureQueue       = { a = ["sqs:SendMessage"], r = ["arn:aws:sqs:us-east-1:222222222222:ecrsync-failures"] }
      ReconcileQueue     = { a = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"], r = ["arn:aws:sqs:us-east-1:222222222222:ecrsync-reconcile"] }
      AssumeSourceReader = { a = ["sts:AssumeRole"], r = ["arn:aws:iam::111111111111:role/ecrsync-reader-us-east-1"] }
    })
    error_message = "The function's role must grant exactly the engine's push actions on exactly the destination repository ARNs, sts:AssumeRole on the source reader role only, its log group and its queues; nothing on the source repositories."
  }
  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [{
      Effect    = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = "222222222222" } }
    }]
    error_message = "Only Lambda, in the destination account, may assume the function's role."
  }
}

# The reader role (source account): pull + ListImages (the reconcile) on the selected repositories,
# DescribeRepositories on repository/* because the reconcile lists over a glob (team/*), tokens.
run "source_reader_role" {
  command = plan

  assert {
    condition     = aws_iam_role.source_reader[0].name == "ecrsync-reader-us-east-1" && aws_iam_role_policy.source_reader[0].name == "ecrsync-reader-us-east-1"
    error_message = "The reader role is named after the module and the source Region."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Effect == "Allow" && !can(s.NotAction) && !can(s.NotResource) && !can(s.Condition)])
    error_message = "Every statement of the reader role's policy must be a plain Allow (no NotAction/NotResource)."
  }
  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      }) == jsonencode({
      EcrAuth = { a = ["ecr:GetAuthorizationToken"], r = ["*"] }
      EcrReadSource = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/*"]
      }
      EcrListRegistry = { a = ["ecr:DescribeRepositories"], r = ["arn:aws:ecr:us-east-1:111111111111:repository/*"] }
    })
    error_message = "The reader role must grant exactly pull + ListImages on the selected source repositories, DescribeRepositories on repository/* (reconcile over a glob), and the token."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.ECRSYNC_CONFIG).source == { account_id = "111111111111", region = "us-east-1", role_arn = "arn:aws:iam::111111111111:role/ecrsync-reader-us-east-1" }
    error_message = "The config's source names the reader role, which the function assumes for every source call."
  }
  assert {
    condition     = length(aws_ecr_repository_policy.source) == 0
    error_message = "No source repository policy is written unless manage_source_repository_policy = true."
  }
}

# Without a glob there is no listing of the registry: no grant on repository/*.
run "source_reader_without_globs" {
  command = plan

  variables {
    repositories = ["app", "team/api"]
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      }) == jsonencode({
      EcrAuth = { a = ["ecr:GetAuthorizationToken"], r = ["*"] }
      EcrReadSource = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/api"]
      }
    })
    error_message = "Repositories named without a glob: the reader role gets no DescribeRepositories on repository/*."
  }
}

# Without the reconcile nothing is listed: pull only, no ListImages, no repository/*, even with a glob.
run "source_reader_without_reconcile" {
  command = plan

  variables {
    reconcile_enabled = false
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      }) == jsonencode({
      EcrAuth = { a = ["ecr:GetAuthorizationToken"], r = ["*"] }
      EcrReadSource = {
        a = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        r = ["arn:aws:ecr:us-east-1:111111111111:repository/app", "arn:aws:ecr:us-east-1:111111111111:repository/team/*"]
      }
    })
    error_message = "reconcile_enabled = false: the reader role pulls only (no ListImages, no DescribeRepositories on repository/*)."
  }
}

# The variable unset (null): the reader-role model, and the check warns in every plan (a warning in
# plan/apply; a failure here unless expected).
run "source_repository_policy_unset_warns" {
  command = plan

  variables {
    manage_source_repository_policy = null
  }

  expect_failures = [check.source_repository_policy]

  assert {
    condition     = length(aws_iam_role.source_reader) == 1 && length(aws_ecr_repository_policy.source) == 0
    error_message = "Unset, manage_source_repository_policy means the reader role and no repository policy."
  }
}

# The old model with globs and the reconcile: the listing cannot be granted, and the check says so.
run "source_repository_policy_with_globs_warns" {
  command = plan

  variables {
    manage_source_repository_policy = true
  }

  expect_failures = [check.source_listing]
}

# Repository creation by the function: CreateRepository (+ lifecycle, tags: "like the source") on the
# destination repositories, the settings reads of the source repositories by the reader role, and
# the KMS grant through ECR only.
run "repository_creation_ecrsync" {
  command = plan

  variables {
    create_repositories = "ecrsync"
    repository_kms_key  = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource), c = try(s.Condition, null) }
      if contains(["EcrCreateDestination", "KmsForRepositoryCreation"], s.Sid)
      }) == jsonencode({
      EcrCreateDestination = {
        a = ["ecr:CreateRepository", "ecr:PutLifecyclePolicy", "ecr:TagResource"]
        r = ["arn:aws:ecr:eu-west-1:222222222222:repository/mirror/app", "arn:aws:ecr:eu-west-1:222222222222:repository/mirror/team/*"]
        c = null
      }
      KmsForRepositoryCreation = {
        a = ["kms:CreateGrant", "kms:DescribeKey"]
        r = ["arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
        c = { StringEquals = { "kms:ViaService" = "ecr.eu-west-1.amazonaws.com" } }
      }
    })
    error_message = "create_repositories = \"ecrsync\": CreateRepository, PutLifecyclePolicy and TagResource on the destination repositories only, and the named KMS key through ECR in the destination Region only."
  }
  assert {
    condition     = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset(["Logs", "EcrAuth", "EcrPushDestination", "FailureQueue", "ReconcileQueue", "AssumeSourceReader", "EcrCreateDestination", "KmsForRepositoryCreation"])
    error_message = "Repository creation adds EcrCreateDestination and KmsForRepositoryCreation to the function's policy, nothing else."
  }
  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Sid => sort(s.Action)
      }) == jsonencode({
      EcrAuth         = ["ecr:GetAuthorizationToken"]
      EcrReadSource   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeRepositories", "ecr:GetDownloadUrlForLayer", "ecr:GetLifecyclePolicy", "ecr:ListImages", "ecr:ListTagsForResource"]
      EcrListRegistry = ["ecr:DescribeRepositories"]
    })
    error_message = "create_repositories = \"ecrsync\": the reader role reads the source repositories' settings (DescribeRepositories, GetLifecyclePolicy, ListTagsForResource) on them only."
  }
  assert {
    condition     = length(aws_ecr_repository_creation_template.this) == 0
    error_message = "create_repositories = \"ecrsync\" creates no repository creation template."
  }
}

# Repository creation by ECR (a creation template): the pusher needs CreateRepository only, and the
# reader role reads no settings.
run "repository_creation_template" {
  command = plan

  variables {
    create_repositories                 = "template"
    repository_creation_template_prefix = "mirror"
  }

  assert {
    condition = jsonencode([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : { a = s.Action, r = sort(s.Resource) } if s.Sid == "EcrCreateDestination"]) == jsonencode([{
      a = ["ecr:CreateRepository"]
      r = ["arn:aws:ecr:eu-west-1:222222222222:repository/mirror/app", "arn:aws:ecr:eu-west-1:222222222222:repository/mirror/team/*"]
    }])
    error_message = "create_repositories = \"template\": CreateRepository on the destination repositories, no lifecycle or tag action (the template sets them)."
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Action]), "kms:CreateGrant")
    error_message = "A creation template gets no KMS grant."
  }
  assert {
    condition     = jsonencode(sort(one([for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Action if s.Sid == "EcrReadSource"]))) == jsonencode(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"])
    error_message = "create_repositories = \"template\": the reader role reads no repository settings."
  }
  assert {
    condition     = aws_ecr_repository_creation_template.this[0].prefix == "mirror" && aws_ecr_repository_creation_template.this[0].applied_for == toset(["CREATE_ON_PUSH"])
    error_message = "The template applies for CREATE_ON_PUSH to the prefix given."
  }
}

run "repository_creation_template_without_prefix_fails" {
  command = plan

  variables {
    create_repositories = "template"
  }

  expect_failures = [aws_ecr_repository_creation_template.this]
}

# Gates off (the runs above): no scan rule, no KMS or delete grant, PUSH only. A scan gate: the scan
# findings read by the reader role, the scan rule and its target, the invoke role trusting that rule.
run "gate_scan" {
  command = plan

  variables {
    max_severity = "HIGH"
  }

  assert {
    condition     = jsonencode(sort(one([for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Action if s.Sid == "EcrReadSource"]))) == jsonencode(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImageScanFindings", "ecr:GetDownloadUrlForLayer", "ecr:ListImages"])
    error_message = "A scan gate adds DescribeImageScanFindings on the source repositories to the reader role."
  }
  assert {
    condition     = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset(["Logs", "EcrAuth", "EcrPushDestination", "FailureQueue", "ReconcileQueue", "AssumeSourceReader"])
    error_message = "A scan gate grants the function nothing more (the reader role reads the findings)."
  }
  assert {
    condition     = length(aws_cloudwatch_event_rule.scan) == 1 && length(aws_cloudwatch_event_target.scan) == 1 && jsondecode(aws_cloudwatch_event_rule.scan[0].event_pattern).source == ["aws.ecr", "aws.inspector2"]
    error_message = "A scan gate adds the scan-complete rule (ECR and Inspector) and its target."
  }
  assert {
    condition     = jsondecode(aws_iam_role.invoke.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceArn"] == ["arn:aws:events:us-east-1:111111111111:rule/ecrsync", "arn:aws:events:us-east-1:111111111111:rule/ecrsync-scan"]
    error_message = "With a scan gate the invoke role trusts the push rule and the scan rule, no other."
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this.environment[0].variables.ECRSYNC_CONFIG).rules[0].require == { scan = { max_severity = "HIGH", wait = "60s", required = true } }
    error_message = "The config's rule carries the scan gate."
  }
}

# A signature gate with a KMS key and a PEM key, and propagate_deletes: kms:GetPublicKey on the KMS
# key only, BatchDeleteImage (+ ListImages: reconcile) on the destination repositories only, DELETE
# in the event pattern; no scan rule, no scan findings read.
run "gate_signature_and_deletes" {
  command = plan

  variables {
    signature_keys    = ["awskms:///arn:aws:kms:us-east-1:222222222222:key/0f0f0f0f-1111-2222-3333-444444444444", "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"]
    propagate_deletes = true
    blocked_alarm     = true
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => { a = sort(s.Action), r = sort(s.Resource) }
      if contains(["KmsVerifySignatures", "EcrDeleteDestinationTags"], s.Sid)
      }) == jsonencode({
      KmsVerifySignatures      = { a = ["kms:GetPublicKey"], r = ["arn:aws:kms:us-east-1:222222222222:key/0f0f0f0f-1111-2222-3333-444444444444"] }
      EcrDeleteDestinationTags = { a = ["ecr:BatchDeleteImage", "ecr:ListImages"], r = ["arn:aws:ecr:eu-west-1:222222222222:repository/mirror/app", "arn:aws:ecr:eu-west-1:222222222222:repository/mirror/team/*"] }
    })
    error_message = "kms:GetPublicKey on the named KMS key only; BatchDeleteImage and ListImages on the destination repositories only."
  }
  assert {
    condition     = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset(["Logs", "EcrAuth", "EcrPushDestination", "FailureQueue", "ReconcileQueue", "AssumeSourceReader", "KmsVerifySignatures", "EcrDeleteDestinationTags"])
    error_message = "A signature gate and propagate_deletes add KmsVerifySignatures and EcrDeleteDestinationTags, nothing else."
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.source_reader[0].policy).Statement : s.Action]), "ecr:DescribeImageScanFindings") && length(aws_cloudwatch_event_rule.scan) == 0
    error_message = "Without a scan gate: no scan findings read, no scan rule."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern).detail["action-type"] == ["PUSH", "DELETE"]
    error_message = "propagate_deletes: the rule also matches deletes."
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.blocked) == 1 && aws_cloudwatch_metric_alarm.blocked[0].dimensions == tomap({ Outcome = "blocked" }) && aws_cloudwatch_metric_alarm.blocked[0].metric_name == "Syncs"
    error_message = "blocked_alarm: an alarm on Syncs{Outcome=blocked}."
  }
}

# Gates off: nothing of gates.tf.
run "gates_off" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_event_rule.scan) == 0 && length(aws_cloudwatch_event_target.scan) == 0 && length(aws_cloudwatch_metric_alarm.blocked) == 0
    error_message = "Without gates: no scan rule, target or blocked alarm."
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this.event_pattern).detail["action-type"] == ["PUSH"] && !can(jsondecode(aws_lambda_function.this.environment[0].variables.ECRSYNC_CONFIG).rules[0].require)
    error_message = "Without gates: PUSH only, and the config's rule requires nothing."
  }
}

run "ephemeral_storage_default" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.ephemeral_storage[0].size == 512
    error_message = "The function's /tmp is 512 MB by default."
  }
}

run "ephemeral_storage" {
  command = plan

  variables {
    ephemeral_storage = 10240
  }

  assert {
    condition     = aws_lambda_function.this.ephemeral_storage[0].size == 10240
    error_message = "ephemeral_storage is the size of the function's /tmp."
  }
}

run "ephemeral_storage_out_of_range_fails" {
  command = plan

  variables {
    ephemeral_storage = 256
  }

  expect_failures = [var.ephemeral_storage]
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
      Effect    = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sts:AssumeRole"
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
      Sid       = "EventBridgeDeadLetter", Effect = "Allow", Principal = { Service = "events.amazonaws.com" }, Action = "sqs:SendMessage"
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
    # try: a null filename is a failed assertion, not an error in the functions.
    condition     = try(endswith(aws_lambda_function.this.filename, "/package/ecrsync-lambda-arm64.zip") && aws_lambda_function.this.source_code_hash == filebase64sha256(aws_lambda_function.this.filename), false) && aws_lambda_function.this.s3_bucket == null
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
