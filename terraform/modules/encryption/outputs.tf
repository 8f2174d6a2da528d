output "kms_key_arn" {
  description = "ARN of the lake's operational KMS key (logs, job bookmarks, alert topic)."
  value       = aws_kms_key.this.arn
}

output "kms_alias_name" {
  description = "Alias of the lake's operational KMS key."
  value       = aws_kms_alias.this.name
}

output "glue_security_configuration_name" {
  description = "Name of the Glue security configuration (S3, CloudWatch Logs and job bookmark encryption) shared by the job and the crawlers."
  value       = aws_glue_security_configuration.this.name
}
