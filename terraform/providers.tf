provider "aws" {
  region = var.aws_region

  # Every taggable resource carries these; resources add only what is specific to them.
  default_tags {
    tags = merge(
      {
        Project     = var.project
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}
