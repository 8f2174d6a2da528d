# Car-telemetry lakehouse:
#   landing (JSON) --S3 event--> ingestion Lambda --> bronze (Parquet, car_data/)
#   bronze --hourly Glue job (bookmarks)--> silver (car_telemetry/, one row per car and day)
#   the job registers silver's (and quarantine's) partitions and columns in the Glue Data
#   Catalog as it commits; a crawler catalogs bronze --> Athena workgroup
# The old design's per-file cleansing Lambda and its bronze trigger are intentionally absent:
# the consolidation job replaces them (see README.md, "Migrating from the cleansing Lambda").

locals {
  name_prefix   = "${var.project}-${var.environment}"
  database_name = coalesce(var.database_name, replace("${var.project}_${var.environment}", "-", "_"))

  # Lake layout, fixed by the data contract (docs/DESIGN.md §3-§4) and shared by the Lambda's
  # environment, the job's arguments, both IAM roles and the crawlers.
  # Rejected input goes to <quarantine_prefix>/ in bronze (Lambda) and rejected rows to
  # <quarantine_prefix>/<silver_prefix>/ in silver (job): outside both crawled table paths.
  bronze_prefix     = "car_data"
  silver_prefix     = "car_telemetry"
  quarantine_prefix = "quarantine"

  # Versioning where data lives (bronze, silver, the deployed script); transient buckets
  # expire their objects instead.
  buckets = {
    landing = {
      versioning      = false
      expiration_days = var.landing_expiration_days
    }
    bronze = {
      versioning                         = true
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
    }
    silver = {
      versioning                         = true
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
    }
    glue-scripts = {
      versioning                         = true
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
    }
    glue-temp = {
      versioning      = false
      expiration_days = var.glue_temp_expiration_days
    }
    athena-results = {
      versioning      = false
      expiration_days = var.athena_results_expiration_days
    }
  }
}

# The AWS SDK for pandas layer of the pinned release, looked up in the deployment region (a
# function can only use a layer of its own region). The parameter is public; its value is a
# layer ARN, not a secret, hence insecure_value.
data "aws_ssm_parameter" "aws_sdk_pandas_layer" {
  count = var.aws_sdk_pandas_layer_arn == null ? 1 : 0

  name = "/aws/service/aws-sdk-pandas/${var.aws_sdk_pandas_version}/py3.12/x86_64/layer-arn"
}

locals {
  aws_sdk_pandas_layer_arn = coalesce(var.aws_sdk_pandas_layer_arn, one(data.aws_ssm_parameter.aws_sdk_pandas_layer[*].insecure_value))
}

module "storage" {
  source = "./modules/storage"

  name_prefix   = local.name_prefix
  buckets       = local.buckets
  kms_key_arn   = var.s3_kms_key_arn
  force_destroy = var.force_destroy
}

module "encryption" {
  source = "./modules/encryption"

  name_prefix    = local.name_prefix
  s3_kms_key_arn = var.s3_kms_key_arn
}

module "ingestion" {
  source = "./modules/ingestion"

  function_name       = "${local.name_prefix}-ingestion"
  source_dir          = "${path.root}/../lambdas/ingestion"
  package_output_path = "${path.root}/build/ingestion-lambda.zip"
  handler             = "handler.lambda_handler"
  memory_size         = var.lambda_memory_size
  timeout             = var.lambda_timeout
  layer_arns          = [local.aws_sdk_pandas_layer_arn]

  landing_bucket_name = module.storage.bucket_names["landing"]
  bronze_bucket_name  = module.storage.bucket_names["bronze"]
  bronze_prefix       = local.bronze_prefix
  quarantine_prefix   = local.quarantine_prefix

  s3_kms_key_arn               = var.s3_kms_key_arn
  logs_kms_key_arn             = module.encryption.kms_key_arn
  log_retention_days           = var.log_retention_days
  maximum_retry_attempts       = var.lambda_maximum_retry_attempts
  maximum_event_age_in_seconds = var.lambda_maximum_event_age_in_seconds
  alarm_topic_arn              = module.monitoring.sns_topic_arn
}

module "consolidation_job" {
  source = "./modules/consolidation_job"

  job_name            = "${local.name_prefix}-silver-consolidation"
  script_path         = "${path.root}/../glue_jobs/silver_consolidation_job.py"
  package_dir         = "${path.root}/../glue_jobs/silver_job"
  package_output_path = "${path.root}/build/silver-job-package.zip"

  scripts_bucket_name = module.storage.bucket_names["glue-scripts"]
  temp_bucket_name    = module.storage.bucket_names["glue-temp"]
  bronze_bucket_name  = module.storage.bucket_names["bronze"]
  silver_bucket_name  = module.storage.bucket_names["silver"]
  bronze_prefix       = local.bronze_prefix
  silver_prefix       = local.silver_prefix
  quarantine_prefix   = local.quarantine_prefix
  source_timezone     = var.source_timezone

  glue_version      = var.glue_version
  worker_type       = var.glue_worker_type
  number_of_workers = var.glue_number_of_workers
  timeout_minutes   = var.glue_timeout_minutes
  max_retries       = var.glue_max_retries
  execution_class   = var.glue_execution_class
  schedule          = var.glue_job_schedule
  schedule_enabled  = var.glue_job_schedule_enabled

  database_name               = local.database_name
  silver_table_name           = var.silver_table_name
  quarantine_table_name       = var.quarantine_table_name
  security_configuration_name = module.encryption.glue_job_security_configuration_name
  kms_key_arn                 = module.encryption.kms_key_arn
  s3_kms_key_arn              = var.s3_kms_key_arn
  log_retention_days          = var.log_retention_days
}

module "catalog" {
  source = "./modules/catalog"

  name_prefix   = local.name_prefix
  database_name = local.database_name

  bronze_bucket_name      = module.storage.bucket_names["bronze"]
  bronze_prefix           = local.bronze_prefix
  bronze_table_name       = var.bronze_table_name
  bronze_crawler_schedule = var.bronze_crawler_schedule
  silver_bucket_name      = module.storage.bucket_names["silver"]
  silver_prefix           = local.silver_prefix
  silver_table_name       = var.silver_table_name
  silver_crawler_enabled  = var.silver_crawler_enabled
  silver_crawler_schedule = var.silver_crawler_schedule
  quarantine_prefix       = "${local.quarantine_prefix}/${local.silver_prefix}"
  quarantine_table_name   = var.quarantine_table_name

  athena_results_bucket_name     = module.storage.bucket_names["athena-results"]
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff_per_query
  duplicates_check_query_path    = "${path.root}/queries/silver_duplicates_check.sql"

  security_configuration_name = module.encryption.glue_security_configuration_name
  kms_key_arn                 = module.encryption.kms_key_arn
  s3_kms_key_arn              = var.s3_kms_key_arn
  log_retention_days          = var.log_retention_days
  force_destroy               = var.force_destroy
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix          = local.name_prefix
  job_name             = module.consolidation_job.glue_job_name
  job_log_group_name   = module.consolidation_job.cloudwatch_log_group_names["output"]
  crawler_names        = values(module.catalog.glue_crawler_names)
  lambda_function_name = module.ingestion.lambda_function_name

  kms_key_arn           = module.encryption.kms_key_arn
  alert_email           = var.alert_email
  freshness_hours       = var.freshness_hours
  reject_rate_threshold = var.reject_rate_threshold
}
