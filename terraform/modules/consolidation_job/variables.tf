variable "job_name" {
  description = "Name of the Glue job; also names its role, schedule trigger, alert topic and S3 temp prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,50}$", var.job_name))
    error_message = "job_name must be 2-51 lowercase letters, digits or hyphens (it is reused in IAM role and log group names)."
  }
}

variable "script_path" {
  description = "Local path of the PySpark entry script to upload (the repository's glue_jobs/silver_consolidation_job.py)."
  type        = string
}

variable "package_dir" {
  description = "Local folder of the job's Python package (the repository's glue_jobs/silver_job); zipped under its own name and passed to the job with --extra-py-files."
  type        = string
}

variable "package_output_path" {
  description = "Where the package zip is written (git-ignored; rebuilt on every plan from package_dir)."
  type        = string
}

variable "scripts_bucket_name" {
  description = "Bucket the script is uploaded to and read from by Glue."
  type        = string
}

variable "temp_bucket_name" {
  description = "Bucket for Glue's --TempDir and Spark UI event logs (expires objects after a few days)."
  type        = string
}

variable "bronze_bucket_name" {
  description = "Bucket the job reads new bronze Parquet from."
  type        = string
}

variable "silver_bucket_name" {
  description = "Bucket the job writes the silver table and its quarantine to."
  type        = string
}

variable "bronze_prefix" {
  description = "Top-level folder of the bronze table in the bronze bucket (read recursively, with the job bookmark)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+$", var.bronze_prefix))
    error_message = "bronze_prefix must be a single folder name, e.g. car_data (the role's grants cover that folder, not parents of a nested one)."
  }
}

variable "silver_prefix" {
  description = "Top-level folder of the silver table in the silver bucket (also names the quarantine and commit folders: <quarantine_prefix>/<silver_prefix>/, _commits/<silver_prefix>/)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+$", var.silver_prefix))
    error_message = "silver_prefix must be a single folder name, e.g. car_telemetry (the role's grants cover that folder, not parents of a nested one)."
  }
}

variable "quarantine_prefix" {
  description = "Top-level quarantine folder of the silver bucket; rejected rows go to <quarantine_prefix>/<silver_prefix>/, outside the crawled table path."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be a single folder name without slashes, e.g. quarantine."
  }
}

variable "source_timezone" {
  description = "Time zone of landing timestamps that carry no zone (passed as --source_timezone; a run can override it)."
  type        = string
  default     = "UTC"
}

variable "glue_version" {
  description = "Glue version (5.1 = Spark 3.5.6, Python 3.11, Java 17). The log group layout below is that of Glue 5.x."
  type        = string
  default     = "5.1"

  validation {
    condition     = can(regex("^5\\.[0-9]+$", var.glue_version))
    error_message = "glue_version must be a Glue 5.x version such as 5.1 (the script and the log layout assume Glue 5)."
  }
}

variable "worker_type" {
  description = "Glue worker type."
  type        = string
  default     = "G.1X"

  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.worker_type)
    error_message = "worker_type must be one of G.1X, G.2X, G.4X, G.8X."
  }
}

variable "number_of_workers" {
  description = "Number of workers (the maximum, since auto scaling is on)."
  type        = number
  default     = 2

  validation {
    condition     = var.number_of_workers >= 2 && floor(var.number_of_workers) == var.number_of_workers
    error_message = "number_of_workers must be a whole number of at least 2 (one driver, one executor)."
  }
}

variable "timeout_minutes" {
  description = "Run timeout in minutes; a run that exceeds it ends TIMEOUT (and alerts) without committing its bookmark. Must be shorter than the schedule's interval."
  type        = number
  default     = 45

  validation {
    condition     = var.timeout_minutes >= 1 && var.timeout_minutes <= 2880
    error_message = "timeout_minutes must be between 1 and 2880."
  }

  # One run at a time (max_concurrent_runs = 1): a run still going when the next trigger fires
  # makes that trigger's run fail with ConcurrentRunsExceeded. The interval is read from the
  # schedule's minute and hour fields: "M */H" (every H hours), "M *" (hourly), "*/N *" or
  # "M/N *" (every N minutes), "M H" (daily); other forms are not checked.
  validation {
    condition = var.timeout_minutes < (
      can(regex("^cron\\(\\d+ \\* ", var.schedule)) ? 60 :
      can(regex("^cron\\(\\d+ (\\*|\\d+)/\\d+ ", var.schedule)) ? 60 * tonumber(regex("^cron\\(\\d+ (?:\\*|\\d+)/(\\d+) ", var.schedule)[0]) :
      can(regex("^cron\\((\\*|\\d+)/\\d+ \\* ", var.schedule)) ? tonumber(regex("^cron\\((?:\\*|\\d+)/(\\d+) \\* ", var.schedule)[0]) :
      can(regex("^cron\\(\\d+ \\d+ \\* \\* \\? \\*\\)$", var.schedule)) ? 1440 :
      2881
    )
    error_message = "timeout_minutes must be shorter than the interval of schedule: with one run at a time, a run that is still going when the next trigger fires makes that run fail (ConcurrentRunsExceeded)."
  }
}

variable "max_retries" {
  description = "Automatic retries of a failed run. 0 by default: a failed run does not commit its bookmark, so the next scheduled run processes the same files anyway."
  type        = number
  default     = 0

  validation {
    condition     = var.max_retries >= 0 && var.max_retries <= 10
    error_message = "max_retries must be between 0 and 10."
  }
}

variable "execution_class" {
  description = "STANDARD (starts immediately) or FLEX (spare capacity, cheaper, may start later)."
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "FLEX"], var.execution_class)
    error_message = "execution_class must be STANDARD or FLEX."
  }

  # AWS Glue runs FLEX only on G.1X and G.2X workers; CreateJob fails otherwise.
  validation {
    condition     = var.execution_class != "FLEX" || contains(["G.1X", "G.2X"], var.worker_type)
    error_message = "execution_class FLEX is only available with worker_type G.1X or G.2X."
  }
}

variable "schedule" {
  description = "Glue cron expression of the job's scheduled trigger (UTC)."
  type        = string
  default     = "cron(0 */1 * * ? *)"

  validation {
    condition     = can(regex("^cron\\((\\S+ ){5}\\S+\\)$", var.schedule))
    error_message = "schedule must be a 6-field Glue cron expression, e.g. cron(0 */1 * * ? *)."
  }
}

variable "schedule_enabled" {
  description = "Whether the scheduled trigger is active (false keeps the trigger but stops hourly runs)."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Glue database of the lake, holding the two tables the job keeps (--catalog_database)."
  type        = string
}

variable "silver_table_name" {
  description = "Catalog table of silver, whose partitions and columns the job keeps (--silver_table)."
  type        = string
}

variable "quarantine_table_name" {
  description = "Catalog table of the rejected rows, whose partitions and columns the job keeps (--quarantine_table)."
  type        = string
}

variable "security_configuration_name" {
  description = "The job's Glue security configuration (S3 and job bookmark encryption; no CloudWatch Logs encryption: the job's log groups carry their own KMS key)."
  type        = string
}

variable "kms_key_arn" {
  description = "The lake's operational KMS key: encrypts the job's log groups (their kms_key_id) and its bookmarks (the security configuration)."
  type        = string
}

variable "s3_kms_key_arn" {
  description = "KMS key of the buckets when they use SSE-KMS (the job then needs it to read and write); null for SSE-S3."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the job's log groups in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
