"""Builds bronze Parquet files shaped like the ingestion Lambda's output, for the job's tests.

Written independently of the job: plain dicts -> pyarrow with the bronze contract's types
(structs kept, numbers double, year/ModelYear int64, lineage columns).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.UTC

# The bronze contract (DESIGN.md section 2) in a SQL engine's own terms, so that the
# expectation is not a copy of the Lambda's pyarrow declaration: DuckDB turns it into Arrow.
BRONZE_DDL = """
CREATE TABLE bronze (
    carChassis VARCHAR, Model VARCHAR, "year" BIGINT, ModelYear BIGINT, Manufacturer VARCHAR,
    horsePower DOUBLE, gasType VARCHAR, currentMileage DOUBLE, color VARCHAR,
    fuelCapacityLiters DOUBLE,
    metrics STRUCT(
        engineTempCelsius DOUBLE, oilTempCelsius DOUBLE, batteryChargePerc DOUBLE,
        fuelAvailableLiters DOUBLE, coolantCelsius DOUBLE,
        trip STRUCT(
            tripMileage DOUBLE, tripTimeMinutes DOUBLE, tripFuelLiters DOUBLE,
            tripMaxSpeedKm DOUBLE, tripAverageSpeedKm DOUBLE, tripStartTimestamp VARCHAR
        ),
        metricTimestamp VARCHAR
    ),
    carInsurance STRUCT("number" VARCHAR, provider VARCHAR, validUntil VARCHAR),
    market STRUCT(
        currentPrice DOUBLE, currency VARCHAR, location VARCHAR, dealer VARCHAR,
        warrantyYears DOUBLE, evaluator VARCHAR
    ),
    -- lineage, added by the Lambda
    ingestion_timestamp TIMESTAMPTZ, source_bucket VARCHAR, source_file VARCHAR
)
"""


def _ddl_schema(ddl: str) -> pa.Schema:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ -> timestamp[us, tz=UTC]
    con.execute(ddl)
    return con.sql("SELECT * FROM bronze").to_arrow_table().schema


V1_SCHEMA = _ddl_schema(BRONZE_DDL)
V1_FIELDS = [(f.name, f.type) for f in V1_SCHEMA][:-3]
LINEAGE_FIELDS = [(f.name, f.type) for f in V1_SCHEMA][-3:]
METRICS = V1_SCHEMA.field("metrics").type
TRIP = METRICS.field("trip").type

BASE_RECORD = {
    "carChassis": "CAR-A",
    "Model": "HB20 Sedan",
    "year": 2024,
    "ModelYear": 2025,
    "Manufacturer": "hyundai",
    "horsePower": 120.0,
    "gasType": "Flex",
    "currentMileage": 4321.0,
    "color": "Blue",
    "fuelCapacityLiters": 50.0,
    "metrics": {
        "engineTempCelsius": 98.0,
        "oilTempCelsius": 105.0,
        "batteryChargePerc": 65.0,
        "fuelAvailableLiters": 32.0,
        "coolantCelsius": 90.0,
        "trip": {
            "tripMileage": 16.0,
            "tripTimeMinutes": 63.0,
            "tripFuelLiters": 3.0,
            "tripMaxSpeedKm": 55.0,
            "tripAverageSpeedKm": 28.0,
            "tripStartTimestamp": "Wed, 29 Oct 2025 09:57:35",
        },
        "metricTimestamp": "Wed, 29 Oct 2025 11:00:00",
    },
    "carInsurance": {"number": "INS-1", "provider": "SafeAuto", "validUntil": "2026-10-29"},
    "market": {
        "currentPrice": 108000.0,
        "currency": "BRL",
        "location": "Recife, PE",
        "dealer": "Pateo",
        "warrantyYears": 5.0,
        "evaluator": "Fiepe",
    },
}


def record(chassis: str = "CAR-A", mileage: float | None = 4321.0, ts: str | None = None, **over):
    """A v1 record; `ts` sets metrics.metricTimestamp; keyword overrides replace fields."""
    rec = copy.deepcopy(BASE_RECORD)
    rec["carChassis"] = chassis
    rec["currentMileage"] = mileage
    if ts is not None:
        rec["metrics"]["metricTimestamp"] = ts
    for key, value in over.items():
        rec[key] = value
    return rec


def write_bronze(
    bronze_root: Path,
    name: str,
    records: list[dict],
    *,
    ingested: dt.datetime = dt.datetime(2025, 10, 29, 12, 0, tzinfo=UTC),
    schema: pa.Schema = V1_SCHEMA,
    mtime: float | None = None,
) -> Path:
    """Writes one bronze file under car_data/ingest_year=/ingest_month=/ingest_day=/."""
    rows = [
        {
            **r,
            "ingestion_timestamp": ingested,
            "source_bucket": "landing",
            "source_file": f"landing/{name}.json",
        }
        for r in records
    ]
    folder = (
        bronze_root
        / f"ingest_year={ingested:%Y}"
        / f"ingest_month={ingested:%m}"
        / f"ingest_day={ingested:%d}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
