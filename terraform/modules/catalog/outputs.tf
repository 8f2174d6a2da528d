output "glue_database_name" {
  description = "Name of the Glue database."
  value       = aws_glue_catalog_database.this.name
}

output "glue_crawler_names" {
  description = "Crawler names, keyed by table layer (bronze, silver)."
  value       = { for layer, crawler in aws_glue_crawler.this : layer => crawler.name }
}

output "glue_table_names" {
  description = "Catalog table names the crawlers maintain, keyed by table layer (bronze, silver)."
  value       = { for layer, crawler in local.crawlers : layer => crawler.table_name }
}

output "crawler_iam_role_arn" {
  description = "ARN of the crawlers' IAM role."
  value       = aws_iam_role.crawler.arn
}

output "athena_workgroup_name" {
  description = "Name of the Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "athena_named_query_id" {
  description = "ID of the saved one-row-per-car-day check (aws athena get-named-query --named-query-id ...)."
  value       = aws_athena_named_query.silver_duplicates_check.id
}
