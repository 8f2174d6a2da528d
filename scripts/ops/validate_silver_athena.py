"""Run the silver dedup check (one row per car per day) in Athena and report what it finds.

    python scripts/ops/validate_silver_athena.py --workgroup car-telemetry-dev \\
        --database car_telemetry_dev --table silver_car_telemetry

The SQL is ``terraform/queries/silver_duplicates_check.sql``, the same text as the Athena
named query that Terraform creates, with ``${database}`` and ``${table}`` filled in here. It
returns every (car, day) that holds more than one row. Exit 0 when it returns none, 1 when it
returns some (they are printed), 2 when the query cannot run, fails or times out.

The pieces a local runner needs are plain functions: ``load_check_sql(database, table)`` gives
the SQL, ``duplicates_from_rows(rows)`` turns its result rows (dicts, any column-name case) into
normalized duplicates and ``format_report(duplicates, name)`` prints them. With DuckDB, e.g.::

    con.execute("CREATE SCHEMA lake; CREATE VIEW lake.silver AS SELECT * FROM read_parquet("
                "'lake/silver/car_telemetry/**/*.parquet', hive_partitioning = true, "
                "hive_types_autocast = false)")
    cursor = con.execute(load_check_sql("lake", "silver"))
    names = [d[0] for d in cursor.description]
    duplicates = duplicates_from_rows(dict(zip(names, row)) for row in cursor.fetchall())
"""

from __future__ import annotations

import argparse
import logging
import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ops_cli
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("validate_silver_athena")

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECK_SQL_PATH = REPO_ROOT / "terraform" / "queries" / "silver_duplicates_check.sql"

KEY_COLUMNS = ("carChassis", "event_year", "event_month", "event_day")
COUNT_COLUMN = "row_count"
_PARTITION_WIDTH = {"event_year": 4, "event_month": 2, "event_day": 2}
# The names go inside double quotes in the SQL: no quote, dot or space may sneak in.
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

ATHENA_DONE = "SUCCEEDED"
ATHENA_FAILED = frozenset({"FAILED", "CANCELLED"})

EXIT_OK, EXIT_DUPLICATES, EXIT_QUERY_FAILED = 0, 1, 2


class QueryFailed(RuntimeError):
    """The Athena query did not succeed (failed, cancelled, timed out or was refused)."""


def load_check_sql(database: str, table: str, sql_path: Path | str = CHECK_SQL_PATH) -> str:
    """The dedup check SQL with ``${database}`` and ``${table}`` substituted.

    Raises ValueError for a name that could break out of its quotes, and KeyError if the SQL
    file holds a placeholder other than those two.
    """
    for what, name in (("database", database), ("table", table)):
        if not _NAME.match(name):
            raise ValueError(f"{what} name {name!r} must match {_NAME.pattern}")
    template = string.Template(Path(sql_path).read_text(encoding="utf-8"))
    return template.substitute(database=database, table=table)


def _normalize_key(column: str, value: Any) -> str | None:
    if value is None:
        return None
    # A reader that types hive partitions (DuckDB's default) turns "09" into 9: pad it back.
    if column in _PARTITION_WIDTH and isinstance(value, int):
        return f"{value:0{_PARTITION_WIDTH[column]}d}"
    return str(value)


def duplicates_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Result rows of the check -> ``[{carChassis, event_year, event_month, event_day,
    row_count}]`` sorted by day then car, with string keys and an int count.

    Column names match case-insensitively (Athena returns ``carchassis``, DuckDB
    ``carChassis``). A row whose count is 1 or less is not a duplicate and is skipped.
    """
    wanted = (*KEY_COLUMNS, COUNT_COLUMN)
    duplicates = []
    for row in rows:
        by_lower = {str(name).lower(): value for name, value in row.items()}
        missing = [c for c in wanted if c.lower() not in by_lower]
        if missing:
            raise ValueError(f"result row lacks columns {missing}; it has {sorted(row)}")
        count = int(by_lower[COUNT_COLUMN.lower()])
        if count <= 1:
            continue
        item: dict[str, Any] = {c: _normalize_key(c, by_lower[c.lower()]) for c in KEY_COLUMNS}
        item[COUNT_COLUMN] = count
        duplicates.append(item)
    duplicates.sort(key=lambda d: tuple(d[c] or "" for c in (*KEY_COLUMNS[1:], KEY_COLUMNS[0])))
    return duplicates


def format_report(duplicates: Sequence[Mapping[str, Any]], table_name: str) -> str:
    """``OK: ...`` when there are none, else a headline and one aligned line per (car, day)."""
    if not duplicates:
        return f"OK: one row per car per day in {table_name}"
    lines = [("carChassis", "day", "rows")] + [
        (
            str(d["carChassis"]),
            f"{d['event_year']}-{d['event_month']}-{d['event_day']}",
            str(d[COUNT_COLUMN]),
        )
        for d in duplicates
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(2)]
    table = [f"  {car:<{widths[0]}}  {day:<{widths[1]}}  {rows}" for car, day, rows in lines]
    keys = f"{len(duplicates)} (car, day) key" + ("s hold" if len(duplicates) > 1 else " holds")
    rows_total = sum(d[COUNT_COLUMN] for d in duplicates)
    headline = f"FAIL: {keys} more than one row in {table_name} ({rows_total} rows)"
    return "\n".join([headline, *table])


def start_query(
    client: Any,
    sql: str,
    *,
    workgroup: str,
    database: str,
    output_location: str | None = None,
) -> str:
    params: dict[str, Any] = {
        "QueryString": sql,
        "WorkGroup": workgroup,
        "QueryExecutionContext": {"Database": database},
    }
    if output_location:
        params["ResultConfiguration"] = {"OutputLocation": output_location}
    query_id = client.start_query_execution(**params)["QueryExecutionId"]
    LOG.info("started query %s in workgroup %s", query_id, workgroup)
    return query_id


def wait_for_query(
    client: Any,
    query_id: str,
    *,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 300.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll get_query_execution until SUCCEEDED; raise QueryFailed otherwise."""
    started = clock()
    while True:
        execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        status = execution["Status"]
        state = status["State"]
        elapsed = clock() - started
        LOG.info("query %s: %s (elapsed %ds)", query_id, state, elapsed)
        if state == ATHENA_DONE:
            return execution
        if state in ATHENA_FAILED:
            reason = status.get("AthenaError", {}).get("ErrorMessage") or status.get(
                "StateChangeReason", "no reason given"
            )
            raise QueryFailed(f"query {query_id} {state}: {reason}")
        if elapsed >= timeout_seconds:
            client.stop_query_execution(QueryExecutionId=query_id)
            raise QueryFailed(f"query {query_id} still {state} after {elapsed:.0f}s: cancelled")
        sleep(poll_seconds)


def fetch_rows(client: Any, query_id: str) -> list[dict[str, str | None]]:
    """All result rows as dicts keyed by column name, every page, without the header row."""
    names: list[str] | None = None
    rows: list[dict[str, str | None]] = []
    pages = client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
    for page_number, page in enumerate(pages):
        result_set = page["ResultSet"]
        if names is None:
            names = [c["Name"] for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
        page_rows = [[cell.get("VarCharValue") for cell in r["Data"]] for r in result_set["Rows"]]
        # Athena's first row of a SELECT's first page repeats the column names.
        if (
            page_number == 0
            and page_rows
            and [v and v.lower() for v in page_rows[0]] == [n.lower() for n in names]
        ):
            page_rows = page_rows[1:]
        rows.extend(dict(zip(names, values, strict=True)) for values in page_rows)
    return rows


def run_check(
    client: Any,
    *,
    workgroup: str,
    database: str,
    table: str,
    output_location: str | None = None,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 300.0,
) -> list[dict[str, Any]]:
    """Run the check in Athena and return the duplicates (empty when the guarantee holds)."""
    sql = load_check_sql(database, table)
    query_id = start_query(
        client, sql, workgroup=workgroup, database=database, output_location=output_location
    )
    wait_for_query(client, query_id, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
    return duplicates_from_rows(fetch_rows(client, query_id))


def build_parser() -> argparse.ArgumentParser:
    parser = ops_cli.parser(
        "Run the silver dedup check (terraform/queries/silver_duplicates_check.sql) in an "
        "Athena workgroup and print the (car, day) keys that hold more than one row. "
        "Exit 0 when there are none, 1 when there are, 2 when the query fails.",
        wait=(1.0, 5.0, "cancel the query after this long"),
    )
    parser.add_argument("--workgroup", required=True, help="Athena workgroup")
    parser.add_argument("--database", required=True, help="Glue database of the silver table")
    parser.add_argument(
        "--table", default="silver_car_telemetry", help="silver table (default: %(default)s)"
    )
    parser.add_argument(
        "--output-location",
        help="s3://... for the results, when the workgroup does not set one",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, client: Any = None) -> int:
    """Run the CLI; ``client`` (a boto3 Athena client) is for tests."""
    args = ops_cli.parse(build_parser(), argv, check=lambda a: load_check_sql(a.database, a.table))
    try:
        client = ops_cli.client("athena", args, client)
        duplicates = run_check(
            client,
            workgroup=args.workgroup,
            database=args.database,
            table=args.table,
            output_location=args.output_location,
            poll_seconds=args.poll_seconds,
            timeout_seconds=args.timeout_minutes * 60,
        )
    except (QueryFailed, ClientError, BotoCoreError) as err:
        print(f"error: the dedup check did not run: {err}", file=sys.stderr)
        return EXIT_QUERY_FAILED
    print(format_report(duplicates, f"{args.database}.{args.table}"))
    return EXIT_DUPLICATES if duplicates else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
