# Catalog and query layer: the Glue database, one crawler per table, and the Athena workgroup
# with the saved one-row-per-car-day check.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  crawler_role_name = "${var.name_prefix}-glue-crawler"
  bronze_bucket_arn = "arn:${local.partition}:s3:::${var.bronze_bucket_name}"
  silver_bucket_arn = "arn:${local.partition}:s3:::${var.silver_bucket_name}"

  crawlers = {
    bronze = {
      bucket_name = var.bronze_bucket_name
      prefix      = var.bronze_prefix
      table_name  = var.bronze_table_name
      schedule    = var.bronze_crawler_schedule
      description = "Bronze Parquet written by the ingestion Lambda (partitioned by ingest date)."
      # Nothing but the Lambda's Parquet lives under the bronze prefix.
      exclusions = []
      # The crawler creates the bronze table and its partition index.
      create_partition_index = true
    }
    silver = {
      bucket_name = var.silver_bucket_name
      prefix      = var.silver_prefix
      table_name  = var.silver_table_name
      schedule    = var.silver_crawler_schedule
      description = "Silver table written by the consolidation job (partitioned by event date)."
      # Never catalog what is not table data: Spark's staging folders and success markers,
      # Hadoop checksum files, the directory markers of Glue's S3 file system, and the job's
      # commit staging (which lives outside the table path; excluded in case it ever moves in).
      exclusions = [
        "_commits/**",
        "_temporary/**",
        "**/_temporary/**",
        ".spark-staging*/**",
        "**/.spark-staging*/**",
        "**/_SUCCESS",
        "**.crc",
        "**_$folder$",
      ]
      # The table and its partition index are defined below (aws_glue_catalog_table.silver).
      create_partition_index = false
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "Car-telemetry lakehouse: ${var.bronze_table_name} (bronze) and ${var.silver_table_name} (silver)."

  tags = var.tags
}

# --- Crawler role ------------------------------------------------------------------------------

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

resource "aws_iam_role" "crawler" {
  name               = local.crawler_role_name
  description        = "Role of the ${var.name_prefix} crawlers: read the two table prefixes, maintain the two tables."
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = var.tags
}

# Written out per table (no dynamic blocks) so that the rendered policy can be replayed offline
# (tests/test_iam_behaviour.py). Crawlers look up each target bucket's region first
# (AWSGlueServiceRole grants s3:GetBucketLocation on every bucket; here only the two crawled).
data "aws_iam_policy_document" "read_tables" {
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

  statement {
    sid       = "ListSilverTable"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.silver_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.silver_prefix, "${var.silver_prefix}/*"]
    }
  }

  statement {
    sid     = "ReadTableObjects"
    effect  = "Allow"
    actions = ["s3:GetObject"]
    resources = [
      "${local.bronze_bucket_arn}/${var.bronze_prefix}/*",
      "${local.silver_bucket_arn}/${var.silver_prefix}/*",
    ]
  }

  statement {
    sid       = "LocateCrawledBuckets"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.bronze_bucket_arn, local.silver_bucket_arn]
  }
}

# Create/update the two tables and add/update their partitions. No delete actions: both
# crawlers only LOG deletions (see schema_change_policy below).
data "aws_iam_policy_document" "maintain_tables" {
  statement {
    sid    = "MaintainOwnTables"
    effect = "Allow"
    actions = [
      "glue:BatchCreatePartition",
      "glue:BatchGetPartition",
      "glue:BatchUpdatePartition",
      "glue:CreatePartition",
      "glue:CreatePartitionIndex",
      "glue:CreateTable",
      "glue:GetDatabase",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:GetTable",
      "glue:GetTables",
      "glue:UpdatePartition",
      "glue:UpdateTable",
    ]
    resources = concat(
      [
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
        "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.database_name}",
      ],
      [for crawler in values(local.crawlers) : "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.database_name}/${crawler.table_name}"],
    )
  }
}

# The security configuration makes Glue create (idempotently) the crawler log group and
# associate the KMS key with it as this role.
data "aws_iam_policy_document" "write_logs" {
  statement {
    sid    = "WriteOwnEncryptedLogGroup"
    effect = "Allow"
    actions = [
      "logs:AssociateKmsKey",
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [
      aws_cloudwatch_log_group.crawlers.arn,
      "${aws_cloudwatch_log_group.crawlers.arn}:*",
    ]
  }
}

# What Glue's security-configuration setup asks of the roles passed to crawlers (their
# CloudWatch Logs are encrypted with the lake key).
data "aws_iam_policy_document" "use_lake_key" {
  statement {
    sid    = "UseLakeKeyForEncryptedLogs"
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
    sid       = "DecryptTableObjects"
    effect    = "Allow"
    actions   = ["kms:Decrypt"]
    resources = [var.s3_kms_key_arn]
  }
}

locals {
  crawler_role_policies = merge(
    {
      read-tables     = data.aws_iam_policy_document.read_tables.json
      maintain-tables = data.aws_iam_policy_document.maintain_tables.json
      write-logs      = data.aws_iam_policy_document.write_logs.json
      use-lake-key    = data.aws_iam_policy_document.use_lake_key.json
    },
    var.s3_kms_key_arn == null ? {} : { use-bucket-key = data.aws_iam_policy_document.use_bucket_key[0].json },
  )
}

resource "aws_iam_role_policy" "crawler" {
  for_each = local.crawler_role_policies

  name   = each.key
  role   = aws_iam_role.crawler.id
  policy = each.value
}

# With a security configuration, crawler logs go to /aws-glue/crawlers-role/<role>-<config>
# instead of /aws-glue/crawlers; created here to get a retention and the KMS key.
resource "aws_cloudwatch_log_group" "crawlers" {
  #checkov:skip=CKV_AWS_338:Crawler run logs are operational only: 14 days (variable) covers investigating a failed crawl.
  name              = "/aws-glue/crawlers-role/${local.crawler_role_name}-${var.security_configuration_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# --- Crawlers ----------------------------------------------------------------------------------

# Naming: a crawler names a table after the folder it sits in (car_data, car_telemetry); the
# table prefix supplies the rest, so the tables are exactly bronze_car_data and
# silver_car_telemetry (or whatever the table-name variables say; the precondition checks they
# end with the folder name).
#
# Policies: both tables change in place (new partitions every day; new columns when the
# producer adds fields, which the data contract keeps). UPDATE_IN_DATABASE lets crawls add
# those columns, and it requires CRAWL_EVERYTHING (incremental crawls may only LOG schema
# changes). Deletions are only logged: a partition that vanishes mid-rewrite (or an emptied
# prefix) must never drop a table or partitions Athena users depend on.
#
# Configuration:
# - Grouping.CombineCompatibleSchemas: files whose schemas differ (a producer added a field)
#   still form one table at the include path, instead of the crawler splitting partitions off
#   into tables of their own: always exactly one table per prefix.
# - Tables.MergeNewColumns: a crawl only adds columns, it never drops one or changes a type.
#   Crawlers declare Hive-style partition keys (event_year=2025/event_month=01/...) as string,
#   and this keeps them string: the zero-padded values '01'..'31' that the job writes and that
#   queries filter on (event_day = '29') are never re-typed as numbers.
# - Partitions.InheritFromTable: partitions take the table's schema instead of each keeping the
#   one inferred from its own files, so a partition whose files lack an optional column cannot
#   disagree with the table (HIVE_PARTITION_SCHEMA_MISMATCH in Athena).
# - CreatePartitionIndex: the bronze crawler creates its table's partition index; silver's is
#   part of the table defined below.
resource "aws_glue_crawler" "this" {
  for_each = local.crawlers

  name                   = "${var.name_prefix}-${each.key}"
  description            = each.value.description
  database_name          = aws_glue_catalog_database.this.name
  role                   = aws_iam_role.crawler.arn
  schedule               = each.value.schedule
  security_configuration = var.security_configuration_name

  table_prefix = trimsuffix(each.value.table_name, basename(each.value.prefix))

  s3_target {
    path       = "s3://${each.value.bucket_name}/${each.value.prefix}/"
    exclusions = each.value.exclusions
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }

  schema_change_policy {
    update_behavior = "UPDATE_IN_DATABASE"
    delete_behavior = "LOG"
  }

  configuration = jsonencode({
    Version = 1.0
    Grouping = {
      TableGroupingPolicy = "CombineCompatibleSchemas"
    }
    CrawlerOutput = {
      Tables     = { AddOrUpdateBehavior = "MergeNewColumns" }
      Partitions = { AddOrUpdateBehavior = "InheritFromTable" }
    }
    CreatePartitionIndex = each.value.create_partition_index
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = endswith(each.value.table_name, basename(each.value.prefix))
      error_message = "The ${each.key} table name (${each.value.table_name}) must end with the last folder of its prefix (${basename(each.value.prefix)}): a crawler names tables after their folder."
    }
  }

  depends_on = [aws_iam_role_policy.crawler, aws_cloudwatch_log_group.crawlers, aws_glue_catalog_table.silver]
}

# Athena uses a table's partition index only when the table has partition_filtering.enabled,
# which crawlers never set on the tables they create (AWS Glue developer guide, "Generating
# partition indexes"; Athena user guide, "Optimize queries with AWS Glue partition indexing and
# filtering"). So the silver table is defined here, with the index and the property, and the
# silver crawler (same name, same location) only adds partitions and merges new columns into
# it. Partition projection was the alternative; it would make Athena ignore the crawled
# partitions and duplicate the layout (zero-padded strings) in table properties, for a table
# whose partitions the crawler already maintains. The crawler's own table properties and
# columns are its to change, hence ignore_changes.
resource "aws_glue_catalog_table" "silver" {
  name          = var.silver_table_name
  database_name = aws_glue_catalog_database.this.name
  description   = "Silver: one row per car and day, partitioned by event date (columns maintained by the ${var.name_prefix}-silver crawler)."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "classification"              = "parquet"
    "partition_filtering.enabled" = "true"
  }

  partition_keys {
    name = "event_year"
    type = "string"
  }
  partition_keys {
    name = "event_month"
    type = "string"
  }
  partition_keys {
    name = "event_day"
    type = "string"
  }

  partition_index {
    index_name = "event_date"
    keys       = ["event_year", "event_month", "event_day"]
  }

  storage_descriptor {
    location      = "s3://${var.silver_bucket_name}/${var.silver_prefix}/"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }
  }

  lifecycle {
    ignore_changes = [parameters, storage_descriptor]
  }
}

# The silver crawl follows each successful job run instead of a fixed minute of the hour, so it
# never crawls while a (slow) run is replacing partitions. silver_crawler_schedule stays
# available for an extra scheduled crawl.
resource "aws_glue_trigger" "crawl_silver_after_job" {
  count = var.silver_crawl_after_job_name == null ? 0 : 1

  name        = "${var.name_prefix}-silver-crawl-after-job"
  description = "Crawls ${var.silver_table_name} after each successful run of ${var.silver_crawl_after_job_name}."
  type        = "CONDITIONAL"

  predicate {
    conditions {
      job_name         = var.silver_crawl_after_job_name
      logical_operator = "EQUALS"
      state            = "SUCCEEDED"
    }
  }

  actions {
    crawler_name = aws_glue_crawler.this["silver"].name
  }

  tags = var.tags
}

# --- Athena ------------------------------------------------------------------------------------

# Enforced configuration: clients cannot override the result location, its encryption or the
# bytes-scanned cutoff.
resource "aws_athena_workgroup" "this" {
  name          = var.name_prefix
  description   = "Queries on the ${var.database_name} lake; results encrypted in the results bucket, scans capped."
  force_destroy = var.force_destroy

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.athena_results_bucket_name}/${var.athena_results_prefix}/"
      expected_bucket_owner = local.account_id

      encryption_configuration {
        encryption_option = var.s3_kms_key_arn == null ? "SSE_S3" : "SSE_KMS"
        kms_key_arn       = var.s3_kms_key_arn
      }
    }
  }

  tags = var.tags
}

resource "aws_athena_named_query" "silver_duplicates_check" {
  name        = "${var.name_prefix}-silver-duplicates-check"
  description = "One row per car and day in ${var.silver_table_name}: returns every (car, day) with more than one row; empty means the guarantee holds."
  workgroup   = aws_athena_workgroup.this.id
  database    = aws_glue_catalog_database.this.name
  query = templatefile(var.duplicates_check_query_path, {
    database = aws_glue_catalog_database.this.name
    table    = var.silver_table_name
  })
}
