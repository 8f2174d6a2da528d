# Ingestion: S3 ObjectCreated (*.json) on the landing bucket -> this Lambda -> bronze Parquet.
# Failed events (after Lambda's own retries) land in an SQS queue instead of disappearing.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id         = data.aws_caller_identity.current.account_id
  partition          = data.aws_partition.current.partition
  landing_bucket_arn = "arn:${local.partition}:s3:::${var.landing_bucket_name}"
  bronze_bucket_arn  = "arn:${local.partition}:s3:::${var.bronze_bucket_name}"
  # The one setting of which landing keys are ingested: scripts/local/run_local_pipeline.py
  # reads the same file, so a local run takes exactly what this notification sends.
  landing_suffix = trimspace(file("${path.module}/landing_suffix.txt"))
}

data "archive_file" "this" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = var.package_output_path
  excludes    = ["**/__pycache__", "**/__pycache__/**", "**/*.pyc"]
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Operational logs of a stateless converter: 14 days (variable) is what incident response needs; a year of debug logs is cost without an audit purpose.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

resource "aws_sqs_queue" "failures" {
  name                      = "${var.function_name}-failures"
  message_retention_seconds = var.failure_retention_seconds
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

# --- IAM: one document per concern, each scoped to the exact buckets and prefixes --------------

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "LambdaAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.function_name}-lambda"
  description        = "Execution role of the ${var.function_name} Lambda: reads landing JSON, writes bronze Parquet."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = var.tags
}

# Same suffix as the notification filter: the function can read exactly what it is invoked for.
data "aws_iam_policy_document" "read_landing" {
  statement {
    sid       = "ReadLandingObjectsThatTriggerTheFunction"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.landing_bucket_arn}/*${local.landing_suffix}"]
  }
}

data "aws_iam_policy_document" "write_bronze" {
  statement {
    sid     = "WriteBronzeAndQuarantine"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${local.bronze_bucket_arn}/${var.bronze_prefix}/*",
      "${local.bronze_bucket_arn}/${var.quarantine_prefix}/*",
    ]
  }
}

data "aws_iam_policy_document" "send_failures" {
  statement {
    sid       = "SendFailedEventsToQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }
}

# No logs:CreateLogGroup: the group is created above, with its retention and encryption.
data "aws_iam_policy_document" "write_logs" {
  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

data "aws_iam_policy_document" "use_bucket_key" {
  count = var.s3_kms_key_arn == null ? 0 : 1

  statement {
    sid    = "UseBucketKmsKey"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = [var.s3_kms_key_arn]
  }
}

locals {
  role_policies = merge(
    {
      read-landing  = data.aws_iam_policy_document.read_landing.json
      write-bronze  = data.aws_iam_policy_document.write_bronze.json
      send-failures = data.aws_iam_policy_document.send_failures.json
      write-logs    = data.aws_iam_policy_document.write_logs.json
    },
    var.s3_kms_key_arn == null ? {} : { use-bucket-key = data.aws_iam_policy_document.use_bucket_key[0].json },
  )
}

resource "aws_iam_role_policy" "this" {
  for_each = local.role_policies

  name   = each.key
  role   = aws_iam_role.this.id
  policy = each.value
}

# --- Function ----------------------------------------------------------------------------------

# depends_on: the first invocation must find its permissions in place, not race their
# attachment. The log group is referenced (logging_config), so it exists before the function
# and Lambda never creates a never-expiring one itself.
resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the SQS on-failure destination (aws_lambda_function_event_invoke_config below), which records more context than a DLQ.
  #checkov:skip=CKV_AWS_117:The function only calls S3 and SQS public endpoints; a VPC would add NAT or endpoints and cold-start cost without protecting anything.
  #checkov:skip=CKV_AWS_115:Concurrency is left unreserved on purpose: landing arrivals are bursty, reserving would take capacity from the account's other functions, and throttled S3 events are retried by Lambda's async queue.
  #checkov:skip=CKV_AWS_173:The environment holds only a bucket name and two prefixes, no secrets; Lambda encrypts it at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:The package is built by Terraform from the reviewed repository; there is no signing profile in this deployment pipeline.
  #checkov:skip=CKV_AWS_50:X-Ray adds little to a single S3-to-S3 hop and would need xray:PutTraceSegments on "*"; the JSON logs carry the request id.
  function_name    = var.function_name
  description      = "Converts landing JSON (S3 ObjectCreated) to bronze Parquet."
  role             = aws_iam_role.this.arn
  runtime          = "python3.12"
  architectures    = ["x86_64"]
  handler          = var.handler
  filename         = data.archive_file.this.output_path
  source_code_hash = data.archive_file.this.output_base64sha256
  memory_size      = var.memory_size
  timeout          = var.timeout
  layers           = var.layer_arns

  environment {
    variables = {
      BRONZE_BUCKET     = var.bronze_bucket_name
      BRONZE_PREFIX     = var.bronze_prefix
      QUARANTINE_PREFIX = var.quarantine_prefix
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = "INFO"
    system_log_level      = "WARN"
  }

  tags = var.tags

  lifecycle {
    # CreateFunction rejects a layer of another region; say so at plan time instead.
    precondition {
      condition     = alltrue([for arn in var.layer_arns : split(":", arn)[3] == data.aws_region.current.region])
      error_message = "Every layer ARN must be in the function's region (${data.aws_region.current.region}): ${join(", ", var.layer_arns)}."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

# depends_on: Lambda checks that the execution role may send to the destination when the
# configuration is saved.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failures.arn
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

# --- Trigger -----------------------------------------------------------------------------------

resource "aws_lambda_permission" "landing" {
  statement_id   = "AllowInvokeFromLandingBucket"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.landing_bucket_arn
  source_account = local.account_id
}

# depends_on: S3 test-invokes the destination when the configuration is saved; without the
# permission in place first, apply fails with "Unable to validate the following destination
# configurations". This resource owns the landing bucket's whole notification configuration.
resource "aws_s3_bucket_notification" "landing" {
  bucket = var.landing_bucket_name

  lambda_function {
    lambda_function_arn = aws_lambda_function.this.arn
    events              = ["s3:ObjectCreated:*"]
    filter_suffix       = local.landing_suffix
  }

  depends_on = [aws_lambda_permission.landing]
}

# --- Alarm -------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "failures" {
  alarm_name          = "${var.function_name}-failed-events"
  alarm_description   = "S3 events the ingestion Lambda could not process after retries are waiting in ${aws_sqs_queue.failures.name}. Inspect, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]

  tags = var.tags
}
