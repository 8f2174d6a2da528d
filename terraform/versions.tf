terraform {
  required_version = ">= 1.9" # validations that compare variables

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    # Zips lambdas/ingestion at plan time (data "archive_file" in modules/ingestion).
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.5"
    }
  }
}
