variable "name_prefix" {
  description = "\"<project>-<environment>\": names the alert topic, the crawler rule, the dashboard and the metric namespace (CarTelemetry/<name_prefix>)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "job_name" {
  description = "The consolidation Glue job: its failed runs alert, its summary line feeds the metrics; names the job rule, filters and alarms."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,50}$", var.job_name))
    error_message = "job_name must be 2-51 lowercase letters, digits or hyphens (\"<job_name>-reject-rate\" and \"<job_name>-failed\" must stay within name limits)."
  }
}

variable "job_log_group_name" {
  description = "Log group that receives the job's stdout, where its one JSON summary line per run is written (the job module's output log group)."
  type        = string
}

variable "crawler_names" {
  description = "Crawlers whose failed crawls alert."
  type        = list(string)
}

variable "lambda_function_name" {
  description = "The ingestion Lambda, whose errors and duration the dashboard shows."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the alert topic (its key policy lets EventBridge and CloudWatch alarms use it)."
  type        = string
}

variable "alert_email" {
  description = "E-mail address subscribed to the alert topic; null for no subscription (subscribe other endpoints yourself)."
  type        = string
  default     = null

  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address or null."
  }
}

variable "freshness_hours" {
  description = "Alarm when no job run has succeeded with new bronze data for this many hours (1-24)."
  type        = number
  default     = 3

  validation {
    condition     = var.freshness_hours >= 1 && var.freshness_hours <= 24 && floor(var.freshness_hours) == var.freshness_hours
    error_message = "freshness_hours must be a whole number of hours between 1 and 24."
  }
}

variable "reject_rate_threshold" {
  description = "Alarm when, in an hour, more than this fraction of the bronze records read is rejected (0-1, e.g. 0.05 = 5%)."
  type        = number
  default     = 0.05

  validation {
    condition     = var.reject_rate_threshold > 0 && var.reject_rate_threshold < 1
    error_message = "reject_rate_threshold must be a fraction between 0 and 1."
  }
}

variable "tags" {
  description = "Tags added to every resource of the module (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
