"""The ingestion Lambda's pure functions: parsing, typing, keys, Parquet determinism."""

import datetime as dt
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lambdas.ingestion import handler as ingestion

UTC = dt.UTC
EVENT_TIME = dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC)
LINEAGE = {
    "ingestion_timestamp": EVENT_TIME,
    "source_bucket": "landing",
    "source_file": "landing/f.json",
}
CONTRACT_NAMES = ingestion.contract_schema().names[:-3]


def table_of(records) -> pa.Table:
    return ingestion.to_table(
        records,
        ingestion_timestamp=EVENT_TIME,
        source_bucket="landing",
        source_file="landing/f.json",
    )


def extras(table: pa.Table) -> pa.Schema:
    """The schema without the always-present contract and lineage columns."""
    return pa.schema([f for f in table.schema if f.name not in ingestion.contract_schema().names])


def rows_without_contract(table: pa.Table) -> list[dict]:
    """The rows without the contract and lineage columns."""
    names = [n for n in table.column_names if n not in ingestion.contract_schema().names]
    return table.select(names).to_pylist()


# ---------------------------------------------------------------------------------------------
# parse_payload
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1}', [{"a": 1}]),
        (b' \n[{"a": 1}, {"a": 2.5}]\n', [{"a": 1}, {"a": 2.5}]),
        (b'{"a": 1}\n{"a": 2}\n\n{"a": 3}\n', [{"a": 1}, {"a": 2}, {"a": 3}]),
        (b'{"a": 1}\r\n{"a": 2}', [{"a": 1}, {"a": 2}]),
        (b'{"a": 1}{"a": 2}', [{"a": 1}, {"a": 2}]),  # concatenated objects
        (b'\xef\xbb\xbf{"city": "S\xc3\xa3o Paulo"}', [{"city": "São Paulo"}]),
        (b'\xef\xbb\xbf[{"a": null}]', [{"a": None}]),
        (b"{}", [{}]),
    ],
)
def test_parse_payload_accepts_object_array_and_json_lines(raw, expected):
    assert ingestion.parse_payload(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b" \n\t\r\n", "empty file (whitespace only)"),
        (b"\xef\xbb\xbf", "empty file (whitespace only)"),
        (b"[]", "empty array: no records"),
        (b"[ \n ]", "empty array: no records"),
        (b"null", "top-level JSON value is null, not an object or array"),
        (b"42", "top-level JSON value is number, not an object or array"),
        (b"true", "top-level JSON value is boolean, not an object or array"),
        (b"nope", "malformed JSON at line 1 column 1: Expecting value"),
        (b'{"a": 1', "malformed JSON at line 1 column 8: Expecting ',' delimiter"),
        (b'{"a": 1}\n{"a": ', "malformed JSON at line 2 column 7: Expecting value"),
        (b'[{"a": 1},]', "malformed JSON at line 1 column 11: Expecting value"),
        (b'[{"a": 1} {"a": 2}]', "malformed JSON at line 1 column 11: Expecting ',' or ']'"),
        (b'[{"a": 1}] x', "malformed JSON at line 1 column 12: Extra data after the array"),
        (b'[{"a": 1}, 2]', "array element 1 is number, not an object"),
        (b'[[{"a": 1}]]', "array element 0 is array, not an object"),
        (b'{"a": 1}\n[1]\n', "record 1 (line 2) is array, not an object"),
        (b'{"a": "\xff"}', "not valid UTF-8: invalid start byte at byte 7"),
        (b'\xef\xbb\xbf{"a": "\xc3"}', "not valid UTF-8: invalid continuation byte at byte 10"),
        (b"\xff\xfe{\x00}\x00", "not valid UTF-8: invalid start byte at byte 0"),  # UTF-16
        (b"[" * 100_000, "JSON nested too deeply"),
    ],
)
def test_parse_payload_rejects_bad_content_with_a_reason(raw, reason):
    with pytest.raises(ingestion.BadContent) as caught:
        ingestion.parse_payload(raw)
    assert caught.value.reason == reason


# ---------------------------------------------------------------------------------------------
# to_table: types
# ---------------------------------------------------------------------------------------------


def test_contract_columns_are_always_present_with_contract_types():
    table = table_of([{"carChassis": "C1"}])

    assert table.schema.equals(ingestion.contract_schema())
    row = table.to_pylist()[0]
    assert row == {
        **dict.fromkeys(CONTRACT_NAMES),
        "carChassis": "C1",
        **LINEAGE,
    }


def test_integral_float_year_becomes_int_and_numeric_strings_fill_number_fields():
    table = table_of(
        [
            {"year": 2024.0, "ModelYear": "2025", "currentMileage": "4321.5"},
            {"year": 2023, "ModelYear": 2024, "currentMileage": 10},
        ]
    )

    assert table.select(["year", "ModelYear", "currentMileage"]).to_pylist() == [
        {"year": 2024, "ModelYear": 2025, "currentMileage": 4321.5},
        {"year": 2023, "ModelYear": 2024, "currentMileage": 10.0},
    ]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ([{"year": 2024.5}], "field 'year' must be an integer, got 2024.5"),
        ([{"year": True}], "field 'year' must be an integer per the v1 contract, got boolean true"),
        (
            [{"ModelYear": 2**63}],
            "field 'ModelYear': 9223372036854775808 is out of the int64 range",
        ),
        (
            [{"currentMileage": 10}, {"currentMileage": "n/a"}],
            "field 'currentMileage' must be a number per the v1 contract, got string \"n/a\"",
        ),
        (
            [{"horsePower": False}],
            "field 'horsePower' must be a number per the v1 contract, got boolean false",
        ),
        (
            [{"carChassis": 12345}],
            "field 'carChassis' must be a string per the v1 contract, got number 12345",
        ),
        (
            [{"metrics": "hot"}],
            "field 'metrics' must be an object per the v1 contract, got string \"hot\"",
        ),
        (
            [{"metrics": {"trip": {"tripMileage": [1]}}}],
            "field 'metrics.trip.tripMileage' must be a number per the v1 contract, got array [1]",
        ),
        (
            [{"driver": "Ana"}, {"driver": {"name": "Bruno"}}],
            "field 'driver' holds incompatible types: string and object",
        ),
        (
            [{"extra": {"level": 1}}, {"extra": {"level": "high"}}],
            "field 'extra.level' holds incompatible types: number and string",
        ),
        (
            [{"flag": True}, {"flag": 1}],
            "field 'flag' holds incompatible types: boolean and number",
        ),
        ([{"tags": ["a", 1]}], "field 'tags[]' holds incompatible types: string and number"),
        (
            [{"tags": ["a"]}, {"tags": "a"}],
            "field 'tags' holds incompatible types: array and string",
        ),
        (
            [{"color": "Blue", "Color": "blue"}],
            "fields 'color' and 'Color' differ only in letter case (ambiguous in Spark, Glue and "
            "Athena)",
        ),
        (
            [{"metrics": {"Trip": {}}}],
            "fields 'metrics.trip' and 'metrics.Trip' differ only in letter case (ambiguous in "
            "Spark, Glue and Athena)",
        ),
        ([{"Source_File": "x"}], "field 'Source_File' collides with the bronze lineage column"),
    ],
)
def test_types_that_cannot_be_unified_are_bad_content_naming_the_field(records, reason):
    with pytest.raises(ingestion.BadContent) as caught:
        table_of(records)
    assert caught.value.reason == reason


def test_unknown_fields_unify_across_records_nulls_and_missing_included():
    table = table_of(
        [
            {"extra": None, "nested": {"a": 1}},
            {"extra": 1, "tags": [1, 2.5, None], "nested": {"b": "x"}},
            {"extra": 2.5, "tags": None, "flag": False},
        ]
    )

    assert extras(table).equals(
        pa.schema(
            [
                ("extra", pa.float64()),
                ("nested", pa.struct([("a", pa.float64()), ("b", pa.string())])),
                ("tags", pa.list_(pa.float64())),
                ("flag", pa.bool_()),
            ]
        )
    )
    assert rows_without_contract(table) == [
        {"extra": None, "nested": {"a": 1.0, "b": None}, "tags": None, "flag": None},
        {
            "extra": 1.0,
            "nested": {"a": None, "b": "x"},
            "tags": [1.0, 2.5, None],
            "flag": None,
        },
        {"extra": 2.5, "nested": None, "tags": None, "flag": False},
    ]


def test_fields_without_any_typed_value_in_the_file_are_left_out():
    # Their type is unknown: any guess (string...) would clash with the real type in the next
    # file when Spark or the crawler merge schemas. Under the merged schema they read as null.
    table = table_of(
        [
            {"alerts": [], "meta": {}, "note": None, "objs": [{}], "deep": {"a": {"b": None}}},
            {"alerts": None, "deep": {"a": None, "c": [None]}, "metrics": {}},
        ]
    )

    assert extras(table).equals(pa.schema([]))
    assert table.column("metrics").to_pylist() == [
        None,
        dict.fromkeys(
            [
                "engineTempCelsius",
                "oilTempCelsius",
                "batteryChargePerc",
                "fuelAvailableLiters",
                "coolantCelsius",
                "trip",
                "metricTimestamp",
            ]
        ),
    ]


def test_untyped_parts_are_left_out_but_typed_siblings_stay():
    table = table_of(
        [
            {"deep": {"a": {"b": None}, "c": 1}, "lists": [[], None]},
            {"deep": {"a": {}}, "lists": [[2]]},
        ]
    )

    assert extras(table).equals(
        pa.schema(
            [
                ("deep", pa.struct([("c", pa.float64())])),
                ("lists", pa.list_(pa.list_(pa.float64()))),
            ]
        )
    )
    assert rows_without_contract(table) == [
        {"deep": {"c": 1.0}, "lists": [[], None]},
        {"deep": {"c": None}, "lists": [[2.0]]},
    ]


def test_arrays_of_objects_are_lists_of_structs():
    table = table_of(
        [
            {"stops": [{"city": "Recife", "minutes": 5}, {"city": "Olinda"}]},
            {"stops": [{"minutes": 7.5, "paid": True}]},
        ]
    )

    stop = pa.struct([("city", pa.string()), ("minutes", pa.float64()), ("paid", pa.bool_())])
    assert extras(table).equals(pa.schema([("stops", pa.list_(stop))]))
    assert [r["stops"] for r in rows_without_contract(table)] == [
        [
            {"city": "Recife", "minutes": 5.0, "paid": None},
            {"city": "Olinda", "minutes": None, "paid": None},
        ],
        [{"city": None, "minutes": 7.5, "paid": True}],
    ]


def test_large_integers_in_number_fields_become_doubles():
    table = table_of([{"odometerMicrons": 2**60 + 1, "currentMileage": -(2**70)}])

    assert table.column("odometerMicrons").to_pylist() == [float(2**60)]
    assert table.column("currentMileage").to_pylist() == [-float(2**70)]


def test_chunked_conversion_equals_single_chunk(monkeypatch):
    # Types grow between chunks (null -> struct, new fields, list elements): the chunks built
    # early must be brought to the final type without changing any value.
    records = [
        {"carChassis": "C0", "late": None, "grow": {"a": 1, "never": None}, "lst": []},
        {"carChassis": "C1", "grow": None, "lst": None},
        {"carChassis": "C2", "late": {"x": [1, 2]}, "grow": {"b": "y"}, "lst": [{"k": 1}]},
        {"carChassis": "C3", "late": {"x": None, "y": True}, "lst": [{"j": "v"}, None]},
        {"carChassis": "C4", "metrics": {"trip": None, "newGauge": 3}},
    ]
    expected = table_of(json.loads(json.dumps(records)))

    monkeypatch.setattr(ingestion, "CHUNK_ROWS", 2)
    chunked = table_of(json.loads(json.dumps(records)))

    assert chunked.schema.equals(expected.schema)
    assert chunked.to_pylist() == expected.to_pylist()
    assert [r["grow"] for r in chunked.to_pylist()] == [
        {"a": 1.0, "b": None},
        None,
        {"a": None, "b": "y"},
        None,
        None,
    ]
    assert [r["late"] for r in chunked.to_pylist()] == [
        None,
        None,
        {"x": [1.0, 2.0], "y": None},
        {"x": None, "y": True},
        None,
    ]


def test_parquet_bytes_are_deterministic():
    records = ingestion.parse_payload(b'[{"carChassis": "C1", "x": {"y": [1, 2]}}]')
    first = ingestion.to_parquet_bytes(table_of(records))
    second = ingestion.to_parquet_bytes(
        table_of(ingestion.parse_payload(b'[{"carChassis": "C1", "x": {"y": [1, 2]}}]'))
    )

    assert first == second
    metadata = pq.ParquetFile(pa.BufferReader(first)).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    assert pq.read_table(pa.BufferReader(first)).schema.field("ingestion_timestamp").type == (
        pa.timestamp("us", tz="UTC")
    )


# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------


def test_bronze_key_is_partitioned_by_utc_ingest_date_and_named_from_the_source():
    event_time = dt.datetime(2025, 3, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    digest = hashlib.sha256(
        json.dumps(["landing-bucket", "in/2025/car raw+1.json", "abc123"]).encode()
    ).hexdigest()[:16]

    key = ingestion.bronze_key(
        "in/2025/car raw+1.json",
        '"abc123"',
        event_time,
        "car_data/",
        source_bucket="landing-bucket",
    )

    # 01:30 at UTC+3 is 22:30 on 28 February UTC
    assert key == (
        f"car_data/ingest_year=2025/ingest_month=02/ingest_day=28/car_raw_1-{digest}.parquet"
    )


def test_bronze_key_changes_with_the_source_identity_only():
    base = ingestion.bronze_key("a/car.json", "e1", EVENT_TIME)

    assert ingestion.bronze_key("a/car.json", "e1", EVENT_TIME) == base
    assert ingestion.bronze_key("a/car.json", "e2", EVENT_TIME) != base
    assert ingestion.bronze_key("b/car.json", "e1", EVENT_TIME) != base
    assert ingestion.bronze_key("a/car.json", "e1", EVENT_TIME, source_bucket="other") != base


@pytest.mark.parametrize(
    ("source_key", "stem"),
    [
        ("_hidden.json", "hidden"),  # Spark and crawlers skip files starting with _ or .
        (".dot.JSON", "dot"),
        ("landing/ünïcode ✓.json", "n_code_"),
        ("landing/.json", "object"),
        ("landing/" + "x" * 300 + ".json", "x" * 80),
    ],
)
def test_bronze_file_names_are_safe_for_spark_and_s3(source_key, stem):
    name = ingestion.bronze_key(source_key, "e", EVENT_TIME).rsplit("/", 1)[1]

    assert name.rsplit("-", 1)[0] == stem
    assert name.endswith(".parquet") and len(name.rsplit("-", 1)[1]) == len(
        "0123456789abcdef.parquet"
    )


def test_quarantine_key_keeps_the_source_key_under_the_ingest_date():
    assert (
        ingestion.quarantine_key("landing/a b+c.json", EVENT_TIME, "quarantine")
        == "quarantine/2025-11-02/landing/a b+c.json"
    )


def test_event_record_keys_are_url_decoded():
    record = {
        "eventTime": "2025-11-02T23:59:59.999Z",
        "s3": {
            "bucket": {"name": "landing"},
            "object": {"key": "landing/car+raw%2B1%C3%A9.json", "eTag": "abc"},
        },
    }

    source = ingestion.SourceObject.from_event_record(record)

    assert source == ingestion.SourceObject(
        bucket="landing",
        key="landing/car raw+1é.json",
        event_time=dt.datetime(2025, 11, 2, 23, 59, 59, 999000, tzinfo=UTC),
        etag="abc",
        version_id=None,
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "BRONZE_BUCKET"),
        ({"BRONZE_BUCKET": "b", "QUARANTINE_PREFIX": "car_data/quarantine"}, "must not overlap"),
        ({"BRONZE_BUCKET": "b", "BRONZE_PREFIX": "/", "QUARANTINE_PREFIX": "q"}, "invalid key"),
    ],
)
def test_invalid_configuration_is_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        ingestion.Config.from_env(environ)


def test_configuration_defaults():
    assert ingestion.Config.from_env({"BRONZE_BUCKET": "b"}) == ingestion.Config(
        bronze_bucket="b", bronze_prefix="car_data", quarantine_prefix="quarantine"
    )
