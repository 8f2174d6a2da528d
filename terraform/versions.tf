terraform {
  required_version = ">= 1.9" # validations that compare variables

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # Zips lambdas/ingestion and the Glue job's package at plan time (data "archive_file").
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.5"
    }
  }
}
