output "bucket_names" {
  description = "Bucket names, keyed by bucket role (landing, bronze, silver, glue-scripts, glue-temp, athena-results)."
  value       = { for key, bucket in aws_s3_bucket.this : key => bucket.id }
}

output "bucket_arns" {
  description = "Bucket ARNs, keyed by bucket role."
  value       = { for key, bucket in aws_s3_bucket.this : key => bucket.arn }
}
