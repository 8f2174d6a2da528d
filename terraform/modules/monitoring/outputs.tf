output "sns_topic_arn" {
  description = "ARN of the alert topic (failed job runs and crawls, alarms, ingestion failures)."
  value       = aws_sns_topic.alerts.arn
}

output "cloudwatch_dashboard_name" {
  description = "Name of the lake's CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "cloudwatch_metric_namespace" {
  description = "CloudWatch namespace of the metrics published from the job's summary line."
  value       = local.namespace
}

output "cloudwatch_alarm_names" {
  description = "The job's alarms, keyed by purpose (reject_rate, freshness)."
  value = {
    reject_rate = aws_cloudwatch_metric_alarm.reject_rate.alarm_name
    freshness   = aws_cloudwatch_metric_alarm.freshness.alarm_name
  }
}
