"""What a run computes from its batch, beside the steps: one pass of statistics, the silver
rows to write (the batch merged with the partitions it touches, ranked), and the quarantine
partitions as they must be after the run."""

from __future__ import annotations

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from silver_job.config import JobConfig
from silver_job.contract import (
    EVENT_TS_COL,
    INGESTION_TS_COL,
    LINEAGE_COLUMNS,
    PARSED_TS_COL,
    PARTITION_COLS,
    QUARANTINE_PARTITION_COLS,
    REJECT_REASON_COL,
    RESCUED_COL,
    SOURCE_FILE_COL,
)
from silver_job.files import read_partitions
from silver_job.steps import (
    REJECT_REASONS,
    add_quarantine_partition_columns,
    ensure_columns,
    padded_parts,
    rank_rows,
    transform_accepted,
    union_by_name,
)


def batch_stats(batch: DataFrame, rescued: list[str]) -> dict:
    """One pass over the cached batch, a grouped count (a few groups per bronze file and day,
    code-generated, unlike `collect_set`): records, counts by reason and of rescued values by
    column, source files, the silver and quarantine partitions the batch touches."""
    rejected = F.col(REJECT_REASON_COL).isNotNull()
    event_day = padded_parts(F.col(PARSED_TS_COL), PARTITION_COLS).values()
    ingest_day = padded_parts(F.col(INGESTION_TS_COL), QUARANTINE_PARTITION_COLS).values()
    keys = [F.col(SOURCE_FILE_COL), F.col(REJECT_REASON_COL)]
    keys += [F.when(~rejected, part) for part in event_day]
    keys += [F.when(rejected, part) for part in ingest_day]
    rescued_counts = [F.count(F.get_json_object(RESCUED_COL, _json_path(c))) for c in rescued]
    groups = batch.groupBy(*[k.alias(f"_k{i}") for i, k in enumerate(keys)]).agg(
        F.count(F.lit(1)).alias("_rows"), *[n.alias(f"_n{i}") for i, n in enumerate(rescued_counts)]
    )
    stats = {"records": 0, "sources": set(), "silver_parts": set(), "quarantine_parts": set()}
    stats |= dict.fromkeys([*REJECT_REASONS, *(f"rescued:{c}" for c in rescued)], 0)
    for row in groups.collect():
        (source, reason, *parts), (rows, *rescued_rows) = row[: len(keys)], row[len(keys) :]
        stats["records"] += rows
        stats["sources"].add(source or "")
        if reason is None:
            stats["silver_parts"].add(tuple(parts[:3]))
        else:
            stats[reason] += rows
            stats["quarantine_parts"].add(tuple(parts[3:]))
        for column, count in zip(rescued, rescued_rows, strict=True):
            stats[f"rescued:{column}"] += count
    return stats


def _json_path(name: str) -> str:
    return "$['" + name.replace("'", "\\'") + "']"


def sorted_parts(rows: list) -> list[tuple[str, ...]]:
    return sorted((tuple(r) for r in rows), key=lambda t: tuple(str(v) for v in t))


def consolidate_silver(
    spark: SparkSession, config: JobConfig, batch: DataFrame, touched: list[tuple[str, ...]]
) -> DataFrame | None:
    """Batch rows + existing rows of the touched partitions, ranked (`_rank` 1 = keep).

    None when there is nothing to write (no accepted row, and no full refresh).
    """
    if not touched and not config.full_refresh:
        return None
    good = batch.where(F.col(REJECT_REASON_COL).isNull())
    accepted = transform_accepted(
        good.withColumn(EVENT_TS_COL, F.col(PARSED_TS_COL)).drop(REJECT_REASON_COL, PARSED_TS_COL),
        config.source_timezone,
    )
    existing = read_partitions(
        spark, config.silver_path, PARTITION_COLS, None if config.full_refresh else touched
    )
    if not touched and existing is None:
        return None
    return rank_rows(union_by_name(existing, accepted) if touched else existing)


def observed_dedup(ranked: DataFrame):
    """The rows to keep, and a function that returns, once they are written, the rows before
    and after dedup and the partitions they fill: observed by the write itself (no extra pass,
    no cache; the staged write never touches the partitions being read)."""
    before, after = Observation("before_dedup"), Observation("after_dedup")
    keep = (
        ranked.observe(before, F.count(F.lit(1)).alias("rows"))
        .where(F.col("_rank") == 1)
        .drop("_rank")
        .observe(
            after,
            F.count(F.lit(1)).alias("rows"),
            # One string: an observed array comes back to Python as a bare Java object.
            F.concat_ws(",", F.collect_set(F.concat_ws("-", *PARTITION_COLS))).alias("parts"),
        )
    )
    return keep, lambda: {
        "rows_before_dedup": before.get["rows"],
        "rows_after_dedup": after.get["rows"],
        "partitions_written": sorted(filter(None, after.get["parts"].split(","))),
    }


def quarantine_rows(
    spark: SparkSession, config: JobConfig, batch: DataFrame, touched: list[tuple[str, ...]]
) -> DataFrame:
    """The touched quarantine partitions as they must be after this run: their rows from other
    bronze files, plus this batch's rejected rows (raw as read, with their reason).

    Rows that came from this batch's bronze files (a rerun after a failure) are replaced, not
    duplicated.
    """
    rejects = add_quarantine_partition_columns(
        batch.where(F.col(REJECT_REASON_COL).isNotNull()).drop(PARSED_TS_COL)
    )
    existing = read_partitions(spark, config.quarantine_path, QUARANTINE_PARTITION_COLS, touched)
    if existing is not None:
        sources = batch.select(INGESTION_TS_COL, SOURCE_FILE_COL).distinct()
        existing = ensure_columns(existing, LINEAGE_COLUMNS)
        same_source = (existing[INGESTION_TS_COL].eqNullSafe(sources[INGESTION_TS_COL])) & (
            existing[SOURCE_FILE_COL].eqNullSafe(sources[SOURCE_FILE_COL])
        )
        existing = existing.join(F.broadcast(sources), same_source, "left_anti")
    return union_by_name(existing, rejects)
