"""The job keeps its Glue catalog tables itself (silver_job/catalog.py), on moto's Glue: after
every run the catalog lists exactly silver's and quarantine's partition folders and their
Parquet columns, whoever started the run; nothing is dropped, retyped or rewritten for nothing.
(A run killed between its data and its catalog step: tests/test_silver_commit.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pyarrow as pa
import pytest
from bronze_factory import V1_SCHEMA, record, write_bronze
from glue_catalog import (
    CATALOG_CONFIG,
    DATABASE,
    FAKE_CREDENTIALS,
    QUARANTINE_TABLE,
    SILVER_TABLE,
    TABLE_PARAMETERS,
    catalog_columns,
    catalog_partitions,
    create_tables,
    folder_partitions,
    parquet_columns,
)
from lake import Lake
from moto import mock_aws
from pyspark.sql import types as T
from silver_job.catalog import Catalog, hive_type
from silver_job.config import JobConfig
from silver_job.contract import PARTITION_COLS, QUARANTINE_PARTITION_COLS

D29, D30, D31 = (f"{w}, {d} Oct 2025 11:00:00" for w, d in (("Wed", 29), ("Thu", 30), ("Fri", 31)))


@pytest.fixture
def glue(monkeypatch):
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_GLUE", raising=False)
    with mock_aws():
        yield boto3.client("glue")


def with_extra(**fields: pa.DataType) -> pa.Schema:
    schema = V1_SCHEMA
    for name, dtype in fields.items():
        schema = schema.append(pa.field(name, dtype))
    return schema


def assert_catalog_is_the_lake(spark, glue, lake: Lake) -> None:
    """Partitions = the partition folders (values and locations); columns = the Parquet
    schema's data columns; both tables; the Terraform-set properties kept."""
    for table, root, keys in (
        (SILVER_TABLE, lake.silver, PARTITION_COLS),
        (QUARANTINE_TABLE, lake.quarantine, QUARANTINE_PARTITION_COLS),
    ):
        assert catalog_partitions(glue, table) == folder_partitions(root)
        assert sorted(catalog_columns(glue, table)) == sorted(parquet_columns(spark, root, keys))
        got = glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]
        assert got["Parameters"] == TABLE_PARAMETERS
        assert [k["Name"] for k in got["PartitionKeys"]] == list(keys)


# --- Types ------------------------------------------------------------------------------------


# Every type the schema registry can hold (the Lambda's bronze types, flattened: string,
# double, bigint, boolean, timestamp, lists and lists of structs) and those the job derives
# (timestamp, date, double), written out in Athena's DDL spelling.
@pytest.mark.parametrize(
    "spark_type, athena",
    [
        (T.StringType(), "string"),
        (T.DoubleType(), "double"),
        (T.LongType(), "bigint"),
        (T.IntegerType(), "int"),
        (T.ShortType(), "smallint"),
        (T.ByteType(), "tinyint"),
        (T.FloatType(), "float"),
        (T.BooleanType(), "boolean"),
        (T.TimestampType(), "timestamp"),
        (T.TimestampNTZType(), "timestamp"),
        (T.DateType(), "date"),
        (T.BinaryType(), "binary"),
        (T.DecimalType(12, 3), "decimal(12,3)"),
        (T.ArrayType(T.StringType()), "array<string>"),
        (T.ArrayType(T.DoubleType()), "array<double>"),
        (
            T.ArrayType(
                T.StructType(
                    [
                        T.StructField("id", T.StringType()),
                        T.StructField("psi", T.DoubleType()),
                        T.StructField("at", T.TimestampType()),
                    ]
                )
            ),
            "array<struct<id:string,psi:double,at:timestamp>>",
        ),
        (T.MapType(T.StringType(), T.LongType()), "map<string,bigint>"),
        (
            T.StructType(
                [T.StructField("a", T.ArrayType(T.BooleanType())), T.StructField("b", T.DateType())]
            ),
            "struct<a:array<boolean>,b:date>",
        ),
    ],
)
def test_each_spark_type_gets_its_exact_athena_type(spark_type, athena):
    assert hive_type(spark_type) == athena


def test_a_type_athena_cannot_hold_is_refused_naming_it():
    with pytest.raises(ValueError, match="no Hive type for the Spark type void"):
        hive_type(T.NullType())


def test_the_registrys_types_of_a_real_drifting_lake_map_exactly(spark, tmp_path):
    """The types a run really recorded (_schema.json) -> the catalog's, by the same map."""
    lake = Lake(tmp_path)
    extra = {"x": pa.float64(), "tags": pa.list_(pa.string()), "flag": pa.bool_()}
    extra["sensors"] = pa.list_(pa.struct([("id", pa.string()), ("psi", pa.float64())]))
    rec = record("A", 1.0, D29, x=1.5, tags=["a"], flag=True, sensors=[{"id": "s", "psi": 2.0}])
    write_bronze(lake.bronze, "one", [rec], schema=with_extra(**extra))
    lake.run(spark)
    registry = json.loads((lake.commits / "_schema.json").read_text())
    types = {n: hive_type(T._parse_datatype_json_string(v)) for n, v in registry.items()}
    assert {
        k: types[k] for k in ("x", "tags", "flag", "sensors", "year", "ingestion_timestamp")
    } == {
        "x": "double",
        "tags": "array<string>",
        "flag": "boolean",
        "sensors": "array<struct<id:string,psi:double>>",
        "year": "bigint",
        "ingestion_timestamp": "timestamp",
    }


# --- Runs on moto's Glue ----------------------------------------------------------------------


def test_after_each_run_the_catalog_is_silvers_partitions_and_columns_drift_included(
    spark, glue, tmp_path
):
    lake = Lake(tmp_path, **CATALOG_CONFIG)
    create_tables(glue, lake)
    first = {"x": pa.float64(), "s": pa.struct([("a", pa.float64())]), "flag": pa.bool_()}
    rows = [record("A", 1.0, D29, x=1.5, s={"a": 2.0}, flag=True), record("  ", 1.0, D29)]
    write_bronze(lake.bronze, "first", rows, schema=with_extra(**first), mtime=1_700_000_000)

    summary = lake.run(spark)

    assert summary["partitions_registered"] == {
        "silver": ["event_year=2025/event_month=10/event_day=29"],
        "quarantine": ["ingest_year=2025/ingest_month=10/ingest_day=29"],
    }
    assert_catalog_is_the_lake(spark, glue, lake)
    assert dict(catalog_columns(glue, QUARANTINE_TABLE))["reject_reason"] == "string"
    before = catalog_columns(glue, SILVER_TABLE)

    # Drift: x and flag change type (rescued: silver keeps double and boolean), s arrives as a
    # scalar (a new column s), a new field y; a new day.
    drifted = {"x": pa.string(), "s": pa.string(), "flag": pa.float64(), "y": pa.int64()}
    later = record("B", 2.0, D30, x="ten", s="flat", flag=1.0, y=7)
    write_bronze(lake.bronze, "drift", [later], schema=with_extra(**drifted), mtime=1_700_000_100)

    summary = lake.run(spark)

    assert summary["values_rescued"] == {"flag": 1, "x": 1}
    assert summary["partitions_registered"] == {
        "silver": ["event_year=2025/event_month=10/event_day=30"]
    }
    assert summary["columns_added"] == {"silver": ["s", "y"]}
    assert_catalog_is_the_lake(spark, glue, lake)
    after = catalog_columns(glue, SILVER_TABLE)
    assert after == [*before, ("s", "string"), ("y", "bigint")]  # appended, none retyped
    assert dict(after)["x"] == "double" and dict(after)["flag"] == "boolean"

    # A run that rewrites a registered day with known columns writes nothing to the catalog
    # (no new table version).
    versions = glue.get_table_versions(DatabaseName=DATABASE, TableName=SILVER_TABLE)
    write_bronze(lake.bronze, "known", [record("A", 5.0, D29)], mtime=1_700_000_200)
    summary = lake.run(spark)
    assert summary["partitions_written"] == ["2025-10-29"]
    assert (summary["partitions_registered"], summary["columns_added"]) == ({}, {})
    again = glue.get_table_versions(DatabaseName=DATABASE, TableName=SILVER_TABLE)
    assert len(again["TableVersions"]) == len(versions["TableVersions"])
    assert_catalog_is_the_lake(spark, glue, lake)
    # A full refresh rewrites the quarantine with the whole batch's columns: they follow.
    summary = lake.run(spark, full_refresh=True)
    assert summary["columns_added"] == {"quarantine": ["s", "y"]}
    assert_catalog_is_the_lake(spark, glue, lake)


def test_a_manual_full_refresh_registers_every_partition_with_no_crawler(spark, glue, tmp_path):
    lake = Lake(tmp_path)  # silver written before the job kept the catalog
    write_bronze(lake.bronze, "a", [record("A", 1.0, D29), record("B", 2.0, D30)])
    write_bronze(lake.bronze, "b", [record("C", 1.0, D31), record("BAD", -1.0, D31)])
    lake.run(spark)
    create_tables(glue, lake)
    assert catalog_partitions(glue, SILVER_TABLE) == []

    summary = lake.run(spark, full_refresh=True, **CATALOG_CONFIG)

    assert summary["partitions_registered"]["silver"] == [
        f"event_year=2025/event_month=10/event_day={d}" for d in ("29", "30", "31")
    ]
    assert_catalog_is_the_lake(spark, glue, lake)


def test_partitions_the_catalog_has_stay_as_they_are(spark, glue, tmp_path):
    lake = Lake(tmp_path, **CATALOG_CONFIG)
    create_tables(glue, lake)
    part = lake.silver / "event_year=2025/event_month=10/event_day=29"
    kept = {"Values": ["2025", "10", "29"], "Parameters": {"set_by": "someone"}}
    kept["StorageDescriptor"] = {"Location": f"{part}/", "Columns": []}
    glue.create_partition(DatabaseName=DATABASE, TableName=SILVER_TABLE, PartitionInput=kept)
    write_bronze(lake.bronze, "a", [record("A", 1.0, D29), record("B", 2.0, D30)])

    summary = lake.run(spark)

    assert summary["partitions_registered"]["silver"] == [
        "event_year=2025/event_month=10/event_day=30"
    ]
    got = glue.get_partition(
        DatabaseName=DATABASE, TableName=SILVER_TABLE, PartitionValues=["2025", "10", "29"]
    )["Partition"]
    assert (got["Parameters"], got["StorageDescriptor"]["Columns"]) == ({"set_by": "someone"}, [])
    assert catalog_partitions(glue, SILVER_TABLE) == folder_partitions(lake.silver)


class CountingGlue:
    """A Glue client that records the size of each BatchCreatePartition and each UpdateTable."""

    def __init__(self, client):
        self._client, self.batches, self.updates = client, [], 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def batch_create_partition(self, **params):
        self.batches.append(len(params["PartitionInputList"]))
        return self._client.batch_create_partition(**params)

    def update_table(self, **params):
        self.updates += 1
        return self._client.update_table(**params)


def test_many_partitions_go_in_calls_of_at_most_100_and_a_replay_sends_none(glue, tmp_path):
    lake = Lake(tmp_path)
    create_tables(glue, lake)
    days = [
        f"event_year={2000 + i // 12}/event_month={i % 12 + 1:02d}/event_day=01" for i in range(152)
    ]
    intent = [{"table": "silver", "partitions": {d: ["p.parquet"] for d in days}}]
    intent[0]["columns"] = [["carChassis", "string"], ["currentMileage", "double"]]
    counting = CountingGlue(glue)
    catalog = Catalog(counting, DATABASE, {"silver": SILVER_TABLE})
    paths = {"silver": str(lake.silver)}

    first = catalog.update(intent, paths)
    replay = catalog.update(intent, paths)

    assert counting.batches == [100, 52]  # and none for the replay
    assert counting.updates == 1
    assert first.partitions_registered == {"silver": sorted(days)}
    assert (replay.partitions_registered, replay.columns_added) == ({}, {})
    values = sorted([d.split("/")[0][11:], d.split("/")[1][12:], "01"] for d in days)
    assert [v for v, _ in catalog_partitions(glue, SILVER_TABLE)] == values


def test_a_catalog_table_elsewhere_or_missing_fails_the_run_before_the_bookmark_moves(
    spark, glue, tmp_path
):
    lake = Lake(tmp_path, **CATALOG_CONFIG)
    create_tables(glue, lake)
    glue.delete_table(DatabaseName=DATABASE, Name=QUARANTINE_TABLE)
    write_bronze(lake.bronze, "a", [record("A", 1.0, D29), record("BAD", -1.0, D29)])
    with pytest.raises(ValueError, match=f"catalog table {DATABASE}.{QUARANTINE_TABLE} does not"):
        lake.run(spark)
    assert not (lake.state / "silver_consolidation__car_telemetry.json").exists()

    moved = glue.get_table(DatabaseName=DATABASE, Name=SILVER_TABLE)["Table"]
    moved["StorageDescriptor"]["Location"] = "s3://elsewhere/car_telemetry/"
    table_input = {k: moved[k] for k in ("Name", "StorageDescriptor", "PartitionKeys")}
    glue.update_table(DatabaseName=DATABASE, TableInput=table_input)
    with pytest.raises(ValueError, match="is at 's3://elsewhere/car_telemetry/', but the job"):
        Catalog(glue, DATABASE, {"silver": SILVER_TABLE}).update(
            [{"table": "silver", "partitions": {}, "columns": []}], {"silver": str(lake.silver)}
        )


@pytest.mark.parametrize("given", [["catalog_database"], ["silver_table", "quarantine_table"]])
def test_the_catalog_arguments_come_all_three_or_not_at_all(given):
    args = {"bronze_path": "b/car_data", "silver_path": "s/car_telemetry"}
    args |= {"quarantine_path": "s/q/car_telemetry"}
    args |= {name: CATALOG_CONFIG[name] for name in given}
    with pytest.raises(ValueError, match="the catalog needs all of --catalog_database, --silver_"):
        JobConfig.from_args(args)


def test_a_run_without_a_catalog_imports_no_boto3():
    probe = (
        "import sys, silver_consolidation_job, silver_job.run, silver_job.catalog;"
        "print('boto3' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr[-2000:]
