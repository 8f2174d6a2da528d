# Every bucket of the lake gets the same baseline from one for_each: default encryption,
# public access block, ACLs disabled, a TLS-only bucket policy and lifecycle rules.
# Only versioning and expiry differ per bucket, and they come from the typed var.buckets map.

data "aws_caller_identity" "current" {}

locals {
  bucket_names = {
    for key, _ in var.buckets : key => "${var.name_prefix}-${key}-${data.aws_caller_identity.current.account_id}"
  }
}

resource "aws_s3_bucket" "this" {
  for_each = var.buckets

  #checkov:skip=CKV_AWS_18:Server access logs would need a seventh, itself unlogged bucket; data-plane auditing of the lake is done with account-level CloudTrail S3 data events.
  #checkov:skip=CKV_AWS_144:Single-region lake by design: versioning and lifecycle protect against overwrites and deletes; a replica region would double storage for a disaster-recovery need this project does not have.
  #checkov:skip=CKV2_AWS_62:Only the landing bucket drives processing; its ObjectCreated notification lives in the ingestion module. The other buckets are written by the pipeline itself.
  #checkov:skip=CKV_AWS_21:Versioning is set per bucket from var.buckets: on for bronze, silver and glue-scripts, where data lives (aws_s3_bucket_versioning.this); landing, glue-temp and athena-results hold transient objects that expire.
  #checkov:skip=CKV_AWS_145:SSE-S3 is the default by design (no per-request KMS cost or key policy to manage); setting kms_key_arn switches every bucket to SSE-KMS.
  bucket        = local.bucket_names[each.key]
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = local.bucket_names[each.key], "lake:bucket-role" = each.key })
}

# ACLs off (BucketOwnerEnforced): access is decided by IAM and bucket policies only.
resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = var.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = var.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# With SSE-KMS, an S3 Bucket Key cuts KMS requests (and their cost) by orders of magnitude.
resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = var.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

# Versioning where data lives (var.buckets[*].versioning). Transient buckets get no versioning
# resource at all: they stay unversioned, and turning versioning off later destroys this
# resource, which suspends versioning on the bucket.
resource "aws_s3_bucket_versioning" "this" {
  for_each = { for key, bucket in var.buckets : key => bucket if bucket.versioning }

  bucket = aws_s3_bucket.this[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

# Every bucket aborts incomplete multipart uploads (billed but invisible). Transient buckets
# expire their objects. Versioned buckets expire noncurrent versions: silver partitions are
# rewritten every hour (dynamic partition overwrite), so replaced Parquet files would otherwise
# pile up as noncurrent versions forever. depends_on: a lifecycle configuration applied before
# versioning can be rejected or evaluated against the wrong versioning state.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = var.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  dynamic "rule" {
    for_each = each.value.expiration_days == null ? [] : [each.value.expiration_days]

    content {
      id     = "expire-objects"
      status = "Enabled"

      filter {}

      expiration {
        days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = each.value.versioning ? [each.value.noncurrent_version_expiration_days] : []

    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"

      filter {}

      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }

  dynamic "rule" {
    for_each = each.value.versioning ? [true] : []

    content {
      id     = "remove-expired-delete-markers"
      status = "Enabled"

      filter {}

      expiration {
        expired_object_delete_marker = true
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = var.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

# depends_on: S3 rejects a bucket policy while the public access block is still being applied.
resource "aws_s3_bucket_policy" "this" {
  for_each = var.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
