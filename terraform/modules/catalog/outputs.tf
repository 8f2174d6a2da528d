output "glue_database_name" {
  description = "Name of the Glue database."
  value       = aws_glue_catalog_database.this.name
}

output "glue_crawler_names" {
  description = "Crawler names, keyed by table layer: bronze, and silver when silver_crawler_enabled."
  value       = { for layer, crawler in aws_glue_crawler.this : layer => crawler.name }
}

output "glue_table_names" {
  description = "Catalog table names, keyed by table: bronze (its crawler's), silver and quarantine (kept by the consolidation job)."
  value = {
    bronze     = var.bronze_table_name
    silver     = aws_glue_catalog_table.job["silver"].name
    quarantine = aws_glue_catalog_table.job["quarantine"].name
  }
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
