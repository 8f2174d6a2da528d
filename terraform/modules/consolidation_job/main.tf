# Silver consolidation: the hourly Glue job that folds new bronze files into the deduplicated
# silver table, with its script, schedule, least-privilege role, log groups and failure alert.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  scripts_bucket_arn = "arn:${local.partition}:s3:::${var.scripts_bucket_name}"
  temp_bucket_arn    = "arn:${local.partition}:s3:::${var.temp_bucket_name}"
  bronze_bucket_arn  = "arn:${local.partition}:s3:::${var.bronze_bucket_name}"
  silver_bucket_arn  = "arn:${local.partition}:s3:::${var.silver_bucket_name}"

  # Everything the job keeps in the temp bucket lives under its own name.
  temp_prefix = var.job_name
  script_key  = "${var.job_name}/${basename(var.script_path)}"
  # The package's modules sit under a folder of the package's name inside the zip, so that the
  # zip on Glue's sys.path (--extra-py-files) makes `import silver_job` work.
  package_name = basename(var.package_dir)
  package_key  = "${var.job_name}/${local.package_name}.zip"
  role_name    = "${var.job_name}-glue"

  silver_quarantine_prefix = "${var.quarantine_prefix}/${var.silver_prefix}"
  # The commit protocol of the job stages each run under _commits/<silver_prefix>/ (files,
  # <run_id>.json manifest, <run_id>.done marker) before replacing the table's files.
  commit_parent = "_commits"
  commit_prefix = "${local.commit_parent}/${var.silver_prefix}"

  # Glue 5 writes the script's stdout/stderr to <prefix>/output and its own logs to
  # <prefix>/error (AWS Glue developer guide, "Logging for AWS Glue jobs", Glue 5.0 behaviour
  # and --custom-logGroup-prefix); a prefix of our own makes both names known in advance.
  log_group_prefix = "/aws-glue/jobs/${var.job_name}"

  # Every Data Catalog action needs the table, its database and the catalog (AWS Glue
  # developer guide, "Specifying AWS Glue resource ARNs").
  catalog_arns = [
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.database_name}",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.database_name}/${var.silver_table_name}",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.database_name}/${var.quarantine_table_name}",
  ]
}

# etag makes every edit of the script a new upload. An SSE-KMS object's ETag is not the MD5 of
# its content, so with a bucket KMS key source_hash takes over (no perpetual diff).
resource "aws_s3_object" "script" {
  bucket      = var.scripts_bucket_name
  key         = local.script_key
  source      = var.script_path
  etag        = var.s3_kms_key_arn == null ? filemd5(var.script_path) : null
  source_hash = var.s3_kms_key_arn == null ? null : filemd5(var.script_path)

  content_type = "text/x-python"
  tags         = var.tags
}

data "archive_file" "package" {
  type        = "zip"
  output_path = var.package_output_path

  dynamic "source" {
    for_each = fileset(var.package_dir, "*.py")
    content {
      content  = file("${var.package_dir}/${source.value}")
      filename = "${local.package_name}/${source.value}"
    }
  }
}

resource "aws_s3_object" "package" {
  bucket      = var.scripts_bucket_name
  key         = local.package_key
  source      = data.archive_file.package.output_path
  etag        = var.s3_kms_key_arn == null ? data.archive_file.package.output_md5 : null
  source_hash = var.s3_kms_key_arn == null ? null : data.archive_file.package.output_md5

  content_type = "application/zip"
  tags         = var.tags
}

# --- IAM: one document per concern -------------------------------------------------------------

data "aws_iam_policy_document" "assume_role" {
  statement {
    sid     = "GlueAssumesRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.role_name
  description        = "Role of the ${var.job_name} Glue job: bronze -> silver, nothing else."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "read_script" {
  statement {
    sid     = "ReadOwnScriptAndPackage"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.scripts_bucket_arn}/${local.script_key}",
      "${local.scripts_bucket_arn}/${local.package_key}",
    ]
  }
}

# Hadoop's S3 clients (EMRFS on Glue, S3A) treat a prefix as a directory: before listing or
# writing under <dir> they HEAD the bare key <dir>, HEAD <dir>/ and <dir>_$folder$, and list with
# prefix <dir> and <dir>/; they create and clean up those marker objects for the directories
# they make, parents included. S3 answers a HEAD the role may not GetObject with 403, not 404,
# and Spark fails on it, so every probed key is granted; objects are read and written only
# below the directories. tests/test_iam_behaviour.py replays these requests against the policy.
data "aws_iam_policy_document" "read_bronze" {
  statement {
    sid       = "ListBronzeTable"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bronze_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.bronze_prefix, "${var.bronze_prefix}/*"]
    }
  }

  # S3A may look a bucket's region up before its first request (AWSGlueServiceRole grants
  # s3:GetBucketLocation on every bucket; here only the job's own).
  statement {
    sid       = "LocateBronzeBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bronze_bucket_arn]
  }

  statement {
    sid     = "ReadBronzeTable"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bronze_bucket_arn}/${var.bronze_prefix}",
      "${local.bronze_bucket_arn}/${var.bronze_prefix}/*",
      "${local.bronze_bucket_arn}/${var.bronze_prefix}_$folder$",
    ]
  }
}

# Three directories in the silver bucket: the table, its quarantine and the commit protocol's
# staging (manifests, done markers and staged files of each run). Spark's own _temporary/ and
# .spark-staging-* folders live inside the directories it writes.
data "aws_iam_policy_document" "write_silver" {
  statement {
    sid       = "ListSilverDirectories"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.silver_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        var.silver_prefix,
        "${var.silver_prefix}/*",
        var.quarantine_prefix,
        "${var.quarantine_prefix}/",
        local.silver_quarantine_prefix,
        "${local.silver_quarantine_prefix}/*",
        local.commit_parent,
        "${local.commit_parent}/",
        local.commit_prefix,
        "${local.commit_prefix}/*",
      ]
    }
  }

  # The bucket's region, and the pending multipart uploads S3A lists to clean up after a failed
  # upload (a bucket-level action: it cannot be narrowed to a prefix).
  statement {
    sid    = "LocateSilverBucketAndItsUploads"
    effect = "Allow"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [local.silver_bucket_arn]
  }

  statement {
    sid     = "ProbeSilverDirectories"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.silver_bucket_arn}/${var.silver_prefix}",
      "${local.silver_bucket_arn}/${var.quarantine_prefix}",
      "${local.silver_bucket_arn}/${local.silver_quarantine_prefix}",
      "${local.silver_bucket_arn}/${local.commit_parent}",
      "${local.silver_bucket_arn}/${local.commit_prefix}",
    ]
  }

  # AbortMultipartUpload and ListMultipartUploadParts: S3A writes large files as multipart
  # uploads and aborts one that failed (Hadoop's "assumed_roles.md" lists them for write access).
  statement {
    sid    = "ReadWriteSilverDirectories"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = [
      "${local.silver_bucket_arn}/${var.silver_prefix}/*",
      "${local.silver_bucket_arn}/${var.silver_prefix}_$folder$",
      "${local.silver_bucket_arn}/${local.silver_quarantine_prefix}/*",
      "${local.silver_bucket_arn}/${local.silver_quarantine_prefix}_$folder$",
      "${local.silver_bucket_arn}/${local.commit_prefix}/*",
      "${local.silver_bucket_arn}/${local.commit_prefix}_$folder$",
      # the parents' directory markers only, nothing below them
      "${local.silver_bucket_arn}/${var.quarantine_prefix}/",
      "${local.silver_bucket_arn}/${var.quarantine_prefix}_$folder$",
      "${local.silver_bucket_arn}/${local.commit_parent}/",
      "${local.silver_bucket_arn}/${local.commit_parent}_$folder$",
    ]
  }
}

data "aws_iam_policy_document" "use_temp_dir" {
  statement {
    sid       = "ListOwnTempPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.temp_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.temp_prefix, "${local.temp_prefix}/*"]
    }
  }

  statement {
    sid    = "LocateTempBucketAndItsUploads"
    effect = "Allow"
    actions = [
      "s3:GetBucketLocation",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [local.temp_bucket_arn]
  }

  statement {
    sid       = "ProbeOwnTempPrefix"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${local.temp_bucket_arn}/${local.temp_prefix}"]
  }

  statement {
    sid    = "ReadWriteOwnTempPrefix"
    effect = "Allow"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = [
      "${local.temp_bucket_arn}/${local.temp_prefix}/*",
      "${local.temp_bucket_arn}/${local.temp_prefix}_$folder$",
    ]
  }
}

# The job keeps its two catalog tables (silver_job/catalog.py): reads a table and the partitions
# it is about to register, appends columns (UpdateTable), registers partitions. Nothing else of
# the catalog: no other table, no deletes, no table creation (Terraform creates both).
data "aws_iam_policy_document" "keep_catalog" {
  statement {
    sid    = "KeepOwnTwoTables"
    effect = "Allow"
    actions = [
      "glue:BatchCreatePartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:UpdateTable",
    ]
    resources = local.catalog_arns
  }
}

# Glue writes the run's streams into the two groups below (their names are those Glue 5
# documents for --custom-logGroup-prefix, as the job's security configuration does not encrypt
# CloudWatch Logs; the groups are encrypted by their own KMS key). CreateLogGroup: Glue may ask
# for the group first (it exists: a no-op).
data "aws_iam_policy_document" "write_logs" {
  statement {
    sid    = "WriteOwnLogStreams"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [for group in aws_cloudwatch_log_group.this : "${group.arn}:*"]
  }

  statement {
    sid       = "EnsureOwnLogGroups"
    effect    = "Allow"
    actions   = ["logs:CreateLogGroup"]
    resources = [for group in aws_cloudwatch_log_group.this : group.arn]
  }
}

# PutMetricData has no resource-level permissions; the namespace condition scopes it.
data "aws_iam_policy_document" "put_metrics" {
  statement {
    sid       = "PublishGlueMetrics"
    effect    = "Allow"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

# Job bookmarks are client-side encrypted (CSE-KMS) by the job itself.
data "aws_iam_policy_document" "use_lake_key" {
  statement {
    sid    = "EncryptJobBookmarks"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:Encrypt",
      "kms:GenerateDataKey",
    ]
    resources = [var.kms_key_arn]
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
      read-script  = data.aws_iam_policy_document.read_script.json
      read-bronze  = data.aws_iam_policy_document.read_bronze.json
      write-silver = data.aws_iam_policy_document.write_silver.json
      use-temp-dir = data.aws_iam_policy_document.use_temp_dir.json
      keep-catalog = data.aws_iam_policy_document.keep_catalog.json
      write-logs   = data.aws_iam_policy_document.write_logs.json
      put-metrics  = data.aws_iam_policy_document.put_metrics.json
      use-lake-key = data.aws_iam_policy_document.use_lake_key.json
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

# --- Logs --------------------------------------------------------------------------------------

# Created here (with a retention and the lake key) instead of by Glue on the first run, under
# the names that --custom-logGroup-prefix gives them in Glue 5. The job's security
# configuration leaves CloudWatch encryption out (a configuration that encrypts logs makes Glue
# use names it documents only for older versions); kms_key_id encrypts the groups instead.
resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["output", "error"])

  #checkov:skip=CKV_AWS_338:Operational Spark logs: 14 days (variable) covers incident response; the durable record of each run is its output in S3 and the job-run history in Glue.
  name              = "${local.log_group_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- Job and schedule --------------------------------------------------------------------------

# - max_concurrent_runs = 1: two overlapping runs would read the same bookmark state and race
#   on the same silver partitions.
# - default_arguments: first Glue's special parameters, then the script's own arguments, which
#   are GLUE_REQUIRED_ARGS without JOB_NAME (Glue supplies it) plus GLUE_OPTIONAL_ARGS, set
#   here so that a single run can override them with --arguments
#   (tests/test_terraform_contract.py keeps this in step with the script).
# - depends_on: the first run writes into the log groups as the job role, so the role's
#   policies and the groups must exist by then.
resource "aws_glue_job" "this" {
  name                   = var.job_name
  description            = "Bronze -> silver: new bronze files only (bookmark), one row per car and day, dynamic partition overwrite."
  role_arn               = aws_iam_role.this.arn
  glue_version           = var.glue_version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  max_retries            = var.max_retries
  execution_class        = var.execution_class
  security_configuration = var.security_configuration_name

  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = "s3://${aws_s3_object.script.bucket}/${aws_s3_object.script.key}"
  }

  execution_property {
    max_concurrent_runs = 1
  }

  default_arguments = {
    "--job-language"                 = "python"
    "--job-bookmark-option"          = "job-bookmark-enable"
    "--enable-metrics"               = "true"
    "--enable-observability-metrics" = "true"
    "--enable-auto-scaling"          = "true"
    "--enable-spark-ui"              = "true"
    "--spark-event-logs-path"        = "s3://${var.temp_bucket_name}/${local.temp_prefix}/spark-event-logs/"
    "--TempDir"                      = "s3://${var.temp_bucket_name}/${local.temp_prefix}/temporary/"
    "--custom-logGroup-prefix"       = local.log_group_prefix
    "--extra-py-files"               = "s3://${aws_s3_object.package.bucket}/${aws_s3_object.package.key}"

    "--bronze_path"     = "s3://${var.bronze_bucket_name}/${var.bronze_prefix}/"
    "--silver_path"     = "s3://${var.silver_bucket_name}/${var.silver_prefix}/"
    "--quarantine_path" = "s3://${var.silver_bucket_name}/${local.silver_quarantine_prefix}/"
    "--full_refresh"    = "false"
    "--source_timezone" = var.source_timezone
    # the catalog tables the job keeps (partitions and columns) as a step of its commit
    "--catalog_database" = var.database_name
    "--silver_table"     = var.silver_table_name
    "--quarantine_table" = var.quarantine_table_name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this, aws_cloudwatch_log_group.this]
}

resource "aws_glue_trigger" "schedule" {
  name        = "${var.job_name}-schedule"
  description = "Runs ${var.job_name} on ${var.schedule} (UTC)."
  type        = "SCHEDULED"
  schedule    = var.schedule
  enabled     = var.schedule_enabled

  actions {
    job_name = aws_glue_job.this.name
  }

  tags = var.tags
}
