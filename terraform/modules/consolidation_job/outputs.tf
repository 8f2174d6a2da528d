output "glue_job_name" {
  description = "Name of the silver consolidation Glue job."
  value       = aws_glue_job.this.name
}

output "glue_job_arn" {
  description = "ARN of the silver consolidation Glue job."
  value       = aws_glue_job.this.arn
}

output "glue_trigger_name" {
  description = "Name of the job's scheduled trigger."
  value       = aws_glue_trigger.schedule.name
}

output "iam_role_arn" {
  description = "ARN of the job's IAM role."
  value       = aws_iam_role.this.arn
}

output "script_s3_uri" {
  description = "S3 URI of the uploaded job script."
  value       = "s3://${aws_s3_object.script.bucket}/${aws_s3_object.script.key}"
}

output "cloudwatch_log_group_names" {
  description = "The job's CloudWatch log groups, keyed by kind: output (the script's stdout, with the run summary line) and error (Glue and Spark logs)."
  value       = { for kind, group in aws_cloudwatch_log_group.this : kind => group.name }
}
