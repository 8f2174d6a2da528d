# One customer-managed key for the lake's operational data: CloudWatch Logs of the Lambda, the
# Glue job and the crawlers, Glue job bookmarks (client-side encrypted), and the alert topic.
# A Glue security configuration can only encrypt logs and bookmarks with a KMS key, and an SNS
# topic that EventBridge publishes to cannot use the AWS-managed alias/aws/sns key, hence a
# customer-managed key. Data in the buckets stays SSE-S3 unless var.s3_kms_key_arn is set.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id                  = data.aws_caller_identity.current.account_id
  partition                   = data.aws_partition.current.partition
  region                      = data.aws_region.current.region
  security_configuration_name = "${var.name_prefix}-glue"
  log_group_arn_prefix        = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:"
}

# Key policy, every action listed (no "kms:*"):
# - the account keeps administration, so the key can never become unmanageable, plus the usage
#   actions through which IAM policies grant the key to the lake's roles ("*" as a key policy
#   resource means "this key");
# - CloudWatch Logs may use it only for the lake's own log groups: the Lambda's, the job's
#   (/aws-glue/jobs/<name_prefix>-..., encrypted by their own kms_key_id), and the crawlers'
#   (named by Glue after their security configuration: /aws-glue/crawlers-role/<role>-<config>);
# - CloudWatch alarms of this account and EventBridge get what a publisher to an SSE-enabled
#   SNS topic needs (GenerateDataKey, Decrypt). The EventBridge grant carries no
#   aws:SourceAccount/aws:SourceArn condition on purpose: SNS documents that EventBridge's KMS
#   requests do not carry those keys, so a condition would silently drop every alert. (Which
#   rule may publish is decided by the topic policy, which does check aws:SourceArn.)
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" means this key only, and the account root must keep PutKeyPolicy or the key becomes unmanageable.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" means this key only; the write actions are the key's own administration and use.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is the only valid resource in a key policy and denotes the key the policy is attached to.
  statement {
    sid    = "AccountAdministersAndDelegatesKey"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:RetireGrant",
      "kms:RevokeGrant",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsLakeLogGroups"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "${local.log_group_arn_prefix}/aws/lambda/${var.name_prefix}-*",
        "${local.log_group_arn_prefix}/aws-glue/jobs/${var.name_prefix}-*",
        "${local.log_group_arn_prefix}/aws-glue/crawlers-role/*-${local.security_configuration_name}",
      ]
    }
  }

  statement {
    sid    = "CloudWatchAlarmsOfThisAccountUseEncryptedTopic"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = ["*"]

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

  statement {
    sid    = "EventBridgeUsesEncryptedTopic"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name_prefix} lake: CloudWatch Logs, Glue job bookmarks and alert topic"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name_prefix}-lake"
  target_key_id = aws_kms_key.this.key_id
}

# S3 encryption uses the buckets' own mode (SSE-S3, or SSE-KMS with their key), so objects
# written by Glue look exactly like every other object in the lake. This configuration is the
# crawlers'; the job has its own (below).
resource "aws_glue_security_configuration" "this" {
  name = local.security_configuration_name

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = aws_kms_key.this.arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.this.arn
    }

    s3_encryption {
      s3_encryption_mode = var.s3_kms_key_arn == null ? "SSE-S3" : "SSE-KMS"
      kms_key_arn        = var.s3_kms_key_arn
    }
  }
}

# The job's: the same S3 and bookmark encryption, but no CloudWatch encryption. With it, Glue
# writes to log groups renamed after the configuration, which AWS documents only for older Glue
# versions; Glue 5 documents <--custom-logGroup-prefix>/output and /error, the groups the job
# module creates, encrypted with this key by their own kms_key_id.
resource "aws_glue_security_configuration" "job" {
  #checkov:skip=CKV_AWS_99:CloudWatch Logs encryption is left out on purpose: the job's log groups are KMS-encrypted by their own kms_key_id (consolidation_job module), under the names Glue 5 documents.
  name = "${local.security_configuration_name}-job"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "DISABLED"
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = aws_kms_key.this.arn
    }

    s3_encryption {
      s3_encryption_mode = var.s3_kms_key_arn == null ? "SSE-S3" : "SSE-KMS"
      kms_key_arn        = var.s3_kms_key_arn
    }
  }
}
