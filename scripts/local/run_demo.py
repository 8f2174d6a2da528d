"""`make demo`: the whole pipeline on this laptop, on a small generated landing set.

Generates the seed's example (one car uploading 4321, 8500 and 12000 km on 29 Oct 2025) among
a few other cars (with re-sent duplicates, a few bad records and one unreadable upload), runs
scripts/local/run_local_pipeline.py's stages into LAKE, prints the silver rows and runs the Athena
named query's SQL (terraform/queries/silver_duplicates_check.sql) over the local silver with
DuckDB. Then runs the pipeline once more to show that nothing new changes nothing.

    python scripts/local/run_demo.py --lake demo-lake

The demo writes only into its own folder (default `demo-lake`, never the `lake/` of the
README's other examples): it starts from scratch there, and clears a folder only when the demo
made it (its `.demo-lake` marker is inside) or it is empty; anything else is refused (exit 2).
Exit 0 when silver holds one row per car per day and the seed's 12000 km; 1 otherwise or when a
run failed; 2 on a usage error; 130 when interrupted.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import generate_telemetry
import local_cli
import local_runtime
import run_local_pipeline as pipeline
import validate_silver_athena as check

DEMO_DATABASE = "car_telemetry_demo"
DEFAULT_LAKE = Path("demo-lake")
MARKER = ".demo-lake"  # in a folder the demo made, and may therefore clear
DEMO_TABLE = "silver_car_telemetry"
SHOWN_COLUMNS = (
    "carChassis",
    "event_year || '-' || event_month || '-' || event_day AS event_day",
    "currentMileage",
    "Manufacturer",
    "color",
    "fuel_level_percentage",
    "km_per_liter",
    "metrics_metricTimestamp",
    "source_file",
)


# 4 cars x 3 days x 3 readings in 6 array files, with duplicates and bad records of every kind.
DEMO_FLEET = {"cars": 4, "days": 3, "readings_per_day": 3, "duplicate_rate": 0.1, "bad_rate": 0.06}


def make_landing(landing: Path) -> None:
    generate_telemetry.generate(
        landing / "fleet", seed=7, fmt="array", files=6, overwrite=True, **DEMO_FLEET
    )
    generate_telemetry.seed_example(landing / "seed")
    (landing / "broken_upload.json").write_text('{"carChassis": "TRUNCATED", "metrics": {')


def fresh_lake(lake: Path) -> None:
    """Empties the demo's folder (one it made, or an empty one) and marks it as the demo's."""
    if lake.exists() and not lake.is_dir():
        raise local_cli.UsageError(f"{lake} is not a folder")
    if lake.is_dir() and any(lake.iterdir()) and not (lake / MARKER).is_file():
        raise local_cli.UsageError(
            f"{lake} is not empty and was not made by the demo (no {MARKER} inside);"
            " refusing to clear it: pass another --lake"
        )
    try:
        if lake.exists():
            shutil.rmtree(lake)
        lake.mkdir(parents=True)
        (lake / MARKER).write_text("made by scripts/local/run_demo.py; cleared by each demo\n")
    except OSError as exc:
        raise local_cli.UsageError(f"cannot use {lake} as the demo lake: {exc}") from exc


def sql_text(value: str) -> str:
    """A SQL string literal (DuckDB, like Athena, doubles a quote inside it)."""
    return "'" + value.replace("'", "''") + "'"


def silver_view(con: duckdb.DuckDBPyConnection, silver_table: Path) -> None:
    glob = (silver_table.resolve() / "**" / "*.parquet").as_posix()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DEMO_DATABASE}")
    con.execute(
        f"CREATE OR REPLACE VIEW {DEMO_DATABASE}.{DEMO_TABLE} AS SELECT * FROM read_parquet("
        f"{sql_text(glob)}, hive_partitioning = true, hive_types_autocast = false)"
    )


def print_silver(con: duckdb.DuckDBPyConnection) -> None:
    query = (
        f"SELECT {', '.join(SHOWN_COLUMNS)} FROM {DEMO_DATABASE}.{DEMO_TABLE} "
        "ORDER BY event_day, carChassis"
    )
    con.sql(query).show(max_rows=100, max_width=200)


def dedup_check(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The Athena named query's SQL, unchanged, over the local silver."""
    result = con.execute(check.load_check_sql(DEMO_DATABASE, DEMO_TABLE))
    names = [d[0] for d in result.description]
    return check.duplicates_from_rows(
        dict(zip(names, row, strict=True)) for row in result.fetchall()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=local_cli.EXIT_CODES_HELP
    )
    parser.add_argument(
        "--lake",
        type=Path,
        default=DEFAULT_LAKE,
        help="the demo's own folder, cleared and rebuilt (default: %(default)s)",
    )
    local_cli.add_debug_flag(parser)
    args = parser.parse_args(argv)
    local_cli.quiet_logs(args.debug)
    return local_cli.run_main("run_demo", lambda: demo(args.lake), args.debug)


def demo(root: Path) -> int:
    started = time.perf_counter()
    fresh_lake(root)
    lake = pipeline.LakeLayout(root)
    landing = root / "landing"
    make_landing(landing)

    print(f"== 1st run: landing files in {landing} -> bronze -> silver", flush=True)
    spark = local_runtime.spark_session("car-telemetry-demo")
    progress = local_cli.Progress()
    first = pipeline.run_pipeline(landing, root, spark=spark, progress=progress)
    print(pipeline.format_summary(first))

    con = duckdb.connect()
    silver_view(con, lake.silver_table)
    print(f"\n== silver rows ({lake.silver_table})")
    print_silver(con)
    seed_rows = con.execute(
        f"SELECT currentMileage FROM {DEMO_DATABASE}.{DEMO_TABLE} WHERE carChassis = ?",
        [generate_telemetry.SEED_EXAMPLE_CAR_CHASSIS],
    ).fetchall()
    print(
        f"seed example: car {generate_telemetry.SEED_EXAMPLE_CAR_CHASSIS} uploaded 4321, 8500 "
        f"and 12000 km on 2025-10-29; silver keeps {[r[0] for r in seed_rows]}"
    )

    print("\n== dedup check (terraform/queries/silver_duplicates_check.sql, run by DuckDB)")
    duplicates = dedup_check(con)
    print(check.format_report(duplicates, f"{DEMO_DATABASE}.{DEMO_TABLE}"))

    print("\n== 2nd run: nothing new")
    second = pipeline.run_pipeline(landing, root, spark=spark, progress=progress)
    print(pipeline.format_summary(second))
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    adds_up = all(pipeline.accounting(summary)[1] for summary in (first, second))
    return 1 if duplicates or seed_rows != [(12000.0,)] or not adds_up else 0


if __name__ == "__main__":
    sys.exit(main())
