"""The ingestion Lambda's pure functions: parsing, typing, keys, Parquet determinism."""

import datetime as dt
import hashlib
import json
import re

import handler as ingestion
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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
        # the parser's own RecursionError, in every layout, is bad content too
        (b'{"a":' * 100_000, "JSON nested too deeply"),
        (b'[{"a": 1}, {"a":' + b"[" * 100_000, "JSON nested too deeply"),
        (b'{"a": 1}\n{"b":' + b"[" * 100_000, "JSON nested too deeply"),
        # NaN / Infinity are JavaScript, not JSON (Python's parser accepts them by default)
        (b'{"currentMileage": Infinity}', "non-finite number Infinity is not valid JSON"),
        (b'[{"a": 1}, {"a": -Infinity}]', "non-finite number -Infinity is not valid JSON"),
        (b'{"a": 1}\n{"b": [1, NaN]}\n', "non-finite number NaN is not valid JSON"),
        (b"NaN", "non-finite number NaN is not valid JSON"),
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


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        # 1e999 is valid JSON but parses as inf: it would win every max(mileage) downstream
        (
            [{"currentMileage": 1}, {"currentMileage": 1e999}],
            "field 'currentMileage': a number is out of the double range (inf)",
        ),
        (
            [{"extra": {"readings": [1.5, -1e999]}}],
            "field 'extra.readings[]': a number is out of the double range (-inf)",
        ),
        (
            [{"currentMileage": "1e999"}],
            "field 'currentMileage': '1e999' is out of the double range",
        ),
        ([{"year": 1e999}], "field 'year' must be an integer, got inf"),
    ],
)
def test_numbers_out_of_the_double_range_are_bad_content(records, reason):
    with pytest.raises(ingestion.BadContent) as caught:
        table_of(records)
    assert caught.value.reason == reason


def test_non_finite_numbers_are_caught_in_every_chunk(monkeypatch):
    monkeypatch.setattr(ingestion, "CHUNK_ROWS", 2)
    records = [{"currentMileage": float(i)} for i in range(5)] + [{"currentMileage": 1e999}]

    with pytest.raises(ingestion.BadContent, match="out of the double range"):
        table_of(records)


def nested(depth: int, leaf, kind: str = "object"):
    """``leaf`` inside ``depth`` objects ``{"a": ...}`` or arrays: ``depth`` levels of fields."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


def clipped(path: str) -> str:
    return path if len(path) <= 80 else path[:77] + "..."


@pytest.mark.parametrize("depth", [65, 900])
def test_nesting_deeper_than_the_limit_is_bad_content_not_a_recursion_error(depth):
    assert ingestion.MAX_NESTING_DEPTH == 64
    objects = json.dumps(nested(depth, 1)).encode()
    arrays = json.dumps({"a": nested(depth, 1, "array")}).encode()

    for raw, path in (
        (objects, ".".join(["a"] * 65)),
        (arrays, "a" + "[]" * 64),
    ):
        with pytest.raises(ingestion.BadContent) as caught:
            ingestion.convert_payload(
                raw, ingestion_timestamp=EVENT_TIME, source_bucket="b", source_file="f"
            )
        assert caught.value.reason == f"nested deeper than 64 levels (at field {clipped(path)!r})"


def test_nesting_at_the_limit_converts_and_round_trips():
    record = {"carChassis": "C1", **nested(64, 7.5), "lists": nested(63, "x", "array")}

    body, rows = ingestion.convert_payload(
        json.dumps(record).encode(),
        ingestion_timestamp=EVENT_TIME,
        source_bucket="landing",
        source_file="landing/f.json",
    )

    row = pq.read_table(pa.BufferReader(body)).to_pylist()[0]
    assert rows == 1
    assert (row["a"], row["lists"]) == (nested(63, 7.5), nested(63, "x", "array"))


def test_hostile_nesting_built_in_python_is_bad_content_too():
    # to_table also takes records that never went through the parser's own depth limit
    with pytest.raises(ingestion.BadContent, match="^nested deeper than 64 levels"):
        table_of([{"x": nested(5_000, 1)}])
    # the reason quotes the offending value: one too deep to print is abbreviated
    with pytest.raises(ingestion.BadContent) as caught:
        table_of([{"metrics": nested(5_000, 1, "array")}])
    assert caught.value.reason == (
        "field 'metrics' must be an object per the v1 contract, got array [...]"
    )


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (
            # the contract's metrics.metricTimestamp is always a bronze column
            [{"metrics_metricTimestamp": "2025-11-02T08:15:00Z"}],
            "fields 'metrics.metricTimestamp' and 'metrics_metricTimestamp' both become the "
            "column 'metrics_metricTimestamp' when the silver job flattens structs with '_'",
        ),
        (
            [{"a_b": 1, "a": {"b": 2}}],
            "fields 'a_b' and 'a.b' both become the column 'a_b' when the silver job flattens "
            "structs with '_'",
        ),
        (
            [{"A": {"B": 1}}, {"a_b": "x"}],  # compared case-insensitively, like the job
            "fields 'A.B' and 'a_b' both become the column 'a_b' when the silver job flattens "
            "structs with '_'",
        ),
        (
            [{"x": {"y": {"a_b": 1, "a": {"b": "s"}}}}],
            "fields 'x.y.a_b' and 'x.y.a.b' both become the column 'x_y_a_b' when the silver "
            "job flattens structs with '_'",
        ),
        (
            [{"x_y": {"z": 1}, "x": {"y_z": True}}],
            "fields 'x_y.z' and 'x.y_z' both become the column 'x_y_z' when the silver job "
            "flattens structs with '_'",
        ),
        (
            [{"source": {"file": "upload.json"}}],  # the lineage column source_file
            "fields 'source.file' and 'source_file' both become the column 'source_file' when "
            "the silver job flattens structs with '_'",
        ),
        (
            [{"we`ird": 1}],
            "field name 'we`ird' contains a backtick, the quote character of Spark column paths",
        ),
        (
            [{"metrics": {"trip": {"`": 1}}}],
            "field name 'metrics.trip.`' contains a backtick, the quote character of Spark "
            "column paths",
        ),
    ],
)
def test_names_the_silver_job_cannot_flatten_are_bad_content(records, reason):
    with pytest.raises(ingestion.BadContent) as caught:
        table_of(records)
    assert caught.value.reason == reason


def test_names_that_do_not_collide_in_silver_are_kept():
    # arrays are not flattened by the job; an untyped field is not written, so cannot collide
    table = table_of([{"stops": [{"a_b": 1, "a": {"b": 2}}], "c_d": None, "c": {"d": 1}}])

    assert extras(table).names == ["stops", "c"]


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
    # sha256("abc123") = 6ca13d52..., the quotes of an ETag do not count
    assert (
        ingestion.quarantine_key("landing/a b+c.json", '"abc123"', EVENT_TIME, "quarantine")
        == "quarantine/2025-11-02/landing/a b+c.6ca13d52.json"
    )


def test_quarantine_keys_of_two_uploads_of_one_key_differ_and_retries_repeat_them():
    first = ingestion.quarantine_key("landing/car.json", "etag-1", EVENT_TIME)
    second = ingestion.quarantine_key("landing/car.json", "etag-2", EVENT_TIME)

    assert first != second
    assert ingestion.quarantine_key("landing/car.json", "etag-1", EVENT_TIME) == first
    for key in (first, second):
        assert re.fullmatch(r"quarantine/2025-11-02/landing/car\.[0-9a-f]{8}\.json", key), key


@pytest.mark.parametrize(
    ("source_key", "identity", "expected"),
    [
        # top-level key, the suffix kept as it was
        ("CAR.JSON", "abc123", "quarantine/2025-11-02/CAR.6ca13d52.JSON"),
        # a versionId, hashed the same way (not hex, may hold '.' and '_')
        (
            "in/car.json",
            "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY",
            "quarantine/2025-11-02/in/car."
            + hashlib.sha256(b"3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY").hexdigest()[:8]
            + ".json",
        ),
    ],
)
def test_quarantine_key_variants(source_key, identity, expected):
    assert ingestion.quarantine_key(source_key, identity, EVENT_TIME) == expected


def test_superseded_key_sits_beside_the_quarantine_copies_of_the_same_source():
    assert (
        ingestion.superseded_key("landing/car.json", '"abc123"', EVENT_TIME, "rejected/")
        == "rejected/2025-11-02/landing/car.6ca13d52.superseded.json"
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
