variable "name_prefix" {
  description = "Prefix of every bucket name: \"<project>-<environment>\". Each bucket is named \"<name_prefix>-<key>-<account id>\" so names stay globally unique per account."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens, starting and ending with a letter or digit (S3 bucket naming rules)."
  }
}

variable "buckets" {
  description = <<-EOT
    The lake's buckets, keyed by role (landing, bronze, silver, glue-scripts, glue-temp,
    athena-results). versioning: keep object versions (where data lives).
    expiration_days: delete current objects after N days (null = keep).
    noncurrent_version_expiration_days: delete overwritten/deleted versions after N days
    (only used when versioning is on).
  EOT
  type = map(object({
    versioning                         = bool
    expiration_days                    = optional(number)
    noncurrent_version_expiration_days = optional(number, 30)
  }))

  validation {
    condition     = alltrue([for key in keys(var.buckets) : can(regex("^[a-z][a-z0-9-]{1,14}$", key))])
    error_message = "Bucket keys must be 2-15 lowercase letters, digits or hyphens (they become part of the bucket name)."
  }

  validation {
    condition = alltrue([
      for bucket in values(var.buckets) :
      (bucket.expiration_days == null ? true : bucket.expiration_days >= 1) && bucket.noncurrent_version_expiration_days >= 1
    ])
    error_message = "expiration_days and noncurrent_version_expiration_days must be at least 1 day."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for SSE-KMS default encryption of every bucket. null (default) uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or null."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which S3 aborts incomplete multipart uploads (they are billed but invisible)."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete buckets that still hold objects. Keep false outside throw-away environments."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every bucket (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
