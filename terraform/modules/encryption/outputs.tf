output "kms_key_arn" {
  description = "ARN of the lake's operational KMS key (logs, job bookmarks, alert topic)."
  value       = aws_kms_key.this.arn
}

output "kms_alias_name" {
  description = "Alias of the lake's operational KMS key."
  value       = aws_kms_alias.this.name
}

output "glue_security_configuration_name" {
  description = "Name of the crawlers' Glue security configuration (S3 and CloudWatch Logs encryption)."
  value       = aws_glue_security_configuration.this.name
}

output "glue_job_security_configuration_name" {
  description = "Name of the job's Glue security configuration (S3 and job bookmark encryption; its log groups are encrypted by their own KMS key, not by the configuration)."
  value       = aws_glue_security_configuration.job.name
}
