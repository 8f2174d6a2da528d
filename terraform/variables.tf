# Variables passed straight through to a module (worker type, schedules, table names, ...) are
# validated by that module's variable, at plan time; those used here are validated here.

# --- Naming and placement ----------------------------------------------------------------------

variable "project" {
  description = "Project name: first part of every resource name (\"<project>-<environment>-...\")."
  type        = string
  default     = "car-telemetry"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.project))
    error_message = "project must be 3-20 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen (it is part of S3 bucket names)."
  }
}

variable "environment" {
  description = "Environment name (dev, test, prod, ...): second part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits, starting with a letter."
  }

  # "<project>-<environment>" prefixes every name; the longest derived one, the job's
  # "<prefix>-silver-consolidation", must fit the consolidation_job module's 51 characters.
  validation {
    condition     = length("${var.project}-${var.environment}") <= 30
    error_message = "project and environment together must be at most 29 characters (\"<project>-<environment>\" at most 30): the job name \"<project>-<environment>-silver-consolidation\" is limited to 51."
  }
}

variable "aws_region" {
  description = "AWS region of the whole lake."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as us-east-1 or eu-west-3."
  }
}

variable "tags" {
  description = "Extra tags for every resource (merged into the provider's default tags: Project, Environment, ManagedBy). At most 7 beyond those three: S3 objects (the deployed script) take 10 tags."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(merge({ Project = "", Environment = "", ManagedBy = "" }, var.tags)) <= 10
    error_message = "tags plus the default Project, Environment and ManagedBy tags must be at most 10 keys: S3 rejects an object (the deployed Glue script) with more than 10 tags."
  }
}

# --- Storage -----------------------------------------------------------------------------------

variable "s3_kms_key_arn" {
  description = "KMS key ARN for SSE-KMS on every bucket, Glue output and Athena results. null (default) means SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.s3_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.s3_kms_key_arn))
    error_message = "s3_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or null."
  }
}

variable "landing_expiration_days" {
  description = "Days after which landing JSON is deleted (it is converted to bronze within minutes; keep enough to replay an incident)."
  type        = number
  default     = 30

  validation {
    condition     = var.landing_expiration_days >= 1
    error_message = "landing_expiration_days must be at least 1."
  }
}

variable "glue_temp_expiration_days" {
  description = "Days after which Glue temp files and Spark UI event logs are deleted."
  type        = number
  default     = 7

  validation {
    condition     = var.glue_temp_expiration_days >= 1
    error_message = "glue_temp_expiration_days must be at least 1."
  }
}

variable "athena_results_expiration_days" {
  description = "Days after which Athena query results are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_expiration_days >= 1
    error_message = "athena_results_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed from the versioned buckets (bronze, silver, glue-scripts)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets and the Athena workgroup's saved queries. Only for throw-away environments."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention in days of every log group (Lambda, Glue job, crawlers)."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

# --- Ingestion Lambda --------------------------------------------------------------------------

variable "aws_sdk_pandas_version" {
  description = <<-EOT
    Release of the AWS SDK for pandas managed layer (pandas + pyarrow) for python3.12 / x86_64.
    Its ARN is read in var.aws_region from the public SSM parameter
    /aws/service/aws-sdk-pandas/<version>/py3.12/x86_64/layer-arn. 3.15.1 ships pyarrow 20.0.0
    and pandas 2.3.3, the versions pinned in pyproject.toml: change both together.
  EOT
  type        = string
  default     = "3.15.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.aws_sdk_pandas_version))
    error_message = "aws_sdk_pandas_version must be a release number such as 3.15.1."
  }
}

variable "aws_sdk_pandas_layer_arn" {
  description = "Override: a layer version ARN to use instead of the SSM lookup (null, the default, looks the layer of aws_sdk_pandas_version up). Must be in var.aws_region."
  type        = string
  default     = null

  validation {
    condition     = var.aws_sdk_pandas_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9-_]+:[0-9]+$", var.aws_sdk_pandas_layer_arn))
    error_message = "aws_sdk_pandas_layer_arn must be null or a layer version ARN: arn:aws:lambda:<region>:<account>:layer:<name>:<version>."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the ingestion Lambda in MB."
  type        = number
  default     = 512
}

variable "lambda_timeout" {
  description = "Timeout of one ingestion Lambda invocation in seconds."
  type        = number
  default     = 120
}

variable "lambda_maximum_retry_attempts" {
  description = "Retries of a failed S3-event invocation before the event goes to the failure queue (0-2)."
  type        = number
  default     = 2
}

variable "lambda_maximum_event_age_in_seconds" {
  description = "Maximum age of an S3 event (throttling, retries) before it goes to the failure queue (60-21600)."
  type        = number
  default     = 21600
}

# --- Consolidation job -------------------------------------------------------------------------

variable "glue_version" {
  description = "Glue version of the consolidation job (5.1: Spark 3.5.6, Python 3.11, Java 17)."
  type        = string
  default     = "5.1"
}

variable "glue_worker_type" {
  description = "Worker type of the consolidation job (G.1X, G.2X, G.4X or G.8X)."
  type        = string
  default     = "G.1X"
}

variable "glue_number_of_workers" {
  description = "Number of workers of the consolidation job (the maximum; auto scaling is on)."
  type        = number
  default     = 2
}

variable "glue_timeout_minutes" {
  description = "Timeout of one consolidation run in minutes; must be shorter than the schedule's interval (one run at a time)."
  type        = number
  default     = 45
}

variable "glue_max_retries" {
  description = "Automatic retries of a failed consolidation run (the next scheduled run reprocesses the same files anyway)."
  type        = number
  default     = 0
}

variable "glue_execution_class" {
  description = "STANDARD or FLEX (cheaper, spare capacity, may start late; G.1X and G.2X only)."
  type        = string
  default     = "STANDARD"
}

variable "glue_job_schedule" {
  description = "Glue cron expression (UTC) of the consolidation job."
  type        = string
  default     = "cron(0 */1 * * ? *)"
}

variable "glue_job_schedule_enabled" {
  description = "Whether the job's scheduled trigger is active."
  type        = bool
  default     = true
}

variable "source_timezone" {
  description = "Time zone of landing timestamps that carry none (the job's --source_timezone default)."
  type        = string
  default     = "UTC"
}

variable "alert_email" {
  description = "E-mail address that receives the lake's alerts: failed job runs and crawls, reject-rate and freshness alarms, ingestion failures (confirm the subscription mail); null for none."
  type        = string
  default     = null
}

variable "freshness_hours" {
  description = "Alarm when no consolidation run has succeeded with new bronze data for this many hours (1-24)."
  type        = number
  default     = 3
}

variable "reject_rate_threshold" {
  description = "Alarm when, in an hour, more than this fraction of the bronze records read is rejected (e.g. 0.05 = 5%)."
  type        = number
  default     = 0.05
}

# --- Catalog and Athena ------------------------------------------------------------------------

variable "database_name" {
  description = "Glue database name; null derives it from project and environment (car_telemetry_dev)."
  type        = string
  default     = null
}

variable "bronze_table_name" {
  description = "Catalog table of bronze (must end with car_data, the folder the crawler names it after)."
  type        = string
  default     = "bronze_car_data"
}

variable "silver_table_name" {
  description = "Catalog table of silver, kept by the job (must end with car_telemetry, the folder an optional silver crawler names it after)."
  type        = string
  default     = "silver_car_telemetry"
}

variable "quarantine_table_name" {
  description = "Catalog table of the rows the job rejected (with reject_reason), kept by the job."
  type        = string
  default     = "silver_car_telemetry_quarantine"
}

variable "bronze_crawler_schedule" {
  description = "Glue cron expression (UTC) of the bronze crawler; null for on-demand only."
  type        = string
  default     = "cron(20 */1 * * ? *)"
}

variable "silver_crawler_enabled" {
  description = "Create a silver crawler. Off by default: the job registers silver's partitions and columns as it commits; the crawler only adds partitions the job did not write (a restored prefix) and table statistics."
  type        = bool
  default     = false
}

variable "silver_crawler_schedule" {
  description = "Glue cron expression (UTC) of the optional silver crawler; null (default): on demand only."
  type        = string
  default     = null
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Athena cancels any workgroup query that scans more bytes than this (default 10 GiB)."
  type        = number
  default     = 10737418240
}
