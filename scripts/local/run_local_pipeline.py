"""Runs the whole pipeline on this machine: landing JSON -> bronze -> silver.

    python scripts/local/run_local_pipeline.py --landing DIR --lake DIR [--full-refresh]

1. Ingestion: every landing file that is new or changed since the last run (the local
   stand-in for an S3 ObjectCreated event) and whose name ends with the suffix the S3
   notification filters on (terraform/modules/ingestion/landing_suffix.txt, `.json`) goes
   through the ingestion Lambda's own conversion code into LAKE/bronze/car_data/... (bad
   records and unreadable files into LAKE/bronze/quarantine/...). Other files, and links that
   lead outside the landing folder, are skipped and listed.
2. Consolidation: the Glue job script runs on local Spark into LAKE/silver/car_telemetry/,
   rejected rows into LAKE/silver/quarantine/car_telemetry/, its bookmark state in LAKE/state/.

Prints what happened and one accounting line that adds up: landing records read = records to
bronze + records quarantined; bronze records the job read = rows added to silver + rows the
dedup removed + rows rejected. A rerun with nothing new changes no silver file. Exit 0 on
success; 1 when the job failed or another run is live; 2 on misuse (missing landing folder,
lake not writable, a lake inside the landing folder or a landing folder inside the lake's
bronze, silver or state); 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import local_cli
import local_job
import local_runtime
from local_cli import UsageError
from silver_job.config import JobConfig

LANDING_LEDGER = "landing_ingested.json"
LANDING_SUFFIX_FILE = (
    Path(__file__).resolve().parents[2]
    / "terraform"
    / "modules"
    / "ingestion"
    / "landing_suffix.txt"
)
# Why a landing file was not converted
SKIP_SUFFIX, SKIP_UNCHANGED, SKIP_OUTSIDE = "suffix", "unchanged", "outside_landing"

logger = logging.getLogger("run_local_pipeline")


def landing_suffix() -> str:
    """The key suffix the S3 notification takes (Terraform reads the same file)."""
    return LANDING_SUFFIX_FILE.read_text(encoding="utf-8").strip()


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


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_dirs(landing: Path, lake: Path) -> None:
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    where, root = landing.resolve(), lake.resolve()
    if _within(root, where):
        raise UsageError(
            f"lake {lake} is inside the landing folder {landing}: every run would ingest the"
            " lake's own files; put the lake elsewhere"
        )
    layout = LakeLayout(root)
    for name, folder in (
        ("bronze", layout.bronze),
        ("silver", layout.root / "silver"),
        ("state", layout.state),
    ):
        if _within(where, folder):
            raise UsageError(
                f"landing folder {landing} is inside the lake's {name} folder {folder};"
                " put the landing files elsewhere"
            )
    try:
        lake.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=lake, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"lake folder {lake} is not writable: {exc}") from exc


@dataclass
class Ingested:
    """What the ingestion stage did with the landing folder, file by file."""

    seen: int = 0
    processed: list[str] = field(default_factory=list)  # some records went to bronze
    records_only: list[str] = field(default_factory=list)  # every record was quarantined
    whole: list[str] = field(default_factory=list)  # copied whole: not splittable into records
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> files
    records_to_bronze: int = 0
    records_quarantined: Counter = field(default_factory=Counter)  # kind of reason -> records

    @property
    def files_ingested(self) -> int:
        return len(self.processed) + len(self.records_only) + len(self.whole)

    @property
    def records_read(self) -> int:
        return self.records_to_bronze + sum(self.records_quarantined.values())

    def skip(self, reason: str, rel: str) -> None:
        self.skipped.setdefault(reason, []).append(rel)

    def add(self, rel: str, outcome: dict, bronze_root: Path) -> None:
        self.records_to_bronze += outcome.get("rows", 0)
        if "error_key" in outcome:
            self.whole.append(rel)
            return
        if "quarantine_key" in outcome:
            lines = (bronze_root / outcome["quarantine_key"]).read_text(encoding="utf-8")
            for line in lines.splitlines():
                self.records_quarantined[reason_kind(json.loads(line)["reason"])] += 1
        (self.processed if outcome["status"] == "processed" else self.records_only).append(rel)


# The Lambda's reasons, in kinds (its texts name fields and values; a kind counts them)
REASON_KINDS = (
    ("per the v1 contract", "contract"),
    ("holds incompatible types", "type_clash"),
    ("not an object", "not_an_object"),
    ("nested deeper than", "too_deep"),
    ("not a finite number", "not_finite"),
    ("cannot be converted to Arrow", "arrow"),
    ("JSON", "malformed_json"),
    ("field", "field_name"),
)


def reason_kind(reason: str) -> str:
    return next((kind for text, kind in REASON_KINDS if text in reason), "other")


def landing_files(landing: Path) -> tuple[dict[str, int], list[str]]:
    """Visible files under the landing folder -> modification time (ns), sorted by path; and
    the links among them that lead outside the folder (or nowhere)."""
    found, outside = {}, []
    root = landing.resolve()
    for path in sorted(landing.rglob("*")):
        rel = path.relative_to(landing)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink() and not (path.exists() and _within(path.resolve(), root)):
            outside.append(rel.as_posix())
        elif path.is_file():
            found[rel.as_posix()] = path.stat().st_mtime_ns
    return found, outside


def ingest(landing: Path, lake: LakeLayout, progress: local_cli.Progress | None = None) -> Ingested:
    """Converts new or changed landing files, as S3 would notify them, and records them."""
    progress = progress or local_cli.Progress(enabled=False)
    ledger_file = lake.state / LANDING_LEDGER
    seen = json.loads(ledger_file.read_text()) if ledger_file.exists() else {}
    current, outside = landing_files(landing)
    suffix, result = landing_suffix(), Ingested(seen=len(current) + len(outside))
    for rel in outside:
        result.skip(SKIP_OUTSIDE, rel)
    todo = []
    for rel, mtime in current.items():
        if not rel.endswith(suffix):
            result.skip(SKIP_SUFFIX, rel)
        elif seen.get(rel) == mtime:
            result.skip(SKIP_UNCHANGED, rel)
        else:
            todo.append((rel, mtime))
    for done, (rel, mtime) in enumerate(todo, start=1):
        outcome = local_runtime.convert_local_file(landing / rel, lake.bronze, landing_root=landing)
        result.add(rel, outcome, lake.bronze)
        seen[rel] = mtime
        progress.count("landing files converted", done, len(todo))
    lake.state.mkdir(parents=True, exist_ok=True)
    tmp = ledger_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(seen.items())), indent=1))
    os.replace(tmp, ledger_file)
    return result


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
    if not any(lake.silver_table.rglob("*.parquet")):
        return 0
    return spark.read.parquet(str(lake.silver_table)).count()


def run_pipeline(
    landing: Path,
    lake_root: Path,
    full_refresh: bool = False,
    spark=None,
    progress: local_cli.Progress | None = None,
) -> dict:
    """Both stages; returns what `main` prints. Raises UsageError on misuse."""
    check_dirs(landing, lake_root)
    progress = progress or local_cli.Progress(enabled=False)
    lake = LakeLayout(lake_root)
    ingested = ingest(landing, lake, progress)
    spark = spark or local_runtime.spark_session("car-telemetry-local")
    silver_before = silver_row_count(spark, lake)
    handler = progress.follow_stages()
    try:
        job = consolidate(spark, lake, full_refresh)
    finally:
        if handler is not None:
            logging.getLogger(local_cli.STAGE_LOGGER).removeHandler(handler)
    silver_after = silver_row_count(spark, lake)
    return {
        "landing_files_seen": ingested.seen,
        "landing_files_converted": ingested.files_ingested,
        "landing_files_ingested": len(ingested.processed),  # some records went to bronze
        "landing_files_quarantined": sorted(ingested.records_only + ingested.whole),
        "landing_files_quarantined_whole": ingested.whole,
        "landing_files_skipped": ingested.skipped,
        "landing_records_read": ingested.records_read,
        "records_to_bronze": ingested.records_to_bronze,
        "records_quarantined": dict(sorted(ingested.records_quarantined.items())),
        "bronze_files_read": job["bronze_files_read"],
        "bronze_records_read": job["bronze_records_read"],
        "rows_rejected": job["rows_rejected"],
        "rows_removed_by_dedup": job["rows_before_dedup"] - job["rows_after_dedup"],
        "silver_rows_before": silver_before,
        "silver_rows": silver_after,
        "partitions_written": job["partitions_written"],
        "job_status": job["status"],
        "job_seconds": job["seconds"],
    }


def accounting(summary: dict) -> tuple[str, bool]:
    """The run's accounting line, and whether it adds up.

    Landing records read = records to bronze + records quarantined (the Lambda's outcome), and
    bronze records read by the job = rows added to silver (its row count after the run minus
    before, read from the table) + rows removed by the dedup + rows rejected (the job's own
    figures). So landing records + bronze records from elsewhere (earlier runs, replays, a
    full refresh) = silver + deduplicated + quarantined + rejected."""
    quarantined = sum(summary["records_quarantined"].values())
    rejected = sum(summary["rows_rejected"].values())
    added = summary["silver_rows"] - summary["silver_rows_before"]
    dedup = summary["rows_removed_by_dedup"]
    landing, bronze = summary["landing_records_read"], summary["bronze_records_read"]
    other = bronze - summary["records_to_bronze"]
    ok = (
        landing == summary["records_to_bronze"] + quarantined and bronze == added + dedup + rejected
    )
    line = (
        f"accounting: {landing} landing records + {other} other bronze records = {added} added"
        f" to silver + {dedup} removed by the dedup + {quarantined} quarantined + {rejected}"
        f" rejected: {'adds up' if ok else 'DOES NOT ADD UP'}"
    )
    return line, ok


def _counts(counts: dict) -> str:
    return " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")" if counts else ""


def format_summary(summary: dict) -> str:
    skipped = summary["landing_files_skipped"]
    whole = summary["landing_files_quarantined_whole"]
    records_only = [f for f in summary["landing_files_quarantined"] if f not in whole]
    n_skipped = sum(len(files) for files in skipped.values())
    why = "; ".join(
        f"{reason} {len(files)}"
        + (
            f": {', '.join(files[:5])}{', ...' if len(files) > 5 else ''}"
            if reason != SKIP_UNCHANGED
            else ""
        )
        for reason, files in skipped.items()
    )
    rejected = summary["rows_rejected"]
    lines = [
        f"landing files:      {summary['landing_files_seen']} seen ="
        f" {summary['landing_files_converted']} ingested + {n_skipped} skipped"
        + (f" ({why})" if why else ""),
        f"  ingested:         {summary['landing_files_ingested']} to bronze,"
        f" {len(records_only)} with every record quarantined"
        + (f" ({', '.join(records_only)})" if records_only else "")
        + f", {len(whole)} quarantined whole (not splittable into records)"
        + (f" ({', '.join(whole)})" if whole else ""),
        f"landing records:    {summary['landing_records_read']} read ="
        f" {summary['records_to_bronze']} to bronze"
        f" + {sum(summary['records_quarantined'].values())} quarantined"
        + _counts(summary["records_quarantined"]),
        f"job:                {summary['bronze_records_read']} bronze records"
        f" ({summary['bronze_files_read']} files) ="
        f" {summary['silver_rows'] - summary['silver_rows_before']} added to silver"
        f" + {summary['rows_removed_by_dedup']} removed by the dedup"
        f" + {sum(rejected.values())} rejected" + _counts(rejected),
        f"rows in silver:     {summary['silver_rows']}"
        f" (before the run: {summary['silver_rows_before']})",
        f"partitions written: {len(summary['partitions_written'])}"
        + (
            f" ({', '.join(summary['partitions_written'])})"
            if summary["partitions_written"]
            else ""
        ),
        f"job status:         {summary['job_status']}",
        accounting(summary)[0],
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=local_cli.EXIT_CODES_HELP
    )
    parser.add_argument("--landing", required=True, type=Path, help="folder of landing files")
    parser.add_argument("--lake", required=True, type=Path, help="local lake root folder")
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild silver from all bronze"
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    local_cli.add_debug_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    local_cli.quiet_logs(args.debug)

    def body() -> int:
        try:
            summary = run_pipeline(
                args.landing, args.lake, args.full_refresh, progress=local_cli.Progress()
            )
        except local_job.ConcurrentRunError as exc:
            print(f"run_local_pipeline: refusing to run: {exc}", file=sys.stderr)
            return local_cli.EXIT_FAILED
        print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
        line, ok = accounting(summary)
        if not ok:
            print(f"run_local_pipeline: {line}", file=sys.stderr)
        return local_cli.EXIT_OK if ok else local_cli.EXIT_FAILED

    return local_cli.run_main("run_local_pipeline", body, args.debug)


if __name__ == "__main__":
    sys.exit(main())
