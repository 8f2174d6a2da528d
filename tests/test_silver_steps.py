"""Unit tests of the consolidation job's pure steps: a few inline rows, explicit schemas,
whole rows compared."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T
from silver_job import contract, drift, steps

pytestmark = pytest.mark.spark


def rows(df, order_by=None):
    out = [r.asDict(recursive=True) for r in df.collect()]
    return sorted(out, key=lambda r: tuple(str(r[c]) for c in order_by)) if order_by else out


def winners(df):
    """The rows rank_rows keeps (rank 1), as run() keeps them."""
    return steps.rank_rows(df).where(F.col("_rank") == 1).drop("_rank")


def ts(*args):
    return dt.datetime(*args)


# --- flatten -------------------------------------------------------------------------------
def test_flatten_joins_struct_paths_at_any_depth_and_keeps_arrays(spark):
    schema = T.StructType(
        [
            T.StructField("carChassis", T.StringType()),
            T.StructField(
                "metrics",
                T.StructType(
                    [
                        T.StructField("fuel", T.DoubleType()),
                        T.StructField(
                            "trip",
                            T.StructType(
                                [
                                    T.StructField("tripMileage", T.DoubleType()),
                                    T.StructField(
                                        "deep", T.StructType([T.StructField("x", T.LongType())])
                                    ),
                                ]
                            ),
                        ),
                    ]
                ),
            ),
            T.StructField("tags", T.ArrayType(T.StringType())),
        ]
    )
    df = spark.createDataFrame([("A", (1.5, (16.0, (7,))), ["a", "b"]), ("B", None, None)], schema)
    out = steps.flatten(df)
    assert out.columns == [
        "carChassis",
        "metrics_fuel",
        "metrics_trip_tripMileage",
        "metrics_trip_deep_x",
        "tags",
    ]
    assert rows(out, ["carChassis"]) == [
        {
            "carChassis": "A",
            "metrics_fuel": 1.5,
            "metrics_trip_tripMileage": 16.0,
            "metrics_trip_deep_x": 7,
            "tags": ["a", "b"],
        },
        {
            "carChassis": "B",
            "metrics_fuel": None,
            "metrics_trip_tripMileage": None,
            "metrics_trip_deep_x": None,
            "tags": None,
        },
    ]


def test_steps_accept_field_names_with_backticks_and_dots(spark):
    schema = T.StructType(
        [
            T.StructField("carChassis", T.StringType()),
            T.StructField("odd", T.StructType([T.StructField("we`ird.name", T.StringType())])),
        ]
    )
    df = spark.createDataFrame([(" A ", (" x ",))], schema)
    out = steps.cleanse(steps.flatten(df))
    assert out.columns == ["carChassis", "odd_we`ird.name"]
    assert rows(out) == [{"carChassis": "A", "odd_we`ird.name": "x"}]
    ranked = steps.add_partition_columns(
        out.withColumn("currentMileage", F.lit(1.0)).withColumn(
            "metrics_metricTimestamp", F.lit(ts(2025, 1, 2)).cast("timestamp")
        )
    )
    assert [r["odd_we`ird.name"] for r in winners(ranked).collect()] == ["x"]


def test_flatten_refuses_two_paths_that_collide(spark):
    schema = T.StructType(
        [
            T.StructField("a_b", T.StringType()),
            T.StructField("a", T.StructType([T.StructField("b", T.StringType())])),
        ]
    )
    df = spark.createDataFrame([("x", ("y",))], schema)
    with pytest.raises(contract.SchemaError, match="'a_b' and 'a.b'"):
        steps.flatten(df)


# --- timestamps ----------------------------------------------------------------------------
PARSE_CASES = [
    ("Wed, 29 Oct 2025 11:00:00", "UTC", ts(2025, 10, 29, 11, 0, 0)),
    ("29 Oct 2025 11:00:00", "UTC", ts(2025, 10, 29, 11, 0, 0)),
    ("  Thu, 5 Jun 2025 07:08:09 ", "UTC", ts(2025, 6, 5, 7, 8, 9)),
    ("2025-10-29T11:00:00Z", "UTC", ts(2025, 10, 29, 11, 0, 0)),
    ("2025-10-29 11:00:00", "UTC", ts(2025, 10, 29, 11, 0, 0)),
    ("2025-10-29T11:00:00.5", "UTC", ts(2025, 10, 29, 11, 0, 0, 500000)),
    ("2025-10-29T11:00:00.1234567+02:00", "UTC", ts(2025, 10, 29, 9, 0, 0, 123456)),
    ("2025-10-29T23:30:00-03:00", "UTC", ts(2025, 10, 30, 2, 30, 0)),
    ("Wed, 29 Oct 2025 11:00:00", "America/Sao_Paulo", ts(2025, 10, 29, 14, 0, 0)),
    ("2025-10-29T11:00:00", "+05:30", ts(2025, 10, 29, 5, 30, 0)),
    ("2025-10-29T11:00:00Z", "America/Sao_Paulo", ts(2025, 10, 29, 11, 0, 0)),
    ("2025-10-29T11:00:00-18:00", "UTC", ts(2025, 10, 30, 5, 0, 0)),
    ("\t2025-10-29T11:00:00Z\u00a0", "UTC", ts(2025, 10, 29, 11, 0, 0)),
    # impossible offsets reject the row instead of failing the run
    ("2025-10-29T11:00:00+25:00", "UTC", None),
    ("2025-10-29T11:00:00+05:99", "UTC", None),
    ("2025-10-29T11:00:00+18:30", "UTC", None),
    ("Wed, 31 Feb 2025 11:00:00", "UTC", None),
    ("2025-13-01T00:00:00Z", "UTC", None),
    ("29/10/2025 11:00", "UTC", None),
    ("not a time", "UTC", None),
    ("", "UTC", None),
    (None, "UTC", None),
]


def test_parse_timestamp_accepts_producer_and_iso_formats_and_nulls_the_rest(spark):
    schema = T.StructType(
        [
            T.StructField("i", T.IntegerType()),
            T.StructField("raw", T.StringType()),
            T.StructField("tz", T.StringType()),
        ]
    )
    df = spark.createDataFrame([(i, raw, tz) for i, (raw, tz, _) in enumerate(PARSE_CASES)], schema)
    by_tz = {}
    for tz in sorted({c[1] for c in PARSE_CASES}):
        part = steps.parse_timestamp(df.where(F.col("tz") == tz), "raw", "parsed", tz)
        by_tz.update({r["i"]: r["parsed"] for r in part.collect()})
    assert [by_tz[i] for i in range(len(PARSE_CASES))] == [c[2] for c in PARSE_CASES]


# --- reject reasons ------------------------------------------------------------------------
BRONZE_FLAT = T.StructType(
    [
        T.StructField("carChassis", T.StringType()),
        T.StructField("metrics_metricTimestamp", T.StringType()),
        T.StructField("currentMileage", T.DoubleType()),
    ]
)


def test_reject_reason_names_the_first_broken_rule(spark):
    good_ts = "Wed, 29 Oct 2025 11:00:00"
    data = [
        ("GOOD", good_ts, 10.0),
        ("ZERO", good_ts, 0.0),
        ("   ", good_ts, 10.0),
        (None, good_ts, 10.0),
        ("NOTS", None, 10.0),
        ("BLANKTS", "  ", 10.0),
        ("BADTS", "yesterday", 10.0),
        ("NOMILE", good_ts, None),
        ("NAN", good_ts, float("nan")),
        ("NEG", good_ts, -0.5),
        ("\t\n", good_ts, 1.0),
        ("\u00a0", good_ts, 1.0),
        ("INF", good_ts, float("inf")),
        (" ", "bad", -1.0),
    ]
    out = steps.with_reject_reason(spark.createDataFrame(data, BRONZE_FLAT), "UTC")
    assert [(r["carChassis"], r["reject_reason"]) for r in out.collect()] == [
        ("GOOD", None),
        ("ZERO", None),
        ("   ", "blank_carChassis"),
        (None, "blank_carChassis"),
        ("NOTS", "missing_metricTimestamp"),
        ("BLANKTS", "missing_metricTimestamp"),
        ("BADTS", "unparsable_metricTimestamp"),
        ("NOMILE", "missing_currentMileage"),
        ("NAN", "invalid_currentMileage"),
        ("NEG", "negative_currentMileage"),
        ("\t\n", "blank_carChassis"),
        ("\u00a0", "blank_carChassis"),
        ("INF", "invalid_currentMileage"),
        (" ", "blank_carChassis"),
    ]


def test_reject_reason_catches_non_numeric_mileage_from_a_string_column(spark):
    schema = T.StructType(
        [*BRONZE_FLAT.fields[:2], T.StructField("currentMileage", T.StringType())]
    )
    data = [("A", "2025-10-29T11:00:00Z", "12.5"), ("B", "2025-10-29T11:00:00Z", "lots")]
    out = steps.with_reject_reason(spark.createDataFrame(data, schema), "UTC")
    assert [(r["carChassis"], r["reject_reason"]) for r in out.collect()] == [
        ("A", None),
        ("B", "invalid_currentMileage"),
    ]


def test_ensure_columns_adds_typed_nulls_only_for_absent_columns(spark):
    df = spark.createDataFrame([("A",)], "carChassis string")
    out = steps.ensure_columns(df, contract.REQUIRED_BRONZE_COLUMNS)
    assert [(f.name, f.dataType) for f in out.schema.fields] == [
        ("carChassis", T.StringType()),
        ("metrics_metricTimestamp", T.StringType()),
        ("currentMileage", T.DoubleType()),
        ("ingestion_timestamp", T.TimestampType()),
        ("source_file", T.StringType()),
    ]
    assert rows(out) == [
        {
            "carChassis": "A",
            "metrics_metricTimestamp": None,
            "currentMileage": None,
            "ingestion_timestamp": None,
            "source_file": None,
        }
    ]


# --- cleanse / type / enrich / partition ---------------------------------------------------
def test_trim_removes_exactly_what_the_unicode_white_space_regex_removes(spark):
    # The expectation is Java's own regex class [\s\p{Z}\x{FEFF}] (Java 17's Unicode data),
    # asked about every code point of the BMP (the other planes hold no category Z character).
    edge = r"^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$"
    points = [c for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF]
    df = spark.createDataFrame([(chr(c) * 2 + "a" + chr(c),) for c in points], "v string")
    out = df.select(
        F.regexp_replace("v", edge, "").alias("regex"), steps.trim_text(F.col("v")).alias("trim")
    )
    pairs = [(r["regex"], r["trim"]) for r in out.collect()]
    assert [regex for regex, trim in pairs if regex != trim] == []
    removed = sorted(c for c, (regex, _) in zip(points, pairs, strict=True) if regex == "a")
    assert removed == [9, 10, 11, 12, 13, 32, 0xA0, 0x1680, *range(0x2000, 0x200B)] + [
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
        0xFEFF,
    ]


def test_cleanse_trims_title_cases_manufacturer_lowers_color_and_blanks_to_null(spark):
    schema = T.StructType(
        [
            T.StructField("carChassis", T.StringType()),
            T.StructField("Manufacturer", T.StringType()),
            T.StructField("color", T.StringType()),
            T.StructField("Model", T.StringType()),
            T.StructField("horsePower", T.DoubleType()),
        ]
    )
    data = [
        (" A1 ", "  hyundai MOTOR ", " BLUE ", "   ", 120.0),
        ("B\n", None, "\u00a0Red\t", "HB20", None),
    ]
    out = steps.cleanse(spark.createDataFrame(data, schema))
    assert rows(out) == [
        {
            "carChassis": "A1",
            "Manufacturer": "Hyundai Motor",
            "color": "blue",
            "Model": None,
            "horsePower": 120.0,
        },
        {
            "carChassis": "B",
            "Manufacturer": None,
            "color": "red",
            "Model": "HB20",
            "horsePower": None,
        },
    ]


def test_type_columns_parses_trip_time_to_utc_and_valid_until_to_date(spark):
    schema = T.StructType(
        [
            T.StructField("metrics_trip_tripStartTimestamp", T.StringType()),
            T.StructField("carInsurance_validUntil", T.StringType()),
            T.StructField("currentMileage", T.DoubleType()),
        ]
    )
    data = [
        ("Wed, 29 Oct 2025 09:57:35", "2026-10-29", 1.0),
        ("garbage", "29/10/2026", 2.0),
    ]
    out = steps.type_columns(spark.createDataFrame(data, schema), "UTC")
    assert [f.dataType for f in out.schema.fields] == [
        T.TimestampType(),
        T.DateType(),
        T.DoubleType(),
    ]
    assert rows(out) == [
        {
            "metrics_trip_tripStartTimestamp": ts(2025, 10, 29, 9, 57, 35),
            "carInsurance_validUntil": dt.date(2026, 10, 29),
            "currentMileage": 1.0,
        },
        {
            "metrics_trip_tripStartTimestamp": None,
            "carInsurance_validUntil": None,
            "currentMileage": 2.0,
        },
    ]


def test_enrich_rounds_ratios_and_gives_null_for_null_or_zero_divisors(spark):
    schema = T.StructType(
        [
            T.StructField("id", T.StringType()),
            T.StructField("fuelCapacityLiters", T.DoubleType()),
            T.StructField("metrics_fuelAvailableLiters", T.DoubleType()),
            T.StructField("metrics_trip_tripMileage", T.DoubleType()),
            T.StructField("metrics_trip_tripFuelLiters", T.DoubleType()),
        ]
    )
    data = [
        ("a", 50.0, 32.0, 16.0, 3.0),
        ("b", 61.0, 20.0, 22.0, 3.8),
        ("c", 0.0, 10.0, 5.0, 0.0),
        ("d", None, 10.0, 5.0, None),
    ]
    out = steps.enrich(spark.createDataFrame(data, schema))
    got = {r["id"]: (r["fuel_level_percentage"], r["km_per_liter"]) for r in out.collect()}
    assert got == {"a": (64.0, 5.33), "b": (32.79, 5.79), "c": (None, None), "d": (None, None)}


def test_enrich_adds_null_outputs_when_inputs_are_absent(spark):
    out = steps.enrich(spark.createDataFrame([("A",)], "carChassis string"))
    assert rows(out.select("carChassis", "fuel_level_percentage", "km_per_liter")) == [
        {"carChassis": "A", "fuel_level_percentage": None, "km_per_liter": None}
    ]


def test_partition_columns_are_zero_padded_strings_of_the_utc_day(spark):
    schema = T.StructType([T.StructField("metrics_metricTimestamp", T.TimestampType())])
    df = spark.createDataFrame([(ts(2025, 6, 5, 23, 59, 59),), (ts(2026, 12, 31, 0, 0),)], schema)
    out = steps.add_partition_columns(df)
    assert [f.dataType for f in out.schema.fields[1:]] == [T.StringType()] * 3
    assert [(r.event_year, r.event_month, r.event_day) for r in out.collect()] == [
        ("2025", "06", "05"),
        ("2026", "12", "31"),
    ]


# --- dedup ---------------------------------------------------------------------------------
SILVER_MIN = T.StructType(
    [
        T.StructField("carChassis", T.StringType()),
        T.StructField("currentMileage", T.DoubleType()),
        T.StructField("metrics_metricTimestamp", T.TimestampType()),
        T.StructField("ingestion_timestamp", T.TimestampType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("color", T.StringType()),
        T.StructField("event_year", T.StringType()),
        T.StructField("event_month", T.StringType()),
        T.StructField("event_day", T.StringType()),
    ]
)
T1, T2 = ts(2025, 10, 29, 10), ts(2025, 10, 29, 11)
I1, I2 = ts(2025, 10, 29, 12), ts(2025, 10, 29, 13)
DAY = ("2025", "10", "29")


def test_dedup_keeps_highest_mileage_per_car_and_day(spark):
    data = [
        ("A", 4321.0, T1, I1, "f1", "blue", *DAY),
        ("A", 12000.0, T1, I1, "f3", "blue", *DAY),
        ("A", 8500.0, T2, I2, "f2", "blue", *DAY),
        ("A", 100.0, T1, I1, "f4", "blue", "2025", "10", "30"),
        ("B", 7.0, T1, I1, "f1", "red", *DAY),
    ]
    out = winners(spark.createDataFrame(data, SILVER_MIN))
    assert [tuple(r) for r in out.orderBy("carChassis", "event_day").collect()] == [
        ("A", 12000.0, T1, I1, "f3", "blue", *DAY),
        ("A", 100.0, T1, I1, "f4", "blue", "2025", "10", "30"),
        ("B", 7.0, T1, I1, "f1", "red", *DAY),
    ]


@pytest.mark.parametrize(
    ("candidates", "winner"),
    [
        # equal mileage: latest event time wins
        ([("A", 9.0, T1, I2, "f9", "x"), ("A", 9.0, T2, I1, "f1", "y")], "y"),
        # equal mileage and event time: latest ingestion wins
        ([("A", 9.0, T2, I1, "f9", "x"), ("A", 9.0, T2, I2, "f1", "y")], "y"),
        # equal up to ingestion: greatest source_file wins
        ([("A", 9.0, T2, I2, "f1", "x"), ("A", 9.0, T2, I2, "f2", "y")], "y"),
        # a row without ingestion time (old design) loses to one with it
        ([("A", 9.0, T2, None, "f9", "x"), ("A", 9.0, T2, I1, "f1", "y")], "y"),
    ],
)
def test_dedup_breaks_ties_in_the_documented_order(spark, candidates, winner):
    for order in (candidates, candidates[::-1]):
        df = spark.createDataFrame([(*c, *DAY) for c in order], SILVER_MIN)
        assert [r.color for r in winners(df).collect()] == [winner]


def test_dedup_full_tie_is_broken_by_the_other_columns_whatever_the_input_order(spark):
    base = [("A", 9.0, T2, I2, "f1", color, *DAY) for color in ("red", "green", "blue", "black")]
    winners_seen = {
        winners(spark.createDataFrame(order, SILVER_MIN).repartition(2)).first().color
        for order in (base, base[::-1], base[1:] + base[:1], base[2:] + base[:2])
    }
    # Equal on every ordering column: the greatest value of the next column ("color") wins.
    assert winners_seen == {"red"}


def test_union_by_name_fills_columns_missing_on_either_side(spark):
    left = spark.createDataFrame([("A", 1.0)], "carChassis string, old double")
    right = spark.createDataFrame([("B", "n")], "carChassis string, new string")
    assert rows(steps.union_by_name(left, right), ["carChassis"]) == [
        {"carChassis": "A", "old": 1.0, "new": None},
        {"carChassis": "B", "old": None, "new": "n"},
    ]
    assert steps.union_by_name(None, right) is right


def test_the_lambda_quarantines_a_field_named_like_any_column_the_job_adds(spark):
    """A bronze column named like one the job adds itself would be overwritten by it: the
    Lambda's `contract.JOB_COLUMNS` (whose records it quarantines) must name every such column
    of the job's steps, from the bronze read to the ranking and the quarantine partitions."""
    import pyarrow as pa
    from ingest import contract as lambda_contract
    from ingest import convert

    bronze = spark.createDataFrame([], BRONZE_FLAT)
    raw, _, _ = drift.conform([bronze], {})
    batch = steps.with_reject_reason(
        steps.ensure_columns(raw, contract.REQUIRED_BRONZE_COLUMNS), "UTC"
    )
    accepted = steps.transform_accepted(batch.drop(contract.REJECT_REASON_COL), "UTC")
    frames = [raw, batch, steps.rank_rows(accepted), steps.add_quarantine_partition_columns(batch)]
    added = {name for df in frames for name in df.columns}
    added |= set(contract.BRONZE_PARTITION_COLS)  # the bronze folders' partition columns
    contract_fields = convert._fields(
        pa.struct(list(lambda_contract.V1_CONTRACT))
    )  # the Lambda's walk
    bronze_names = {"_".join(path) for path, _, column in contract_fields if column}
    bronze_names |= set(lambda_contract.LINEAGE.names)

    assert added - bronze_names == set(lambda_contract.JOB_COLUMNS)
    # and the job's own list, whose bronze namesakes it rescues (the read drops the partitions)
    assert added - bronze_names == contract.JOB_FILLED_COLUMNS | set(contract.BRONZE_PARTITION_COLS)
