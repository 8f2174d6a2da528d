variable "name_prefix" {
  description = "\"<project>-<environment>\": names the crawlers (<name_prefix>-bronze, <name_prefix>-silver), their role and the Athena workgroup."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "database_name" {
  description = "Name of the Glue database holding the bronze and silver tables."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.database_name))
    error_message = "database_name must start with a letter and contain only lowercase letters, digits and underscores (Athena-friendly)."
  }
}

variable "bronze_bucket_name" {
  description = "Bucket of the bronze table."
  type        = string
}

variable "bronze_prefix" {
  description = "Prefix of the bronze table in its bucket; the bronze crawler crawls exactly s3://<bucket>/<prefix>/."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+(/[a-z0-9_]+)*$", var.bronze_prefix))
    error_message = "bronze_prefix must be a key prefix without leading or trailing slash, e.g. car_data."
  }
}

variable "bronze_table_name" {
  description = "Catalog table name of bronze. Must end with the last folder of bronze_prefix (the crawler names a table after its folder; the rest becomes the crawler's table prefix)."
  type        = string
  default     = "bronze_car_data"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.bronze_table_name))
    error_message = "bronze_table_name must contain only lowercase letters, digits and underscores."
  }
}

variable "bronze_crawler_schedule" {
  description = "Glue cron expression of the bronze crawler (UTC); null for on-demand only."
  type        = string
  default     = "cron(20 */1 * * ? *)"

  validation {
    condition     = var.bronze_crawler_schedule == null || can(regex("^cron\\((\\S+ ){5}\\S+\\)$", var.bronze_crawler_schedule))
    error_message = "bronze_crawler_schedule must be a 6-field Glue cron expression or null."
  }
}

variable "silver_bucket_name" {
  description = "Bucket of the silver table."
  type        = string
}

variable "silver_prefix" {
  description = "Prefix of the silver table in its bucket; the silver crawler crawls exactly s3://<bucket>/<prefix>/ (the quarantine prefix is outside it on purpose)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+(/[a-z0-9_]+)*$", var.silver_prefix))
    error_message = "silver_prefix must be a key prefix without leading or trailing slash, e.g. car_telemetry."
  }
}

variable "silver_table_name" {
  description = "Catalog table name of silver, kept by the consolidation job. Must end with the last folder of silver_prefix (an optional silver crawler names its table after that folder)."
  type        = string
  default     = "silver_car_telemetry"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.silver_table_name))
    error_message = "silver_table_name must contain only lowercase letters, digits and underscores."
  }
}

variable "silver_crawler_enabled" {
  description = "Create a silver crawler (off by default: the consolidation job registers silver's partitions and columns itself). It can still add partitions for folders the job did not write (a restored or copied prefix) and table statistics."
  type        = bool
  default     = false
}

variable "silver_crawler_schedule" {
  description = "Glue cron expression (UTC) of the optional silver crawler (silver_crawler_enabled); null (default) for on-demand only."
  type        = string
  default     = null

  validation {
    condition     = var.silver_crawler_schedule == null || can(regex("^cron\\((\\S+ ){5}\\S+\\)$", var.silver_crawler_schedule))
    error_message = "silver_crawler_schedule must be a 6-field Glue cron expression or null."
  }
}

variable "quarantine_prefix" {
  description = "Prefix of the table of rejected rows in the silver bucket (<quarantine>/<silver_prefix>, outside the silver table)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+(/[a-z0-9_]+)*$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be a key prefix without leading or trailing slash, e.g. quarantine/car_telemetry."
  }
}

variable "quarantine_table_name" {
  description = "Catalog table name of the rejected rows (kept by the consolidation job, like silver's)."
  type        = string
  default     = "silver_car_telemetry_quarantine"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,254}$", var.quarantine_table_name))
    error_message = "quarantine_table_name must contain only lowercase letters, digits and underscores."
  }
}

variable "athena_results_bucket_name" {
  description = "Bucket for Athena query results of the workgroup."
  type        = string
}

variable "athena_results_prefix" {
  description = "Prefix of the workgroup's query results in the results bucket."
  type        = string
  default     = "results"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$", var.athena_results_prefix))
    error_message = "athena_results_prefix must be a key prefix without leading or trailing slash."
  }
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels any query of the workgroup that scans more than this many bytes (minimum 10 MB)."
  type        = number
  default     = 10737418240

  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "bytes_scanned_cutoff_per_query must be at least 10485760 (10 MB)."
  }
}

variable "duplicates_check_query_path" {
  description = "Path of the SQL template (placeholders $${database} and $${table}) saved as the workgroup's duplicates-check named query."
  type        = string
}

variable "security_configuration_name" {
  description = "Glue security configuration for the crawlers (their CloudWatch Logs are KMS-encrypted)."
  type        = string
}

variable "kms_key_arn" {
  description = "The lake's operational KMS key (the security configuration's): encrypts the crawler log group."
  type        = string
}

variable "s3_kms_key_arn" {
  description = "KMS key of the buckets when they use SSE-KMS (crawlers then need it to read, Athena to encrypt results); null for SSE-S3."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the crawlers' log group in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the Athena workgroup together with its saved queries."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
