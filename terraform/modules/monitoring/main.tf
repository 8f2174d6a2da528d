# Operations: the alert topic, alerts on failed job runs and crawls, metrics from the job's one
# JSON summary line per run, alarms on a reject-rate spike and on stale silver, one dashboard.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
  namespace  = "CarTelemetry/${var.name_prefix}"

  # The job logs, once per run, one line that is a JSON object and nothing else (JSON filter
  # patterns only match log events that parse as JSON). Metric name => the summary field whose
  # number it publishes.
  summary_metrics = {
    bronze_records_read = "bronze_records_read"
    rows_rejected       = "rows_rejected_total"
    rows_after_dedup    = "rows_after_dedup"
    partitions_written  = "partitions_written_count"
    run_seconds         = "run_seconds"
  }
}

# --- Alert topic -------------------------------------------------------------------------------

resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts"
  display_name      = "${var.name_prefix} lake alerts"
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgePublishesGlueFailures"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.job_failed.arn, aws_cloudwatch_event_rule.crawler_failed.arn]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsOfThisAccountPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alert_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# --- Failed job runs and crawls (EventBridge) --------------------------------------------------

# "Glue Job State Change" events end a run with state SUCCEEDED, FAILED, TIMEOUT or STOPPED
# (ERROR is a severity of these events, never a state).
resource "aws_cloudwatch_event_rule" "job_failed" {
  name        = "${var.job_name}-failed"
  description = "A run of ${var.job_name} ended FAILED, TIMEOUT or STOPPED."

  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [var.job_name]
      state   = ["FAILED", "TIMEOUT", "STOPPED"]
    }
  })

  tags = var.tags
}

# "Glue Crawler State Change" events carry state Started, Succeeded or Failed (capitalised).
resource "aws_cloudwatch_event_rule" "crawler_failed" {
  name        = "${var.name_prefix}-crawler-failed"
  description = "A crawl of the ${var.name_prefix} crawlers failed."

  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Crawler State Change"]
    detail = {
      crawlerName = var.crawler_names
      state       = ["Failed"]
    }
  })

  tags = var.tags
}

# depends_on: publishing is allowed by the topic policy, not by a role, so the policy must be in
# place before the first event flows.
resource "aws_cloudwatch_event_target" "job_failed" {
  rule      = aws_cloudwatch_event_rule.job_failed.name
  target_id = "sns-alerts"
  arn       = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      job     = "$.detail.jobName"
      run     = "$.detail.jobRunId"
      state   = "$.detail.state"
      message = "$.detail.message"
      time    = "$.time"
    }
    input_template = "\"Glue job <job> ended <state> at <time> (run <run>): <message>\""
  }

  depends_on = [aws_sns_topic_policy.alerts]
}

resource "aws_cloudwatch_event_target" "crawler_failed" {
  rule      = aws_cloudwatch_event_rule.crawler_failed.name
  target_id = "sns-alerts"
  arn       = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      crawler = "$.detail.crawlerName"
      error   = "$.detail.errorMessage"
      logs    = "$.detail.cloudWatchLogLink"
      time    = "$.time"
    }
    input_template = "\"Glue crawler <crawler> failed at <time>: <error> (logs: <logs>)\""
  }

  depends_on = [aws_sns_topic_policy.alerts]
}

# --- Metrics from the run summary line ---------------------------------------------------------

resource "aws_cloudwatch_log_metric_filter" "summary" {
  for_each = local.summary_metrics

  name           = "${var.job_name}-${each.key}"
  log_group_name = var.job_log_group_name
  pattern        = "{ $.event = \"silver_run_summary\" && $.${each.value} >= 0 }"

  metric_transformation {
    name      = each.key
    namespace = local.namespace
    value     = "$.${each.value}"
    unit      = each.key == "run_seconds" ? "Seconds" : "Count"
  }
}

# One data point per run that succeeded and read bronze records: the freshness signal.
resource "aws_cloudwatch_log_metric_filter" "runs_with_data" {
  name           = "${var.job_name}-runs_with_data"
  log_group_name = var.job_log_group_name
  pattern        = "{ $.event = \"silver_run_summary\" && $.status = \"ok\" && $.bronze_records_read > 0 }"

  metric_transformation {
    name      = "runs_with_data"
    namespace = local.namespace
    value     = "1"
    unit      = "Count"
  }
}

# --- Alarms ------------------------------------------------------------------------------------

# Rejected rows per bronze record read, per hour; hours without runs or without records read
# are not a spike.
resource "aws_cloudwatch_metric_alarm" "reject_rate" {
  alarm_name          = "${var.job_name}-reject-rate"
  alarm_description   = "More than ${var.reject_rate_threshold * 100}% of the bronze records read in an hour were rejected into quarantine. Look at reject_reason in the quarantine table and at the producers."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.reject_rate_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]

  metric_query {
    id          = "reject_rate"
    expression  = "IF(read > 0, rejected / read, 0)"
    label       = "rejected rows / bronze records read"
    return_data = true
  }

  metric_query {
    id = "rejected"

    metric {
      namespace   = local.namespace
      metric_name = "rows_rejected"
      period      = 3600
      stat        = "Sum"
    }
  }

  metric_query {
    id = "read"

    metric {
      namespace   = local.namespace
      metric_name = "bronze_records_read"
      period      = 3600
      stat        = "Sum"
    }
  }

  tags = var.tags
}

# Missing data is breaching: no summary line at all (job not running, schedule disabled, logs
# going elsewhere) must alarm as loudly as runs that read nothing.
resource "aws_cloudwatch_metric_alarm" "freshness" {
  alarm_name          = "${var.job_name}-freshness"
  alarm_description   = "No run of ${var.job_name} succeeded with new bronze data in the last ${var.freshness_hours} hour(s): silver is stale. Check the job runs, the ingestion Lambda and the landing uploads."
  namespace           = local.namespace
  metric_name         = "runs_with_data"
  statistic           = "Sum"
  period              = var.freshness_hours * 3600
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]

  tags = var.tags
}

# --- Dashboard ---------------------------------------------------------------------------------

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Silver job: records read, rows rejected, rows after dedup (per run)"
          region  = local.region
          stat    = "Sum"
          period  = 3600
          view    = "timeSeries"
          metrics = [[local.namespace, "bronze_records_read"], [local.namespace, "rows_rejected"], [local.namespace, "rows_after_dedup"]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title   = "Silver job: partitions written and run seconds"
          region  = local.region
          stat    = "Maximum"
          period  = 3600
          view    = "timeSeries"
          metrics = [[local.namespace, "partitions_written"], [local.namespace, "run_seconds"], [local.namespace, "runs_with_data", { stat = "Sum" }]]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Ingestion Lambda: errors and invocations"
          region  = local.region
          stat    = "Sum"
          period  = 300
          view    = "timeSeries"
          metrics = [["AWS/Lambda", "Errors", "FunctionName", var.lambda_function_name], ["AWS/Lambda", "Invocations", "FunctionName", var.lambda_function_name]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Ingestion Lambda: duration (ms)"
          region  = local.region
          period  = 300
          view    = "timeSeries"
          metrics = [["AWS/Lambda", "Duration", "FunctionName", var.lambda_function_name, { stat = "Average" }], ["AWS/Lambda", "Duration", "FunctionName", var.lambda_function_name, { stat = "Maximum" }]]
        }
      },
      {
        type   = "alarm"
        x      = 0
        y      = 12
        width  = 24
        height = 3
        properties = {
          title  = "Alarms"
          alarms = [aws_cloudwatch_metric_alarm.reject_rate.arn, aws_cloudwatch_metric_alarm.freshness.arn]
        }
      },
    ]
  })
}
