"""The consolidation job end to end on Parquet under tmp_path: several runs, whole results.

Expected results are written out by hand from the inputs, never computed with the job's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pytest
from bronze_factory import (
    METRICS,
    TRIP,
    V1_FIELDS,
    V1_SCHEMA,
    record,
    write_bronze,
)
from lake import Lake

pytestmark = pytest.mark.spark

UTC = dt.UTC
D29 = "Wed, 29 Oct 2025 11:00:00"
D30 = "Thu, 30 Oct 2025 11:00:00"


def files_snapshot(root: Path) -> dict[str, str]:
    """Every data file under root (checksums excluded) -> sha256 of its bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".crc")
    }


def partition_dirs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.glob("*/*/*") if p.is_dir())


@pytest.fixture
def lake(tmp_path):
    return Lake(tmp_path)


KEY = ("carChassis", "event_year", "event_month", "event_day", "currentMileage", "source_file")


# 1 ---------------------------------------------------------------------------------------------
def test_seed_example_three_runs_and_one_run_both_keep_12000(spark, tmp_path):
    uploads = [("car_raw_1", 4321.0), ("car_raw_2", 8500.0), ("car_raw_3", 12000.0)]
    stepwise, at_once = Lake(tmp_path / "stepwise"), Lake(tmp_path / "at_once")
    for name, mileage in uploads:
        write_bronze(stepwise.bronze, name, [record("5ifRW", mileage, D29)])
        write_bronze(at_once.bronze, name, [record("5ifRW", mileage, D29)])
        stepwise.run(spark)
    summary = at_once.run(spark)

    expected = [("5ifRW", "2025", "10", "29", 12000.0, "landing/car_raw_3.json")]
    assert stepwise.silver_rows(spark, *KEY) == expected
    assert at_once.silver_rows(spark, *KEY) == expected
    assert stepwise.silver_rows(spark) == at_once.silver_rows(spark)
    assert (summary["bronze_files_read"], summary["bronze_records_read"]) == (3, 3)
    assert (summary["rows_before_dedup"], summary["rows_after_dedup"]) == (3, 1)
    assert summary["partitions_written"] == ["2025-10-29"]

    silver = spark.read.parquet(str(at_once.silver)).collect()[0].asDict()
    assert silver == {
        "carChassis": "5ifRW",
        "Model": "HB20 Sedan",
        "year": 2024,
        "ModelYear": 2025,
        "Manufacturer": "Hyundai",
        "horsePower": 120.0,
        "gasType": "Flex",
        "currentMileage": 12000.0,
        "color": "blue",
        "fuelCapacityLiters": 50.0,
        "metrics_engineTempCelsius": 98.0,
        "metrics_oilTempCelsius": 105.0,
        "metrics_batteryChargePerc": 65.0,
        "metrics_fuelAvailableLiters": 32.0,
        "metrics_coolantCelsius": 90.0,
        "metrics_trip_tripMileage": 16.0,
        "metrics_trip_tripTimeMinutes": 63.0,
        "metrics_trip_tripFuelLiters": 3.0,
        "metrics_trip_tripMaxSpeedKm": 55.0,
        "metrics_trip_tripAverageSpeedKm": 28.0,
        "metrics_trip_tripStartTimestamp": dt.datetime(2025, 10, 29, 9, 57, 35),
        "metrics_metricTimestamp": dt.datetime(2025, 10, 29, 11, 0, 0),
        "carInsurance_number": "INS-1",
        "carInsurance_provider": "SafeAuto",
        "carInsurance_validUntil": dt.date(2026, 10, 29),
        "market_currentPrice": 108000.0,
        "market_currency": "BRL",
        "market_location": "Recife, PE",
        "market_dealer": "Pateo",
        "market_warrantyYears": 5.0,
        "market_evaluator": "Fiepe",
        "ingestion_timestamp": dt.datetime(2025, 10, 29, 12, 0),
        "source_bucket": "landing",
        "source_file": "landing/car_raw_3.json",
        "_rescued_data": None,  # always there; null while no value had another type
        "fuel_level_percentage": 64.0,
        "km_per_liter": 5.33,
        "event_year": "2025",
        "event_month": "10",
        "event_day": "29",
    }


# 2 ---------------------------------------------------------------------------------------------
def test_no_loss_when_a_later_run_touches_the_same_day(spark, lake):
    write_bronze(lake.bronze, "run1", [record("A", 100.0, D29), record("B", 50.0, D29)])
    lake.run(spark)
    write_bronze(lake.bronze, "run2", [record("C", 7.0, D29), record("A", 150.0, D29)])
    summary = lake.run(spark)
    assert lake.silver_rows(spark, *KEY) == [
        ("A", "2025", "10", "29", 150.0, "landing/run2.json"),
        ("B", "2025", "10", "29", 50.0, "landing/run1.json"),
        ("C", "2025", "10", "29", 7.0, "landing/run2.json"),
    ]
    assert (summary["bronze_files_read"], summary["rows_before_dedup"]) == (1, 4)
    assert summary["rows_after_dedup"] == 3


# 3 ---------------------------------------------------------------------------------------------
def test_late_and_new_days_rewrite_only_their_partitions(spark, lake):
    days = {
        "01": "Sat, 1 Nov 2025 08:00:00",
        "02": "Sun, 2 Nov 2025 08:00:00",
        "03": "Mon, 3 Nov 2025 08:00:00",
    }
    write_bronze(lake.bronze, "history", [record(c, 10.0, t) for c in "AB" for t in days.values()])
    lake.run(spark)
    before = files_snapshot(lake.silver)

    late_and_new = [record("A", 99.0, days["01"]), record("A", 5.0, "2025-11-04T10:00:00Z")]
    write_bronze(lake.bronze, "late", late_and_new)
    summary = lake.run(spark)
    after = files_snapshot(lake.silver)

    assert summary["partitions_written"] == ["2025-11-01", "2025-11-04"]

    def under(snapshot, day):
        return {k: v for k, v in snapshot.items() if f"event_day={day}/" in k}

    for untouched in ("02", "03"):
        assert under(after, untouched) == under(before, untouched) != {}
    assert under(after, "01").keys().isdisjoint(under(before, "01").keys())
    assert len(under(after, "01")) == len(under(after, "04")) == 1
    assert [r for r in lake.silver_rows(spark, *KEY) if r[3] in ("01", "04")] == [
        ("A", "2025", "11", "01", 99.0, "landing/late.json"),
        ("A", "2025", "11", "04", 5.0, "landing/late.json"),
        ("B", "2025", "11", "01", 10.0, "landing/history.json"),
    ]


# 4 ---------------------------------------------------------------------------------------------
def test_rerun_with_nothing_new_changes_nothing_and_full_refresh_gives_same_rows(spark, lake):
    write_bronze(lake.bronze, "f1", [record("A", 1.0, D29), record("B", 2.0, D30)])
    write_bronze(lake.bronze, "f2", [record("A", 3.0, D29), record("", 2.0, D30)])
    lake.run(spark)
    rows = lake.silver_rows(spark)
    snapshot = {
        str(p): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(lake.root.rglob("*"))
        if p.is_file()
    }

    summary = lake.run(spark)
    assert summary["status"] == "no_new_data"
    assert summary["partitions_written"] == []
    assert {
        str(p): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(lake.root.rglob("*"))
        if p.is_file()
    } == snapshot

    quarantined = lake.quarantine_rows(spark, "carChassis", "reject_reason", "source_file")
    lake.run(spark, full_refresh=True)
    assert lake.silver_rows(spark) == rows
    assert lake.quarantine_rows(spark, "carChassis", "reject_reason", "source_file") == quarantined
    assert quarantined == [("", "blank_carChassis", "landing/f2.json")]


# 5 ---------------------------------------------------------------------------------------------
def test_mileage_ties_resolve_the_same_way_on_every_run(spark, tmp_path):
    tie = {
        "x": record("A", 500.0, D29, color="Red"),
        "y": record("A", 500.0, D29, color="Green"),
        "z": record("A", 500.0, "Wed, 29 Oct 2025 10:00:00", color="Black"),
    }
    outcomes = []
    # x before y and y before x, with z first and last
    for i, order in enumerate(["xyz", "zyx"]):
        lake = Lake(tmp_path / f"order{i}")
        for name in order:  # one file per run, in a different order each time
            write_bronze(lake.bronze, name, [tie[name]])
            lake.run(spark)
        outcomes.append(lake.silver_rows(spark, "carChassis", "color", "source_file"))
    # x and y tie on mileage, event time and ingestion time: the greatest source_file
    # ("landing/y.json") wins; z has an earlier event time.
    assert outcomes == [[("A", "green", "landing/y.json")]] * 2

    # Inside one file x and y tie on mileage, event, ingestion time and source file: the other
    # columns decide, in name order; the first that differs is `color` ("red" > "green").
    together = []
    for i, order in enumerate(["xyz", "zyx"]):
        lake = Lake(tmp_path / f"together{i}")
        write_bronze(lake.bronze, "all", [tie[name] for name in order])
        lake.run(spark)
        together.append(lake.silver_rows(spark, "carChassis", "color", "source_file"))
    assert together == [[("A", "red", "landing/all.json")]] * 2


# 6 ---------------------------------------------------------------------------------------------
def test_rejected_rows_go_to_quarantine_with_reasons_and_raw_values(spark, lake):
    bad_ts = record("T1", 5.0, "31/10/2025 11h")
    no_ts = record("T2", 5.0)
    no_ts["metrics"]["metricTimestamp"] = None
    batch = [
        record("GOOD1", 10.0, D29),
        record("   ", 10.0, D29),
        bad_ts,
        no_ts,
        record("NEG", -42.0, D29),
        record("NOMILE", None, D29),
        record("GOOD2", 0.0, D30),
    ]
    write_bronze(lake.bronze, "mixed", batch)
    summary = lake.run(spark)

    assert lake.silver_rows(spark, *KEY) == [
        ("GOOD1", "2025", "10", "29", 10.0, "landing/mixed.json"),
        ("GOOD2", "2025", "10", "30", 0.0, "landing/mixed.json"),
    ]
    cols = (
        "carChassis",
        "currentMileage",
        "metrics_metricTimestamp",
        "reject_reason",
        "ingest_day",
    )
    expected_quarantine = [
        ("   ", 10.0, D29, "blank_carChassis", "29"),
        ("NEG", -42.0, D29, "negative_currentMileage", "29"),
        ("NOMILE", None, D29, "missing_currentMileage", "29"),
        ("T1", 5.0, "31/10/2025 11h", "unparsable_metricTimestamp", "29"),
        ("T2", 5.0, None, "missing_metricTimestamp", "29"),
    ]
    assert lake.quarantine_rows(spark, *cols) == expected_quarantine
    assert summary["rows_rejected"] == {
        "blank_carChassis": 1,
        "unparsable_metricTimestamp": 1,
        "missing_metricTimestamp": 1,
        "missing_currentMileage": 1,
        "negative_currentMileage": 1,
    }
    assert (summary["bronze_records_read"], summary["rows_accepted"]) == (7, 2)
    assert partition_dirs(lake.quarantine) == ["ingest_year=2025/ingest_month=10/ingest_day=29"]

    # A rerun of the same bronze after a failure (bookmark not advanced) adds no duplicates.
    (lake.state / "silver_consolidation__car_telemetry.json").unlink()
    lake.run(spark)
    assert lake.quarantine_rows(spark, *cols) == expected_quarantine


def test_quarantine_keeps_other_files_rows_when_a_rerun_replaces_its_own(spark, lake):
    write_bronze(lake.bronze, "first", [record("", 1.0, D29)])
    lake.run(spark)
    write_bronze(lake.bronze, "second", [record("NEG", -1.0, D29)])
    lake.run(spark)
    cols = ("carChassis", "reject_reason", "source_file")
    expected = [
        ("", "blank_carChassis", "landing/first.json"),
        ("NEG", "negative_currentMileage", "landing/second.json"),
    ]
    assert lake.quarantine_rows(spark, *cols) == expected
    lake.run(spark, full_refresh=True)
    assert lake.quarantine_rows(spark, *cols) == expected


# 7 ---------------------------------------------------------------------------------------------
def test_new_nested_field_becomes_a_column_and_old_partitions_still_read(spark, lake):
    write_bronze(lake.bronze, "old", [record("A", 1.0, D29)])
    lake.run(spark)

    trip2 = pa.struct([*TRIP, ("tripIdleMinutes", pa.float64())])
    metrics2 = pa.struct([(f.name, trip2 if f.name == "trip" else f.type) for f in METRICS])
    extra = pa.struct(
        [("tirePressurePsi", pa.float64()), ("sensor", pa.struct([("id", pa.string())]))]
    )
    fields2 = [(n, metrics2 if n == "metrics" else t) for n, t in V1_FIELDS]
    schema2 = pa.schema(
        [
            *fields2,
            ("diagnostics", extra),
            *list(zip(V1_SCHEMA.names[-3:], V1_SCHEMA.types[-3:], strict=True)),
        ]
    )
    newer = record("B", 2.0, D30)
    newer["metrics"]["trip"]["tripIdleMinutes"] = 4.5
    newer["diagnostics"] = {"tirePressurePsi": 32.5, "sensor": {"id": "S-9"}}
    write_bronze(lake.bronze, "new", [newer], schema=schema2)
    lake.run(spark)

    cols = (
        "carChassis",
        "event_day",
        "metrics_trip_tripIdleMinutes",
        "diagnostics_tirePressurePsi",
        "diagnostics_sensor_id",
    )
    assert lake.silver_rows(spark, *cols) == [
        ("A", "29", None, None, None),
        ("B", "30", 4.5, 32.5, "S-9"),
    ]
    old_only = spark.read.parquet(str(lake.silver / "event_year=2025/event_month=10/event_day=29"))
    assert "metrics_trip_tripIdleMinutes" not in old_only.columns
    # A later run that touches the old day rewrites it with the wider schema.
    write_bronze(lake.bronze, "later", [record("A", 3.0, D29)])
    lake.run(spark)
    assert lake.silver_rows(spark, *cols) == [
        ("A", "29", None, None, None),
        ("B", "30", 4.5, 32.5, "S-9"),
    ]


# 8 ---------------------------------------------------------------------------------------------
def test_partition_directories_stay_zero_padded_over_several_runs(spark, lake):
    june = ["Thu, 5 Jun 2025 08:00:00", "Fri, 6 Jun 2025 08:00:00", "2025-06-05T23:00:00Z"]
    for i, when in enumerate(june):
        write_bronze(
            lake.bronze, f"run{i}", [record("A", float(10 + i), when), record("B", 1.0, when)]
        )
        lake.run(spark)
    assert partition_dirs(lake.silver) == [
        "event_year=2025/event_month=06/event_day=05",
        "event_year=2025/event_month=06/event_day=06",
    ]
    assert lake.silver_rows(spark, "carChassis", "event_month", "event_day", "currentMileage") == [
        ("A", "06", "05", 12.0),
        ("A", "06", "06", 11.0),
        ("B", "06", "05", 1.0),
        ("B", "06", "06", 1.0),
    ]


# 9 ---------------------------------------------------------------------------------------------
def test_full_refresh_cleans_a_silver_that_holds_duplicates(spark, lake):
    write_bronze(lake.bronze, "a", [record("A", 10.0, D29), record("B", 1.0, D30)])
    write_bronze(lake.bronze, "b", [record("A", 20.0, D29)])
    lake.run(spark)
    # The old per-file design appended every upload: add two stale duplicates beside the job's file.
    day = lake.silver / "event_year=2025/event_month=10/event_day=29"
    dup = spark.read.parquet(str(day)).collect()[0].asDict()
    legacy = spark.createDataFrame(
        [
            {**dup, "currentMileage": 10.0, "source_file": "landing/a.json"},
            {**dup, "currentMileage": 5.0},
        ],
        spark.read.parquet(str(day)).schema,
    )
    legacy.coalesce(1).write.mode("append").parquet(str(day))
    assert [r[0] for r in lake.silver_rows(spark, "carChassis", "event_day")].count("A") == 3

    summary = lake.run(spark, full_refresh=True)
    assert lake.silver_rows(spark, *KEY) == [
        ("A", "2025", "10", "29", 20.0, "landing/b.json"),
        ("B", "2025", "10", "30", 1.0, "landing/a.json"),
    ]
    assert (summary["rows_before_dedup"], summary["rows_after_dedup"]) == (7, 2)
    assert [len(list(p.glob("*.parquet"))) for p in sorted(lake.silver.glob("*/*/*"))] == [1, 1]


def test_full_refresh_with_nothing_new_still_cleans_silver(spark, lake):
    write_bronze(lake.bronze, "a", [record("A", 10.0, D29)])
    lake.run(spark)
    day = lake.silver / "event_year=2025/event_month=10/event_day=29"
    old = spark.read.parquet(str(day))
    spark.createDataFrame([{**old.first().asDict(), "currentMileage": 3.0}], old.schema).coalesce(
        1
    ).write.mode("append").parquet(str(day))
    assert lake.run(spark)["status"] == "no_new_data"
    assert len(lake.silver_rows(spark, "carChassis")) == 2

    summary = lake.run(spark, full_refresh=True)
    assert (summary["bronze_files_read"], summary["rows_before_dedup"]) == (1, 3)
    assert lake.silver_rows(spark, *KEY) == [("A", "2025", "10", "29", 10.0, "landing/a.json")]
    (lake.state / "silver_consolidation__car_telemetry.json").unlink()
    lake.bronze.joinpath("ingest_year=2025/ingest_month=10/ingest_day=29/a.parquet").unlink()
    summary = lake.run(spark, full_refresh=True)
    assert (summary["status"], summary["bronze_files_read"], summary["rows_after_dedup"]) == (
        "ok",
        0,
        1,
    )
    assert lake.silver_rows(spark, *KEY) == [("A", "2025", "10", "29", 10.0, "landing/a.json")]


# safety and bookmark ---------------------------------------------------------------------------
def test_refuses_static_overwrite_before_touching_anything(spark, lake):
    write_bronze(lake.bronze, "f", [record("A", 1.0, D29)])
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "static")
    try:
        with pytest.raises(RuntimeError, match="refusing to run"):
            lake.run(spark)
    finally:
        spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    assert not lake.silver.exists() and not lake.state.exists()


def test_source_timezone_shifts_zone_less_times_into_utc_days(spark, tmp_path):
    lake = Lake(tmp_path, source_timezone="America/Sao_Paulo")
    write_bronze(
        lake.bronze,
        "f",
        [record("A", 1.0, "Wed, 29 Oct 2025 22:30:00"), record("B", 1.0, "2025-10-29T22:30:00Z")],
    )
    lake.run(spark)
    assert lake.silver_rows(spark, "carChassis", "event_day", "metrics_metricTimestamp") == [
        ("A", "30", dt.datetime(2025, 10, 30, 1, 30)),
        ("B", "29", dt.datetime(2025, 10, 29, 22, 30)),
    ]


def test_a_file_of_another_producer_is_rejected_row_by_row_not_a_crash(spark, lake):
    v2 = pa.schema(
        [
            ("event_id", pa.string()),
            ("carChassis", pa.string()),
            (
                "vehicle_static_info",
                pa.struct([("data", pa.struct([("Model", pa.string()), ("year", pa.float64())]))]),
            ),
            ("ingestion_timestamp", pa.timestamp("us", tz="UTC")),
            ("source_bucket", pa.string()),
            ("source_file", pa.string()),
        ]
    )
    write_bronze(
        lake.bronze,
        "v2",
        [
            {
                "event_id": "e1",
                "carChassis": "HBD",
                "vehicle_static_info": {"data": {"Model": "Versa", "year": 2025.0}},
            }
        ],
        schema=v2,
    )
    write_bronze(lake.bronze, "v1", [record("A", 1.0, D29)])
    summary = lake.run(spark)
    assert summary["rows_rejected"] == {"missing_metricTimestamp": 1}
    assert lake.silver_rows(spark, "carChassis", "currentMileage") == [("A", 1.0)]
    assert lake.quarantine_rows(
        spark, "carChassis", "vehicle_static_info_data_Model", "reject_reason"
    ) == [("HBD", "Versa", "missing_metricTimestamp")]


def test_rows_are_counted_input_equals_silver_plus_quarantine_plus_dedup(spark, lake):
    records = [record(c, float(m), D29) for c in "ABC" for m in (1, 2)] + [record("", 1.0, D29)]
    write_bronze(lake.bronze, "f", records)
    s = lake.run(spark)
    silver = len(lake.silver_rows(spark, "carChassis"))
    quarantine = len(lake.quarantine_rows(spark, "carChassis"))
    # 7 records: 3 cars x 2 readings and one blank chassis; one row per car survives the dedup.
    assert (s["bronze_records_read"], silver, quarantine) == (7, 3, 1)
    assert (s["rows_accepted"], s["rows_rejected"]) == (6, {"blank_carChassis": 1})
    assert (s["rows_before_dedup"], s["rows_after_dedup"]) == (6, 3)


def test_empty_bronze_folder_ends_quickly_and_writes_nothing(spark, lake):
    lake.bronze.mkdir(parents=True)
    summary = lake.run(spark)
    assert summary["status"] == "no_new_data"
    assert sorted(os.listdir(lake.root)) == ["bronze"]
