"""Runs the whole pipeline on this machine: landing JSON -> bronze -> silver.

    python scripts/local/run_local_pipeline.py --landing DIR --lake DIR [--full-refresh]

1. Ingestion: every landing file that is new or changed since the last run (the local
   stand-in for an S3 ObjectCreated event) goes through the ingestion Lambda's own conversion
   code into LAKE/bronze/car_data/... (unreadable files into LAKE/bronze/quarantine/...).
2. Consolidation: the Glue job script runs on local Spark into LAKE/silver/car_telemetry/,
   rejected rows into LAKE/silver/quarantine/car_telemetry/, its bookmark state in LAKE/state/.

A rerun with nothing new changes no silver file. Exit 0 on success, 1 when the job failed,
2 on misuse (missing landing folder, lake not writable).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import local_job
import local_runtime
from silver_job.config import JobConfig

LANDING_LEDGER = "landing_ingested.json"

logger = logging.getLogger("run_local_pipeline")


@dataclass(frozen=True)
class LakeLayout:
    root: Path

    @property
    def bronze(self) -> Path:
        return self.root / "bronze"

    @property
    def bronze_table(self) -> Path:
        return self.bronze / "car_data"

    @property
    def silver_table(self) -> Path:
        return self.root / "silver" / "car_telemetry"

    @property
    def silver_quarantine(self) -> Path:
        return self.root / "silver" / "quarantine" / "car_telemetry"

    @property
    def state(self) -> Path:
        return self.root / "state"


class UsageError(Exception):
    pass


def check_dirs(landing: Path, lake: Path) -> None:
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    try:
        lake.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=lake, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"lake folder {lake} is not writable: {exc}") from exc


def landing_files(landing: Path) -> dict[str, int]:
    """Visible files under the landing folder -> modification time (ns), sorted by path."""
    found = {}
    for path in sorted(landing.rglob("*")):
        rel = path.relative_to(landing)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            found[rel.as_posix()] = path.stat().st_mtime_ns
    return found


def ingest(landing: Path, lake: LakeLayout) -> dict[str, list[str]]:
    """Converts new or changed landing files, as S3 would notify them, and records them."""
    ledger_file = lake.state / LANDING_LEDGER
    seen = json.loads(ledger_file.read_text()) if ledger_file.exists() else {}
    current = landing_files(landing)
    outcomes: dict[str, list[str]] = {"processed": [], "quarantined": [], "skipped": []}
    for rel, mtime in current.items():
        if seen.get(rel) == mtime:
            continue
        outcome = local_runtime.convert_local_file(landing / rel, lake.bronze, landing_root=landing)
        outcomes[outcome["status"]].append(rel)
        seen[rel] = mtime
    lake.state.mkdir(parents=True, exist_ok=True)
    tmp = ledger_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(seen.items())), indent=1))
    os.replace(tmp, ledger_file)
    return outcomes


def consolidate(spark, lake: LakeLayout, full_refresh: bool) -> dict:
    config = JobConfig(
        bronze_path=str(lake.bronze_table),
        silver_path=str(lake.silver_table),
        quarantine_path=str(lake.silver_quarantine),
        state_path=str(lake.state),
        full_refresh=full_refresh,
    )
    return local_job.run_local(spark, config)


def silver_row_count(spark, lake: LakeLayout) -> int:
    if not lake.silver_table.exists():
        return 0
    return spark.read.parquet(str(lake.silver_table)).count()


def run_pipeline(landing: Path, lake_root: Path, full_refresh: bool = False, spark=None) -> dict:
    """Both stages; returns what `main` prints. Raises UsageError on misuse."""
    check_dirs(landing, lake_root)
    lake = LakeLayout(lake_root)
    ingested = ingest(landing, lake)
    spark = spark or local_runtime.spark_session("car-telemetry-local")
    job_summary = consolidate(spark, lake, full_refresh)
    return {
        "landing_files_ingested": len(ingested["processed"]),
        "landing_files_quarantined": ingested["quarantined"],
        "landing_files_skipped": ingested["skipped"],
        "bronze_files_read": job_summary["bronze_files_read"],
        "bronze_records_read": job_summary["bronze_records_read"],
        "rows_rejected": job_summary["rows_rejected"],
        "silver_rows": silver_row_count(spark, lake),
        "partitions_written": job_summary["partitions_written"],
        "job_status": job_summary["status"],
        "job_seconds": job_summary["seconds"],
    }


def format_summary(summary: dict) -> str:
    quarantined = summary["landing_files_quarantined"]
    lines = [
        f"landing files ingested:    {summary['landing_files_ingested']}",
        f"landing files quarantined: {len(quarantined)}"
        + (f" ({', '.join(quarantined)})" if quarantined else ""),
        f"bronze files read by job:  {summary['bronze_files_read']}"
        f" ({summary['bronze_records_read']} records)",
        f"rows rejected:             {sum(summary['rows_rejected'].values())}"
        + (f" {summary['rows_rejected']}" if summary["rows_rejected"] else ""),
        f"rows in silver:            {summary['silver_rows']}",
        f"partitions written:        {len(summary['partitions_written'])}"
        + (
            f" ({', '.join(summary['partitions_written'])})"
            if summary["partitions_written"]
            else ""
        ),
        f"job status:                {summary['job_status']}",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landing", required=True, type=Path, help="folder of landing files")
    parser.add_argument("--lake", required=True, type=Path, help="local lake root folder")
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild silver from all bronze"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run_pipeline(args.landing, args.lake, args.full_refresh)
    except UsageError as exc:
        print(f"run_local_pipeline: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        logger.exception("pipeline failed")
        print(f"run_local_pipeline: failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
