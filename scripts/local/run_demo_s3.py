"""`make demo-s3`: `make demo` against a local S3 API, with the S3 requests of every stage.

moto's S3 server runs in this process (tests/s3_server.py, via scripts/local/local_s3.py) with
the landing, bronze and silver buckets as Terraform names them. The demo's landing files
(scripts/local/run_demo.py's `make_landing`) are uploaded to the landing bucket and each
upload's S3 event goes through the ingestion Lambda's own handler (boto3 on the server); the
Glue job runs on s3a:// paths (S3A, as on Glue 5.1; directory markers kept, as Glue 5.1's
Hadoop 3.4 does, unless `--markers delete`), its bookmark state a local file. Silver is printed
and checked as `make demo` does (downloaded, then DuckDB), the job runs again with nothing new,
and the requests the server answered are printed per stage, by kind.

    python scripts/local/run_demo_s3.py [--work DIR] [--markers keep|delete]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb
import generate_telemetry
import local_job
import local_runtime
import local_s3
import run_demo
import run_local_pipeline as pipeline


def job_summary(summary: dict, landing: list[dict], silver_before: int, silver_rows: int) -> str:
    """The run in `make demo`'s words and accounting (`run_local_pipeline.format_summary`);
    `landing`: the Lambda's answers (outcomes by status) to the landing files' events."""
    outcomes: dict[str, list[dict]] = {}
    for result in landing:
        for status, items in result.items():
            outcomes.setdefault(status, []).extend(items)
    processed, quarantined = outcomes.get("processed", []), outcomes.get("quarantined", [])
    whole = [i["source_key"] for i in quarantined if "error_key" in i]
    records = sum(i.get("quarantined_records", 0) for i in processed + quarantined)
    to_bronze = sum(i.get("rows", 0) for i in processed)
    skipped = [i.get("source_key", "") for i in outcomes.get("skipped", [])]
    return pipeline.format_summary(
        {
            "landing_files_seen": sum(len(items) for items in outcomes.values()),
            "landing_files_converted": len(processed) + len(quarantined),
            "landing_files_ingested": len(processed),
            "landing_files_quarantined": sorted(i["source_key"] for i in quarantined),
            "landing_files_quarantined_whole": whole,
            "landing_files_skipped": {"not an S3 ObjectCreated event": skipped} if skipped else {},
            "landing_records_read": to_bronze + records,
            "records_to_bronze": to_bronze,
            "records_quarantined": {"rejected records": records} if records else {},
            "bronze_files_read": summary["bronze_files_read"],
            "bronze_records_read": summary["bronze_records_read"],
            "rows_rejected": summary["rows_rejected"],
            "rows_removed_by_dedup": summary["rows_before_dedup"] - summary["rows_after_dedup"],
            "silver_rows_before": silver_before,
            "silver_rows": silver_rows,
            "partitions_written": summary["partitions_written"],
            "job_status": summary["status"],
        }
    )


def demo(work: Path, markers: str = "keep") -> tuple[int, dict[str, list]]:
    """The demo in `work`; returns the exit code and the requests of each stage."""
    started = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"  # keys landing/..., the prefix of the bucket notification
    run_demo.make_landing(landing)
    files = sorted(p for p in landing.rglob("*") if p.is_file())
    server = local_s3.S3Server().start()
    spark = local_runtime.spark_session("car-telemetry-demo-s3")
    stages: dict[str, list] = {}
    try:
        local_s3.connect(spark, server, markers)
        lake = local_s3.S3Lake(server, work / "state")
        config = lake.config()
        print(f"== S3 API at {server.endpoint}: buckets {', '.join(local_s3.BUCKETS)}")
        print(f"   job: {config.bronze_path} -> {config.silver_path}, markers {markers}")

        server.clear()
        events = lake.upload_landing(files, work)
        stages["upload to landing (producers)"] = server.requests()
        server.clear()
        ingested = lake.ingest(events)
        stages["ingestion (Lambda handler)"] = server.requests()

        print(f"\n== 1st run: {len(files)} landing files -> Lambda -> bronze -> job -> silver")
        server.clear()
        first = local_job.run_local(spark, config)
        stages["job run"] = server.requests()

        silver = lake.download(local_s3.SILVER_BUCKET, local_s3.SILVER_PREFIX, work / "silver")
        con = duckdb.connect()
        run_demo.silver_view(con, silver)
        table = f"{run_demo.DEMO_DATABASE}.{run_demo.DEMO_TABLE}"
        [(rows,)] = con.execute(f"SELECT count(*) FROM {table}").fetchall()
        print(job_summary(first, ingested, 0, rows))
        print(f"\n== silver rows (s3://{local_s3.SILVER_BUCKET}/{local_s3.SILVER_PREFIX})")
        run_demo.print_silver(con)
        seed_rows = con.execute(
            f"SELECT currentMileage FROM {table} WHERE carChassis = ?",
            [generate_telemetry.SEED_EXAMPLE_CAR_CHASSIS],
        ).fetchall()
        print(
            f"seed example: car {generate_telemetry.SEED_EXAMPLE_CAR_CHASSIS} uploaded 4321, 8500"
            f" and 12000 km on 2025-10-29; silver keeps {[r[0] for r in seed_rows]}"
        )
        print("\n== dedup check (terraform/queries/silver_duplicates_check.sql, run by DuckDB)")
        duplicates = run_demo.dedup_check(con)
        print(run_demo.check.format_report(duplicates, table))

        print("\n== 2nd run: nothing new")
        before = server.objects(local_s3.SILVER_BUCKET)
        server.clear()
        second = local_job.run_local(spark, config)
        stages["2nd job run (nothing new)"] = server.requests()
        print(job_summary(second, [], rows, rows))
        unchanged = server.objects(local_s3.SILVER_BUCKET) == before
        print(f"silver bucket unchanged: {'yes' if unchanged else 'NO'}")

        print("\n== S3 requests the server answered, by stage and kind")
        print(local_s3.format_counts(stages))
    finally:
        spark._jvm.org.apache.hadoop.fs.FileSystem.closeAll()
        server.stop()
    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    ok = not duplicates and seed_rows == [(12000.0,)] and unchanged
    ok = ok and first["status"] == "ok" and second["status"] == "no_new_data"
    return (0 if ok else 1), stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("lake/s3"), help="local work folder")
    parser.add_argument("--markers", choices=("keep", "delete"), default="keep")
    args = parser.parse_args(argv)
    return demo(args.work, args.markers)[0]


if __name__ == "__main__":
    sys.exit(main())
