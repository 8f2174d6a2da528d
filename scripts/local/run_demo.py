"""`make demo`: the whole pipeline on this laptop, on a small generated landing set.

Generates the seed's example (one car uploading 4321, 8500 and 12000 km on 29 Oct 2025) among
a few other cars (with re-sent duplicates, a few bad records and one unreadable upload), runs
scripts/local/run_local_pipeline.py's stages into LAKE, prints the silver rows and runs the Athena
named query's SQL (terraform/queries/silver_duplicates_check.sql) over the local silver with
DuckDB. Then runs the pipeline once more to show that nothing new changes nothing.

    python scripts/local/run_demo.py --lake lake
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import generate_telemetry
import local_runtime
import run_local_pipeline as pipeline
import validate_silver_athena as check

DEMO_DATABASE = "car_telemetry_demo"
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


def silver_view(con: duckdb.DuckDBPyConnection, silver_table: Path) -> None:
    glob = (silver_table / "**" / "*.parquet").as_posix()
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {DEMO_DATABASE}")
    con.execute(
        f"CREATE OR REPLACE VIEW {DEMO_DATABASE}.{DEMO_TABLE} AS SELECT * FROM read_parquet("
        f"'{glob}', hive_partitioning = true, hive_types_autocast = false)"
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=Path("lake"), help="demo lake folder")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lake = pipeline.LakeLayout(args.lake)
    landing = args.lake / "landing"
    for folder in (landing, lake.bronze, lake.root / "silver", lake.state):
        shutil.rmtree(folder, ignore_errors=True)
    make_landing(landing)

    print(f"== 1st run: landing files in {landing} -> bronze -> silver")
    spark = local_runtime.spark_session("car-telemetry-demo")
    first = pipeline.run_pipeline(landing, args.lake, spark=spark)
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
    second = pipeline.run_pipeline(landing, args.lake, spark=spark)
    print(pipeline.format_summary(second))
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    return 1 if duplicates or seed_rows != [(12000.0,)] else 0


if __name__ == "__main__":
    sys.exit(main())
