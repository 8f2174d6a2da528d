variable "name_prefix" {
  description = "\"<project>-<environment>\": names the key alias (alias/<name_prefix>-lake), the Glue security configuration (<name_prefix>-glue) and scopes the key policy to the lake's Lambda log groups (/aws/lambda/<name_prefix>-*)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 lowercase letters, digits or hyphens."
  }
}

variable "s3_kms_key_arn" {
  description = "KMS key the buckets use (SSE-KMS), or null for SSE-S3. The Glue security configuration writes S3 objects with the same mode so Glue output matches the bucket default."
  type        = string
  default     = null
}

variable "deletion_window_in_days" {
  description = "Waiting period before the key is deleted after `terraform destroy` (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Tags added to the key (on top of the provider's default tags)."
  type        = map(string)
  default     = {}
}
