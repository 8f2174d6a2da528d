"""One run, as named stages over a typed summary.

recover -> read_bronze -> validate -> stage_silver -> stage_quarantine -> replace (the
catalog step included, when a catalog is configured) -> commit.
Each stage sets its own figures of the `Summary`, whose JSON form is the one line per run that
the CloudWatch metric filters read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import os
import time
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from silver_job.batch import (
    batch_stats,
    consolidate_silver,
    observed_dedup,
    quarantine_rows,
    sorted_parts,
)
from silver_job.bookmarks import BronzeSource
from silver_job.catalog import Catalog, CatalogResult, table_columns
from silver_job.commit import Commit, commit_root, recover
from silver_job.config import SPEED_SESSION_CONF, JobConfig, require_safe_session
from silver_job.contract import (
    KEY_COL,
    PARTITION_COLS,
    QUARANTINE_PARTITION_COLS,
    REQUIRED_BRONZE_COLUMNS,
    SOURCE_FILE_COL,
)
from silver_job.drift import conform, load_registry, read_bronze_groups
from silver_job.faults import Faults
from silver_job.files import Files, write_staged
from silver_job.steps import REJECT_REASONS, ensure_columns, with_reject_reason

# The run summary: one line of pure JSON per run (the entry script sends it to stdout, bare, so
# that CloudWatch metric filters can read its fields).
summary_logger = logging.getLogger("silver_consolidation.summary")
# Each stage as it starts and ends (the local tools show these on a terminal).
stage_logger = logging.getLogger("silver_consolidation.progress")


@dataclass
class Summary:
    """The figures of one run; `to_json()` is its summary line."""

    job: str
    run_id: str
    mode: str
    status: str = "ok"
    recovered_run: str | None = None
    recovered_partitions: dict[str, list[str]] = field(default_factory=dict)
    bronze_files_read: int = 0
    bronze_records_read: int = 0
    rows_rejected: dict[str, int] = field(default_factory=dict)
    # Set once bronze was validated (absent from a run that found nothing new).
    values_rescued: dict[str, int] | None = None
    rows_before_dedup: int = 0
    rows_after_dedup: int = 0
    partitions_written: list[str] = field(default_factory=list)
    quarantine_partitions_written: list[str] = field(default_factory=list)
    # What the catalog step added (this run's and a recovered run's), by table: silver,
    # quarantine. Empty without a catalog, and when the catalog already had everything.
    partitions_registered: dict[str, list[str]] = field(default_factory=dict)
    columns_added: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    run_seconds: float = 0.0

    def to_json(self) -> dict:
        out = {"event": "silver_run_summary", **dataclasses.asdict(self)}
        out["rows_rejected_total"] = sum(self.rows_rejected.values())
        out["rows_accepted"] = self.bronze_records_read - out["rows_rejected_total"]
        out["partitions_written_count"] = len(self.partitions_written)
        if self.values_rescued is None:
            del out["values_rescued"]
        else:
            out["values_rescued_total"] = sum(self.values_rescued.values())
        return out


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now
        stage_logger.info("%s ended (%.1f s)", stage, self.seconds[stage])

    def total(self) -> float:
        return round(time.perf_counter() - self._start, 3)


def _stage(method):
    """Logs the stage's start (the stopwatch's lap logs its end)."""

    @functools.wraps(method)
    def logged(self, *args):
        stage_logger.info("%s started", method.__name__.removesuffix("_bookmark"))
        return method(self, *args)

    return logged


def new_run_id() -> str:
    """A local run's id: UTC time and process id (Glue runs use their JOB_RUN_ID)."""
    return f"local-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"


def run(spark: SparkSession, config: JobConfig, source: BronzeSource) -> dict:
    """Processes one batch end to end and returns the run summary (also logged as JSON).

    Sets the job's speed settings on the session, holds the source's lock for the whole run,
    finishes any commit an earlier run left unfinished, then reads, consolidates, stages,
    commits and cleans up.
    """
    require_safe_session(spark)
    faults = Faults.from_env()
    for key, value in SPEED_SESSION_CONF.items():
        spark.conf.set(key, value)
    if not config.run_id:
        config = dataclasses.replace(config, run_id=new_run_id())
    with source.lock():
        summary = _Run(spark, config, source, faults).execute().to_json()
    summary_logger.info(json.dumps(summary, sort_keys=True))
    return summary


@dataclass
class _Bronze:
    """What the read stage hands on: the conformed rows and what the registry now knows."""

    files: list[str]
    rows: DataFrame
    types: dict[str, T.DataType]
    rescued: list[str]


class _Run:
    def __init__(self, spark: SparkSession, config: JobConfig, source, faults: Faults) -> None:
        self.spark, self.config, self.source, self.faults = spark, config, source, faults
        self.files = Files(spark)
        self.catalog = None
        if config.catalog_tables:
            self.catalog = Catalog.connect(config.catalog_database, config.catalog_tables)
        root = commit_root(config.silver_path)
        self.commit = Commit(self.files, root, config.run_id, faults, self.catalog)
        self.table_paths = {"silver": config.silver_path, "quarantine": config.quarantine_path}
        mode = "full_refresh" if config.full_refresh else "incremental"
        self.summary = Summary(job=config.job_name, run_id=config.run_id, mode=mode)
        self.watch = _Stopwatch()

    def execute(self) -> Summary:
        self.recover()
        bronze = self.read_bronze()
        if bronze is None:
            self.summary.status = "no_new_data"
        else:
            batch, stats = self.validate(bronze)
            self.stage_silver(batch, stats)
            self.stage_quarantine(batch, stats)
            batch.unpersist()
            self.replace(bronze, stats)
        self.commit_bookmark()
        self.summary.seconds, self.summary.run_seconds = self.watch.seconds, self.watch.total()
        return self.summary

    @_stage
    def recover(self) -> None:
        """Finishes what an earlier, killed run left (see `commit.recover`)."""
        recovered = recover(
            self.files, self.commit.root, self.table_paths, self.faults, self.catalog
        )
        if recovered:
            self.summary.recovered_run = recovered["run_id"]
            self.summary.recovered_partitions = recovered["partitions"]
            self._count_catalog(recovered["catalog"])
        self.watch.lap("recover")

    def _count_catalog(self, result: CatalogResult | None) -> None:
        if result is None:
            return
        for mine, theirs in (
            (self.summary.partitions_registered, result.partitions_registered),
            (self.summary.columns_added, result.columns_added),
        ):
            for table, names in theirs.items():
                mine[table] = sorted({*mine.get(table, []), *names})

    @_stage
    def read_bronze(self) -> _Bronze | None:
        """The source's new files, conformed to silver's types; None when there is nothing to do
        (a full refresh with no bronze at all still rebuilds silver from itself)."""
        paths = self.source.new_files(self.spark)
        bronze = None
        if paths:
            groups = read_bronze_groups(self.spark, paths)
            bronze = _Bronze(paths, *conform(groups, self._registry()))
        elif self.config.full_refresh:
            empty = T.StructType([T.StructField(KEY_COL, T.StringType())])
            bronze = _Bronze([], self.spark.createDataFrame([], empty), self._registry(), [])
        self.watch.lap("read_bronze")
        return bronze

    def _registry(self) -> dict[str, T.DataType]:
        return load_registry(self.files, self.spark, self.commit.root, self.config.silver_path)

    @_stage
    def validate(self, bronze: _Bronze) -> tuple[DataFrame, dict]:
        """Every row gets its reject reason (or none); one pass counts the batch."""
        batch = (
            bronze.rows.transform(ensure_columns, REQUIRED_BRONZE_COLUMNS)
            .transform(with_reject_reason, self.config.source_timezone)
            .persist()
        )
        stats = batch_stats(batch, bronze.rescued)
        rescued = {c: stats[f"rescued:{c}"] for c in bronze.rescued}
        self.summary.bronze_files_read = len(bronze.files)
        self.summary.bronze_records_read = stats["records"]
        self.summary.rows_rejected = {r: stats[r] for r in REJECT_REASONS if stats[r]}
        self.summary.values_rescued = {c: n for c, n in rescued.items() if n}
        self.watch.lap("validate")
        return batch, stats

    @_stage
    def stage_silver(self, batch: DataFrame, stats: dict) -> None:
        touched = sorted_parts(stats["silver_parts"])
        ranked = consolidate_silver(self.spark, self.config, batch, touched)
        if ranked is not None:
            keep, counts = observed_dedup(ranked)
            write_staged(keep, self.commit.staged("silver"), PARTITION_COLS, KEY_COL)
            observed = counts()
            self.summary.rows_before_dedup = observed["rows_before_dedup"]
            self.summary.rows_after_dedup = observed["rows_after_dedup"]
            self.summary.partitions_written = observed["partitions_written"]
            self.commit.add_table("silver", table_columns(keep.schema, PARTITION_COLS))
        self.faults.reached("staged_silver")
        self.watch.lap("stage_silver")

    @_stage
    def stage_quarantine(self, batch: DataFrame, stats: dict) -> None:
        if self.summary.rows_rejected:
            touched = sorted_parts(stats["quarantine_parts"])
            rows = quarantine_rows(self.spark, self.config, batch, touched)
            staged = self.commit.staged("quarantine")
            write_staged(rows, staged, QUARANTINE_PARTITION_COLS, SOURCE_FILE_COL)
            columns = table_columns(rows.schema, QUARANTINE_PARTITION_COLS)
            self.commit.add_table("quarantine", columns)
            self.summary.quarantine_partitions_written = ["-".join(p) for p in touched]
        self.faults.reached("staged_quarantine")
        self.watch.lap("stage_quarantine")

    @_stage
    def replace(self, bronze: _Bronze, stats: dict) -> None:
        """The intent (manifest) is written, then every staged partition replaces its own."""
        if self.commit.tables:
            intent = {"files": bronze.files, "sources": sorted(stats["sources"])}
            self.commit.write_manifest(intent, bronze.types)
            self._count_catalog(self.commit.finish(self.table_paths))
        self.watch.lap("replace")

    @_stage
    def commit_bookmark(self) -> None:
        """The bookmark moves only now, after every partition is replaced; then clean-up."""
        self.source.commit()
        if self.summary.status == "ok":
            self.faults.reached("bookmark_committed")
            self.commit.clean_up()
        self.watch.lap("commit")
