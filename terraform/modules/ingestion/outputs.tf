output "lambda_function_name" {
  description = "Name of the ingestion Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_arn" {
  description = "ARN of the ingestion Lambda function."
  value       = aws_lambda_function.this.arn
}

output "iam_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "cloudwatch_log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "sqs_queue_arn" {
  description = "ARN of the SQS queue that receives events the function failed on after retries."
  value       = aws_sqs_queue.failures.arn
}

output "sqs_queue_url" {
  description = "URL of the failure queue (for inspection and redrive)."
  value       = aws_sqs_queue.failures.url
}
