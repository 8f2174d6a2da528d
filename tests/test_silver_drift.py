"""Schema drift outside the contract: a field whose type changes between (or within) uploads
never fails a run and never loses a value. Silver keeps the first type a column had; a value of
another type goes, as JSON under its column name, into `_rescued_data` with its row."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
from bronze_factory import V1_SCHEMA, record, write_bronze
from lake import Lake
from pyspark.sql import types as T
from silver_job import contract

D29, D30 = "Wed, 29 Oct 2025 11:00:00", "Thu, 30 Oct 2025 11:00:00"


def with_extra(**fields: pa.DataType) -> pa.Schema:
    schema = V1_SCHEMA
    for name, dtype in fields.items():
        schema = schema.append(pa.field(name, dtype))
    return schema


FIRST = {  # the types silver learns first
    "x": pa.float64(),
    "s": pa.struct([("a", pa.float64())]),
    "tags": pa.list_(pa.string()),
    "flag": pa.bool_(),
}
DRIFTED = {"x": pa.string(), "s": pa.string(), "tags": pa.string(), "flag": pa.float64()}


def rows(df, *columns):
    return sorted(
        (tuple(r[c] for c in columns) for r in df.collect()), key=lambda t: str(t[0]) + str(t)
    )


def test_values_of_another_type_in_a_later_run_are_rescued_and_silver_keeps_its_types(
    spark, tmp_path
):
    lake = Lake(tmp_path)
    first = record("A", 1.0, D29, x=10.5, s={"a": 2.0}, tags=["p", "q"], flag=True)
    write_bronze(lake.bronze, "first", [first], schema=with_extra(**FIRST), mtime=1_700_000_000)
    lake.run(spark)
    drifted = record("B", 1.0, D29, x="ten", s="flat", tags="p,q", flag=1.0)
    write_bronze(lake.bronze, "drift", [drifted], schema=with_extra(**DRIFTED), mtime=1_700_000_100)

    summary = lake.run(spark)  # used to fail: "Failed to merge incompatible data types"

    assert summary["status"] == "ok"
    assert (summary["values_rescued"], summary["values_rescued_total"]) == (
        {"flag": 1, "tags": 1, "x": 1},
        3,
    )
    silver = lake.silver_df(spark)
    types = {f.name: f.dataType for f in silver.schema.fields}
    assert (types["x"], types["tags"], types["flag"], types["s_a"]) == (
        T.DoubleType(),
        T.ArrayType(T.StringType()),
        T.BooleanType(),
        T.DoubleType(),
    )
    # A scalar where a struct was is another path (s, not s_a): its own column, nothing lost.
    assert types["s"] == T.StringType()
    got = rows(silver, "carChassis", "x", "tags", "flag", "s_a", "s", "_rescued_data")
    assert [g[:6] for g in got] == [
        ("A", 10.5, ["p", "q"], True, 2.0, None),
        ("B", None, None, None, None, "flat"),
    ]
    assert got[0][6] is None
    assert json.loads(got[1][6]) == {"x": "ten", "tags": "p,q", "flag": 1.0}


def test_a_type_conflict_inside_one_batch_keeps_the_type_most_rows_have(spark, tmp_path):
    lake = Lake(tmp_path)
    many = [record(c, 1.0, D29, y=float(i), s={"a": 1.0}) for i, c in enumerate("AB")]
    few = [record("C", 1.0, D30, y="seven", s="scalar")]
    extra_many = with_extra(y=pa.float64(), s=pa.struct([("a", pa.float64())]))
    write_bronze(lake.bronze, "many", many, schema=extra_many)
    write_bronze(lake.bronze, "few", few, schema=with_extra(y=pa.string(), s=pa.string()))

    summary = lake.run(spark)  # the files cannot even be merged (struct s vs string s)

    assert (summary["status"], summary["values_rescued"]) == ("ok", {"y": 1})
    got = rows(lake.silver_df(spark), "carChassis", "y", "s_a", "s", "_rescued_data")
    assert got == [
        ("A", 0.0, 1.0, None, None),
        ("B", 1.0, 1.0, None, None),
        ("C", None, None, "scalar", '{"y":"seven"}'),
    ]


def test_a_full_refresh_over_bronze_holding_every_drift_gives_the_same_silver(spark, tmp_path):
    lake = Lake(tmp_path)
    batches = [
        ("first", [record("A", 1.0, D29, x=1.5, s={"a": 1.0}, tags=["t"], flag=False)], FIRST),
        ("drift", [record("B", 2.0, D29, x="n/a", s="s", tags="t", flag=0.0)], DRIFTED),
        ("again", [record("C", 3.0, D30, x=3.0, s={"a": 3.0}, tags=["u"], flag=True)], FIRST),
    ]
    for i, (name, records, extra) in enumerate(batches):
        write_bronze(
            lake.bronze, name, records, schema=with_extra(**extra), mtime=1_700_000_000 + i
        )
        assert lake.run(spark)["status"] == "ok"
    columns = ("carChassis", "x", "s_a", "s", "tags", "flag", "_rescued_data", "currentMileage")
    incremental = rows(lake.silver_df(spark), *columns)

    summary = lake.run(spark, full_refresh=True)

    assert (summary["status"], summary["values_rescued"]) == ("ok", {"flag": 1, "tags": 1, "x": 1})
    assert rows(lake.silver_df(spark), *columns) == incremental
    assert [r[0] for r in incremental] == ["A", "B", "C"]
    assert json.loads(incremental[1][6]) == {"x": "n/a", "tags": "t", "flag": 0.0}


def test_the_jobs_contract_types_are_the_lambdas_contract_flattened():
    """The job cannot import the Lambda (Terraform deploys it alone): its view of the contract's
    bronze types must still be the one declaration in lambdas/ingestion/ingest/contract.py."""
    from ingest import contract as lambda_contract

    spark_type = {
        pa.string(): T.StringType(),
        pa.float64(): T.DoubleType(),
        pa.int64(): T.LongType(),
        lambda_contract.TIMESTAMP: T.TimestampType(),
    }

    def flat(fields, prefix=""):
        for f in fields:
            if pa.types.is_struct(f.type):
                yield from flat(f.type, f"{prefix}{f.name}_")
            else:
                yield f"{prefix}{f.name}", spark_type[f.type]

    lambda_view = dict(flat(lambda_contract.BRONZE_CONTRACT))
    assert {n: t for n, t in contract.CONTRACT_FLAT_TYPES.items()} == {
        n: lambda_view[n] for n in contract.CONTRACT_FLAT_TYPES
    }


def test_a_bronze_column_named_like_one_the_job_fills_is_rescued_not_lost(spark, tmp_path):
    """Bronze written before the Lambda quarantined such fields may hold them: the run still
    succeeds, the job's own value fills the column, the bronze value goes to `_rescued_data`."""
    lake = Lake(tmp_path)
    extra = with_extra(_rescued_data=pa.string(), km_per_liter=pa.float64(), Event_Day=pa.string())
    old = record("A", 1.0, D29, _rescued_data='{"a": 1}', km_per_liter=99.0, Event_Day="x")
    write_bronze(lake.bronze, "old", [old], schema=extra)

    summary = lake.run(spark)  # used to fail every run: AMBIGUOUS_REFERENCE on _rescued_data

    assert summary["status"] == "ok"
    assert summary["values_rescued"] == {"Event_Day": 1, "_rescued_data": 1, "km_per_liter": 1}
    (row,) = lake.silver_df(spark).collect()
    assert json.loads(row["_rescued_data"]) == {
        "_rescued_data": '{"a": 1}',
        "km_per_liter": 99.0,
        "Event_Day": "x",
    }
    # 16.0 km on 3.0 liters (bronze_factory's trip); the event day of D29
    assert (row["km_per_liter"], row["event_day"]) == (round(16.0 / 3.0, 2), "29")


def test_letter_case_twins_and_paths_that_flatten_alike_in_different_files_are_one_column(
    spark, tmp_path
):
    """Each file is valid alone (the Lambda checks names within a file). Spark, Glue and Athena
    resolve names case-insensitively, so `tire`, `Tire` and `TIRE` are one column of one type;
    `ext.p` in one file and `ext_p` in another are the one column `ext_p`."""
    lake = Lake(tmp_path)
    nested = pa.struct([("p", pa.float64())])

    def put(name, chassis, day, mtime, **fields):
        types = {
            n: {float: pa.float64(), str: pa.string(), dict: nested}[type(v)]
            for n, v in fields.items()
        }
        rec = record(chassis, 1.0, day, **fields)
        write_bronze(lake.bronze, name, [rec], schema=with_extra(**types), mtime=mtime)

    put("a", "A", D29, 1, tire=1.5)
    put("b", "B", D29, 1, Tire="low")
    put("c", "C", D29, 1, TIRE=2.5)
    put("n", "N", D29, 1, ext={"p": 1.0})
    put("f", "F", D29, 1, ext_p=2.0)
    first = lake.run(spark)  # used to fail every run: "flattening maps both 'ext_p' and 'ext.p'"
    put("g", "G", D30, 2, tire="high")
    put("h", "H", D30, 2, ext_p="x")
    put("i", "I", D30, 2, Tire="mid")  # merges with g's `tire` in one read, spelled `tire`
    second = lake.run(spark)
    incremental = rows(lake.silver_df(spark), "carChassis", "TIRE", "ext_p", "_rescued_data")
    refresh = lake.run(spark, full_refresh=True)

    assert [s["status"] for s in (first, second, refresh)] == ["ok"] * 3
    assert [s["values_rescued"] for s in (first, second, refresh)] == [
        {"TIRE": 1},  # two doubles against one text: the column is a double
        {"TIRE": 2, "ext_p": 1},  # silver's types stay
        {"TIRE": 3, "ext_p": 1},
    ]
    assert incremental == [
        ("A", 1.5, None, None),
        ("B", None, None, '{"TIRE":"low"}'),
        ("C", 2.5, None, None),
        ("F", None, 2.0, None),
        ("G", None, None, '{"TIRE":"high"}'),
        ("H", None, None, '{"ext_p":"x"}'),
        ("I", None, None, '{"TIRE":"mid"}'),
        ("N", None, 1.0, None),
    ]
    assert rows(lake.silver_df(spark), "carChassis", "TIRE", "ext_p", "_rescued_data") == (
        incremental
    )
    # one spelling and type in every silver file: the smallest of the first batch, which the
    # type conflict made read its files apart (a merged read keeps its first file's spelling)
    schemas = [pq.read_schema(path) for path in sorted(lake.silver.rglob("*.parquet"))]
    assert len(schemas) == 2
    for schema in schemas:
        assert [n for n in schema.names if n.lower() in ("tire", "ext_p")] == ["TIRE", "ext_p"]
        assert (schema.field("TIRE").type, schema.field("ext_p").type) == (pa.float64(),) * 2
