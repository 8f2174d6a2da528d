-- One-row-per-car-per-day guarantee of the silver table: returns every (car, day) that holds
-- more than one row. An empty result means the guarantee holds.
-- ${database} and ${table} are filled in by Terraform (templatefile) for the Athena named query
-- and by the local scripts (string.Template) for DuckDB, so both run the same SQL.
SELECT carChassis, event_year, event_month, event_day, COUNT(*) AS row_count
FROM "${database}"."${table}"
GROUP BY carChassis, event_year, event_month, event_day
HAVING COUNT(*) > 1
ORDER BY event_year, event_month, event_day, carChassis
