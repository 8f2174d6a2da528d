output "s3_bucket_names" {
  description = "Every bucket of the lake, keyed by role (landing, bronze, silver, glue-scripts, glue-temp, athena-results)."
  value       = module.storage.bucket_names
}

output "landing_bucket_name" {
  description = "Bucket to upload landing JSON to (*.json triggers ingestion)."
  value       = module.storage.bucket_names["landing"]
}

output "bronze_bucket_name" {
  description = "Bronze bucket (Parquet under car_data/)."
  value       = module.storage.bucket_names["bronze"]
}

output "silver_bucket_name" {
  description = "Silver bucket (table under car_telemetry/, rejected rows under quarantine/car_telemetry/)."
  value       = module.storage.bucket_names["silver"]
}

output "glue_scripts_bucket_name" {
  description = "Bucket holding the deployed Glue script."
  value       = module.storage.bucket_names["glue-scripts"]
}

output "glue_temp_bucket_name" {
  description = "Bucket for Glue temp files and Spark UI event logs."
  value       = module.storage.bucket_names["glue-temp"]
}

output "athena_results_bucket_name" {
  description = "Bucket for Athena query results."
  value       = module.storage.bucket_names["athena-results"]
}

output "lambda_function_name" {
  description = "Name of the ingestion Lambda function."
  value       = module.ingestion.lambda_function_name
}

output "sqs_queue_arn" {
  description = "ARN of the ingestion failure queue (S3 events the Lambda failed on after retries)."
  value       = module.ingestion.sqs_queue_arn
}

output "glue_job_name" {
  description = "Name of the silver consolidation Glue job."
  value       = module.consolidation_job.glue_job_name
}

output "glue_trigger_name" {
  description = "Name of the job's hourly scheduled trigger."
  value       = module.consolidation_job.glue_trigger_name
}

output "sns_topic_arn" {
  description = "ARN of the alert topic (job runs FAILED/TIMEOUT/STOPPED, failed crawls, reject-rate and freshness alarms, ingestion failures)."
  value       = module.monitoring.sns_topic_arn
}

output "cloudwatch_dashboard_name" {
  description = "CloudWatch dashboard of the lake (job metrics, Lambda errors and duration, alarms)."
  value       = module.monitoring.cloudwatch_dashboard_name
}

output "glue_job_log_group_names" {
  description = "The job's log groups: output (stdout, with the one JSON summary line per run) and error (Glue and Spark)."
  value       = module.consolidation_job.cloudwatch_log_group_names
}

output "lambda_layer_arn" {
  description = "The AWS SDK for pandas layer version the ingestion Lambda uses (from SSM in aws_region, or the override)."
  value       = local.aws_sdk_pandas_layer_arn
}

output "glue_database_name" {
  description = "Glue database of the lake."
  value       = module.catalog.glue_database_name
}

output "glue_crawler_names" {
  description = "Crawler names, keyed by layer: bronze (and silver with silver_crawler_enabled)."
  value       = module.catalog.glue_crawler_names
}

output "glue_table_names" {
  description = "Catalog tables, keyed by layer: bronze (crawled), silver and quarantine (kept by the job)."
  value       = module.catalog.glue_table_names
}

output "athena_workgroup_name" {
  description = "Athena workgroup to query the lake with."
  value       = module.catalog.athena_workgroup_name
}

output "athena_named_query_id" {
  description = "ID of the saved one-row-per-car-day check in the workgroup."
  value       = module.catalog.athena_named_query_id
}

output "glue_start_job_run_command" {
  description = "Ready command that starts one consolidation run now (in addition to the schedule)."
  value       = "aws glue start-job-run --region ${var.aws_region} --job-name ${module.consolidation_job.glue_job_name}"
}

output "glue_full_refresh_command" {
  description = "Ready command that rebuilds silver from all of bronze (one-off, e.g. after migrating from the cleansing Lambda)."
  value       = "aws glue start-job-run --region ${var.aws_region} --job-name ${module.consolidation_job.glue_job_name} --arguments '{\"--full_refresh\":\"true\"}'"
}
