variable "function_name" {
  description = "Name of the ingestion Lambda function; also names its role, log group and failure queue."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-_]{1,50}$", var.function_name))
    error_message = "function_name must be 1-50 letters, digits, hyphens or underscores (room is left for the -failures and -lambda suffixes)."
  }
}

variable "source_dir" {
  description = "Folder with the function's code (lambdas/ingestion); Terraform zips it, without __pycache__ and compiled files."
  type        = string
}

variable "package_output_path" {
  description = "Where the zip is written (git-ignored; rebuilt on every plan from source_dir)."
  type        = string
}

variable "handler" {
  description = "Handler as <module>.<function>, relative to source_dir."
  type        = string
  default     = "handler.lambda_handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_./]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like <module>.<function>, e.g. handler.lambda_handler."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (also scales its CPU share)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of one invocation in seconds."
  type        = number
  default     = 120

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "layer_arns" {
  description = "Lambda layer version ARNs (the AWS SDK for pandas managed layer, which brings pandas and pyarrow)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.layer_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9-_]+:[0-9]+$", arn))])
    error_message = "Every layer ARN must be a layer version ARN: arn:aws:lambda:<region>:<account>:layer:<name>:<version>."
  }
}

variable "landing_bucket_name" {
  description = "Bucket whose *.json objects trigger the function and are read by it."
  type        = string
}

variable "bronze_bucket_name" {
  description = "Bucket the function writes Parquet (and quarantined input) to."
  type        = string
}

variable "bronze_prefix" {
  description = "Prefix (no slashes around it) of the bronze table in the bronze bucket; the function may only put objects below it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+(/[a-z0-9_]+)*$", var.bronze_prefix))
    error_message = "bronze_prefix must be a key prefix without leading or trailing slash, e.g. car_data."
  }
}

variable "quarantine_prefix" {
  description = "Prefix (no slashes around it) in the bronze bucket for input the function could not convert."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]+(/[a-z0-9_]+)*$", var.quarantine_prefix))
    error_message = "quarantine_prefix must be a key prefix without leading or trailing slash, e.g. quarantine."
  }
}

variable "s3_kms_key_arn" {
  description = "KMS key of the buckets when they use SSE-KMS (the function then needs it to read and write); null for SSE-S3."
  type        = string
  default     = null
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the function's log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous (S3 event) invocation before it goes to the failure queue (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "How long an S3 event may wait (throttling, retries) before it goes to the failure queue (60-21600 s)."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600."
  }
}

variable "failure_retention_seconds" {
  description = "How long failed events stay in the failure queue for inspection and redrive (max 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.failure_retention_seconds >= 60 && var.failure_retention_seconds <= 1209600
    error_message = "failure_retention_seconds must be between 60 and 1209600."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified when failed events wait in the failure queue; null creates the alarm without an action."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
