"""The pure steps of a batch: flatten, reject, cleanse, type, enrich, partition, rank.

Each takes a DataFrame and returns one; none reads or writes files (tests/test_silver_steps.py
runs each on inline rows).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from silver_job.contract import (
    ENRICH_INPUTS,
    EVENT_TS_COL,
    INGESTION_TS_COL,
    ISO_TS_RE,
    KEY_COL,
    LINEAGE_COLUMNS,
    MILEAGE_COL,
    PARSED_TS_COL,
    PARTITION_COLS,
    QUARANTINE_PARTITION_COLS,
    REJECT_REASON_COL,
    RFC_TS_RE,
    SOURCE_FILE_COL,
    TRIP_TS_COL,
    VALID_UNTIL_COL,
    SchemaError,
)


def quoted(path: tuple[str, ...]) -> str:
    """A column path Spark parses literally, whatever the field names contain."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in path)


def quoted_col(name: str) -> Column:
    return F.col(quoted((name,)))


# Spark's trim() removes only ASCII spaces; producers also send tabs, newlines and NBSP. These
# are the characters of the Java regex class [\s\p{Z}\x{FEFF}] (Java's \s, Unicode category Z,
# the BOM; the tests check the set against that regex on every BMP code point). btrim removes
# them without a regex, at a fraction of its CPU per value (docs/benchmarks/job-speed.md).
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
        columns.append(F.col(quoted(path)).alias(name))

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
    text, rfc, iso_date, iso_time, iso_frac, iso_zone = (quoted_col(n) for n in _TS_PARTS)
    parts = df.withColumn(_TS_PARTS[0], trim_text(quoted_col(source))).withColumns(
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
    columns = [parsed.alias(n) if n == target else quoted_col(n) for n in df.columns]
    return parts.select(*columns, *([] if target in df.columns else [parsed.alias(target)]))


def _blank(name: str) -> Column:
    value = trim_text(F.col(name))
    return value.isNull() | (value == "")


def _as_double(name: str) -> Column:
    """A double, or null for what is none (a producer that sent text): never an error."""
    return F.expr(f"try_cast({quoted((name,))} AS DOUBLE)")


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
        *[
            (trim_text(quoted_col(n)) if n in strings else quoted_col(n)).alias(n)
            for n in df.columns
        ]
    )
    out = []
    for name in df.columns:
        col = quoted_col(name)
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


def padded_parts(ts: Column, names: tuple[str, str, str]) -> dict[str, Column]:
    return {
        names[0]: F.lpad(F.year(ts).cast("string"), 4, "0"),
        names[1]: F.lpad(F.month(ts).cast("string"), 2, "0"),
        names[2]: F.lpad(F.dayofmonth(ts).cast("string"), 2, "0"),
    }


def add_partition_columns(df: DataFrame) -> DataFrame:
    """event_year/event_month/event_day as zero-padded strings of the UTC event time."""
    return df.withColumns(padded_parts(F.col(EVENT_TS_COL), PARTITION_COLS))


def add_quarantine_partition_columns(df: DataFrame) -> DataFrame:
    """Rejected rows are filed by the day their bronze file was ingested (UTC)."""
    return df.withColumns(padded_parts(F.col(INGESTION_TS_COL), QUARANTINE_PARTITION_COLS))


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
        *[quoted_col(name).desc_nulls_last() for name in (*leading, *rest)]
    )
    return df.withColumn("_rank", F.row_number().over(order))


def union_by_name(left: DataFrame | None, right: DataFrame) -> DataFrame:
    """Union by column name; a column missing on either side becomes null there."""
    return right if left is None else left.unionByName(right, allowMissingColumns=True)
