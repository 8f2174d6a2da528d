# Catalog and query layer: the Glue database, the silver and quarantine tables (kept current
# by the consolidation job itself), the bronze crawler (and an optional silver crawler), and the
# Athena workgroup with the saved one-row-per-car-day check.

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

  # Both possible crawlers; local.enabled_crawlers are those that exist.
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
      # Bronze only grows by new files, and each day brings a new ingest_day folder: only
      # folders added since the last crawl are listed, so a crawl costs what arrived since the
      # last one, not the whole history. AWS forces LOG/LOG on such crawls (schema changes and
      # deletions are logged, never applied): see the README of this module.
      recrawl_behavior = "CRAWL_NEW_FOLDERS_ONLY"
      update_behavior  = "LOG"
    }
    silver = {
      bucket_name = var.silver_bucket_name
      prefix      = var.silver_prefix
      table_name  = var.silver_table_name
      schedule    = var.silver_crawler_schedule
      description = "Optional check of the silver table the consolidation job keeps (partitioned by event date)."
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
      # Off by default: the job registers partitions and columns itself. When turned on it
      # reads all of silver, and may add columns (MergeNewColumns) to the job's table.
      recrawl_behavior = "CRAWL_EVERYTHING"
      update_behavior  = "UPDATE_IN_DATABASE"
    }
  }
  enabled_crawlers = { for layer, crawler in local.crawlers : layer => crawler if layer == "bronze" || var.silver_crawler_enabled }

  # The two tables the consolidation job writes and keeps in the catalog (partitions, columns):
  # same storage and properties, each with its partition keys and their index.
  job_tables = {
    silver = {
      name           = var.silver_table_name
      prefix         = var.silver_prefix
      partition_keys = ["event_year", "event_month", "event_day"]
      index_name     = "event_date"
      description    = "Silver: one row per car and day, partitioned by event date."
    }
    quarantine = {
      name           = var.quarantine_table_name
      prefix         = var.quarantine_prefix
      partition_keys = ["ingest_year", "ingest_month", "ingest_day"]
      index_name     = "ingest_date"
      description    = "Rows the consolidation job rejected (reject_reason and their raw values), partitioned by ingest date."
    }
  }
}

resource "aws_glue_catalog_database" "this" {
  name        = var.database_name
  description = "Car-telemetry lakehouse: ${var.bronze_table_name} (bronze), ${var.silver_table_name} (silver) and ${var.quarantine_table_name} (rejected rows)."

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
  description        = "Role of the ${var.name_prefix} crawlers: read the two table prefixes, maintain the bronze table (and silver's, if its crawler is on)."
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

# Create/update the crawled tables and add/update their partitions (bronze's; silver's only when
# its crawler is on). No delete actions: the crawlers only LOG deletions (schema_change_policy).
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
      [for crawler in values(local.enabled_crawlers) : "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.database_name}/${crawler.table_name}"],
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
# Policies: bronze gains a new ingest_day folder a day and new files all day long. Its crawl
# lists only the folders added since the last crawl (CRAWL_NEW_FOLDERS_ONLY), so its cost
# follows new data; AWS then forces LOG for updates and deletions: partitions are added, schema
# changes are only logged (the job reads bronze's Parquet itself and is not affected). The
# optional silver crawl re-reads everything (UPDATE_IN_DATABASE needs CRAWL_EVERYTHING).
# Deletions are only logged: a partition that vanishes mid-rewrite (or an emptied prefix) must
# never drop a table or partitions Athena users depend on.
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
  for_each = local.enabled_crawlers

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
    recrawl_behavior = each.value.recrawl_behavior
  }

  schema_change_policy {
    update_behavior = each.value.update_behavior
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

  depends_on = [aws_iam_role_policy.crawler, aws_cloudwatch_log_group.crawlers, aws_glue_catalog_table.job]
}

# The consolidation job keeps these two tables itself, as a step of its commit: it registers the
# partitions each run writes and appends the columns its Parquet gains (GetTable, UpdateTable,
# BatchCreatePartition, GetPartitions; docs/commit-protocol.md), so Athena sees a run's data
# the moment it commits, whoever started the run. Terraform defines what the job never changes:
# location, Parquet storage, partition keys, the partition index and partition_filtering.enabled
# (Athena uses an index only with that property, which crawlers never set; Athena user guide,
# "Optimize queries with AWS Glue partition indexing and filtering"). compressionType is "none",
# what a crawler writes for Parquet (compression is inside the files), so an optional crawl
# finds nothing it would have set differently. Partition projection stays off: with it Athena
# would ignore the registered partitions. Columns and parameters change outside Terraform (the
# job, an optional crawl), hence ignore_changes.
resource "aws_glue_catalog_table" "job" {
  for_each = local.job_tables

  name          = each.value.name
  database_name = aws_glue_catalog_database.this.name
  description   = "${each.value.description} Partitions and columns kept by the consolidation job."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    "classification"              = "parquet"
    "compressionType"             = "none"
    "partition_filtering.enabled" = "true"
  }

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value
      type = "string"
    }
  }

  partition_index {
    index_name = each.value.index_name
    keys       = each.value.partition_keys
  }

  storage_descriptor {
    location      = "s3://${var.silver_bucket_name}/${each.value.prefix}/"
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
