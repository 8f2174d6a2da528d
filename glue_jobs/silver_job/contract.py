"""The data contract as the job sees it: bronze and silver column names, the partition
layouts, the reject reasons' column, the columns whose type the contract fixes and those the job
fills itself. Names only: no Spark session, no I/O."""

from __future__ import annotations

from pyspark.sql import types as T

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


class SchemaError(ValueError):
    """A DataFrame lacks what a step needs, or its columns collide."""


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
