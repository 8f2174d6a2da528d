"""One bad record never costs its neighbours: every bad-record kind among good cars, on moto S3
with a real-shaped event. Expectations are counted from the uploaded file itself."""

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

import boto3
import handler
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bronze_factory import V1_FIELDS
from ingest import core, keys
from moto import mock_aws

EVENTS = Path(__file__).resolve().parent / "events"
LANDING, BRONZE = "car-telemetry-landing-dev", "car-telemetry-bronze-dev"
KEY = "landing/fleet/2025/11/02/fleet batch.json"  # the event's key, URL-decoded
EVENT_TIME = dt.datetime(2025, 11, 2, 9, 30, 0, 250000, tzinfo=dt.UTC)
METRIC_NAMES = [f.name for f in dict(V1_FIELDS)["metrics"]]


def good(chassis: str, mileage: int) -> dict:
    return {
        "carChassis": chassis,
        "currentMileage": mileage,
        "metrics": {"metricTimestamp": "Sun, 02 Nov 2025 09:00:00", "engineTempCelsius": 90},
    }


def as_bronze_row(record: dict) -> dict:
    """A good() record as its bronze row: every contract column, numbers double, lineage."""
    metrics = {**dict.fromkeys(METRIC_NAMES), "metricTimestamp": "Sun, 02 Nov 2025 09:00:00"}
    return {
        **{name: None for name, _ in V1_FIELDS},
        "carChassis": record["carChassis"],
        "currentMileage": float(record["currentMileage"]),
        "metrics": {**metrics, "engineTempCelsius": 90.0},
        "ingestion_timestamp": EVENT_TIME,
        "source_bucket": LANDING,
        "source_file": KEY,
    }


def deep(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


BAD_KINDS = {
    "mileage as text": (
        '{"carChassis": "BAD", "currentMileage": "12k"}',
        "field 'currentMileage' must be a number per the v1 contract, got string \"12k\"",
    ),
    "horsePower as text": (
        '{"carChassis": "BAD", "horsePower": "high", "currentMileage": 1}',
        "field 'horsePower' must be a number per the v1 contract, got string \"high\"",
    ),
    "fractional year": (
        '{"carChassis": "BAD", "year": 2024.5, "currentMileage": 1}',
        "field 'year' must be an integer, got 2024.5",
    ),
    "metrics as text": (
        '{"carChassis": "BAD", "metrics": "n/a"}',
        "field 'metrics' must be an object per the v1 contract, got string \"n/a\"",
    ),
    "not an object": ("42", "array element 1 is number, not an object"),
    "non-finite number": (
        '{"carChassis": "BAD", "currentMileage": 1e999}',
        "field 'currentMileage': inf is not a finite number",
    ),
    "names colliding": (
        '{"carChassis": "BAD", "color": "Blue", "Color": "blue"}',
        "fields 'color' and 'Color' differ only in letter case (ambiguous in Spark, Glue and "
        "Athena)",
    ),
    "nested too deep": (
        json.dumps({"carChassis": "BAD", "x": deep(70)}),
        "nested deeper than 64 levels (at field '" + ".".join(["x"] + ["a"] * 38) + "...')",
    ),
}


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("BRONZE_BUCKET", BRONZE)
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=LANDING)
        client.create_bucket(Bucket=BRONZE)
        monkeypatch.setattr(handler, "_STORE", core.S3Store(client))
        yield client


def upload_and_handle(s3, body: bytes, lambda_context) -> tuple[dict, dict]:
    etag = s3.put_object(Bucket=LANDING, Key=KEY, Body=body)["ETag"].strip('"')
    event = json.loads((EVENTS / "s3_put_fleet_batch.json").read_text())
    event["Records"][0]["s3"]["object"]["eTag"] = etag
    result = handler.lambda_handler(copy.deepcopy(event), lambda_context)
    listing = s3.list_objects_v2(Bucket=BRONZE).get("Contents", [])
    objects = {o["Key"]: s3.get_object(Bucket=BRONZE, Key=o["Key"])["Body"].read() for o in listing}
    return result, objects, etag


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_a_bad_record_goes_to_quarantine_alone_and_its_neighbours_to_bronze(
    s3, lambda_context, kind
):
    bad_text, reason = BAD_KINDS[kind]
    goods = [good("GOOD-1", 100), good("GOOD-2", 200)]
    body = f"[{json.dumps(goods[0])},\n {bad_text},\n {json.dumps(goods[1])}]".encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    bronze = keys.bronze_key(KEY, etag, EVENT_TIME, source_bucket=LANDING)
    records = keys.records_key(KEY, etag, EVENT_TIME)
    assert records == (
        f"quarantine/2025-11-02/landing/fleet/2025/11/02/fleet batch.{sha8(etag)}.records.jsonl"
    )
    assert sorted(objects) == sorted([bronze, records])
    rows = pq.read_table(pa.BufferReader(objects[bronze])).to_pylist()
    assert rows == [as_bronze_row(g) for g in goods]
    (line,) = objects[records].decode().splitlines()
    assert json.loads(line) == {
        "source_bucket": LANDING,
        "source_key": KEY,
        "etag": etag,
        "version_id": None,
        "event_time": "2025-11-02T09:30:00.250000Z",
        "record": 1,
        "line": 2,
        "reason": reason,
        "text": bad_text,
    }
    # input = bronze records + quarantined records, counted from the uploaded file
    assert len(json.loads(body)) == len(rows) + len(objects[records].splitlines())
    (processed,) = result["processed"]
    assert (processed["rows"], processed["quarantined_records"]) == (2, 1)
    assert processed["quarantine_key"] == records


def sha8(etag: str) -> str:
    return hashlib.sha256(etag.encode()).hexdigest()[:8]


def test_json_lines_are_judged_line_by_line_and_a_retry_rewrites_the_same_objects(
    s3, lambda_context
):
    lines = [json.dumps(good("GOOD-1", 100)), '{"carChassis": "BROKEN", "currentMileage": ']
    lines += [json.dumps(good("GOOD-2", 200)), "[1, 2]", json.dumps(good("GOOD-3", 300))]
    body = ("\n".join(lines) + "\n").encode()

    first, objects, etag = upload_and_handle(s3, body, lambda_context)
    again, objects_again, _ = upload_and_handle(s3, body, lambda_context)

    assert objects_again == objects and first == again
    records = keys.records_key(KEY, etag, EVENT_TIME)
    quarantined = [json.loads(x) for x in objects[records].decode().splitlines()]
    assert [(q["record"], q["line"], q["reason"], q["text"]) for q in quarantined] == [
        (1, 2, "malformed JSON at line 2 column 44: Expecting value", lines[1]),
        (3, 4, "record 3 is array, not an object", lines[3]),
    ]
    bronze = keys.bronze_key(KEY, etag, EVENT_TIME, source_bucket=LANDING)
    rows = pq.read_table(pa.BufferReader(objects[bronze])).to_pylist()
    assert rows == [as_bronze_row(good(f"GOOD-{i}", i * 100)) for i in (1, 2, 3)]
    assert len(body.splitlines()) == len(rows) + len(quarantined)


def test_a_file_of_only_bad_records_writes_no_bronze_file(s3, lambda_context):
    body = b'[{"carChassis": "A", "currentMileage": "x"}, 7]'

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    records = keys.records_key(KEY, etag, EVENT_TIME)
    assert list(objects) == [records]
    assert [json.loads(x)["record"] for x in objects[records].splitlines()] == [0, 1]
    (quarantined,) = result["quarantined"]
    assert quarantined["target_key"] == records
    assert quarantined["quarantined_records"] == 2
    assert quarantined["reason"].startswith("field 'currentMileage' must be a number")


def test_a_drifting_field_quarantines_only_the_drifting_records_of_a_large_file(s3, lambda_context):
    # JSON Lines, two chunks of conversion: every 100th car names its driver in an object
    records = []
    for i in range(5_000):
        driver = {"name": f"D{i}"} if i % 100 == 7 else f"D{i}"
        records.append({**good(f"C{i}", i), "driver": driver})
    lines = [json.dumps(r) for r in records]
    body = ("\n".join(lines) + "\n").encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    quarantined = keys.records_key(KEY, etag, EVENT_TIME)
    entries = [json.loads(x) for x in objects[quarantined].decode().splitlines()]
    reason = "field 'driver' holds incompatible types: string and object"
    assert [(e["record"], e["line"], e["reason"], e["text"]) for e in entries] == [
        (i, i + 1, reason, lines[i]) for i in range(7, 5_000, 100)
    ]
    bronze = keys.bronze_key(KEY, etag, EVENT_TIME, source_bucket=LANDING)
    rows = pq.read_table(pa.BufferReader(objects[bronze])).to_pylist()
    assert rows == [
        {**as_bronze_row(r), "driver": r["driver"]} for r in records if isinstance(r["driver"], str)
    ]
    # input = bronze records + quarantined records, counted from the uploaded file
    assert len(body.splitlines()) == len(rows) + len(entries) == 5_000
    (processed,) = result["processed"]
    assert (processed["rows"], processed["quarantined_records"]) == (4_950, 50)


def quarantine_lines(objects: dict, etag: str) -> list[dict]:
    body = objects[keys.records_key(KEY, etag, EVENT_TIME)]
    return [json.loads(line) for line in body.decode().splitlines()]


def bronze_rows(objects: dict, etag: str) -> list[dict]:
    body = objects[keys.bronze_key(KEY, etag, EVENT_TIME, source_bucket=LANDING)]
    return pq.read_table(pa.BufferReader(body)).to_pylist()


def line_of(etag: str, record: int, line: int, reason: str, text: str) -> dict:
    """A quarantine line of the uploaded file."""
    lineage = {"source_bucket": LANDING, "source_key": KEY, "etag": etag, "version_id": None}
    where = {"record": record, "line": line, "reason": reason, "text": text}
    return {**lineage, "event_time": "2025-11-02T09:30:00.250000Z", **where}


def test_a_broken_first_json_line_costs_only_itself(s3, lambda_context):
    lines = ['{"carChassis": "BROKEN", "currentMileage": 1', json.dumps(good("GOOD-1", 100))]
    lines += [json.dumps(good("GOOD-2", 200))]
    body = ("\n".join(lines) + "\n").encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    reason = "malformed JSON at line 1 column 45: Expecting ',' delimiter"
    assert quarantine_lines(objects, etag) == [line_of(etag, 0, 1, reason, lines[0])]
    assert bronze_rows(objects, etag) == [as_bronze_row(good(f"GOOD-{i}", i * 100)) for i in (1, 2)]
    (processed,) = result["processed"]
    assert (processed["rows"], processed["quarantined_records"]) == (2, 1)


@pytest.mark.parametrize(("indent", "junk"), [(None, " x"), (None, "]"), (2, "\n}\n")])
def test_a_complete_record_followed_by_junk_goes_to_bronze_the_junk_to_quarantine(
    s3, lambda_context, indent, junk
):
    record = good("GOOD-1", 100)
    text = json.dumps(record, indent=indent)  # on one line, or pretty-printed
    body = (text + junk).encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    line = text.count("\n") + 1 + junk.lstrip(" ").startswith("\n")  # where the junk is
    reason = f"malformed JSON at line {line} column 1: Expecting value"
    assert quarantine_lines(objects, etag) == [line_of(etag, 1, line, reason, junk.strip())]
    assert bronze_rows(objects, etag) == [as_bronze_row(record)]
    (processed,) = result["processed"]
    assert (processed["rows"], processed["quarantined_records"]) == (1, 1)


@pytest.mark.parametrize("layout", ["array", "lines"])
def test_a_record_with_a_duplicate_key_is_quarantined_alone_naming_the_key(
    s3, lambda_context, layout
):
    goods = [good("GOOD-1", 100), good("GOOD-2", 200)]
    twice = '{"carChassis": "TWICE", "currentMileage": 10, "currentMileage": 99999}'
    texts = [json.dumps(goods[0]), twice, json.dumps(goods[1])]
    body = ("[" + ",\n".join(texts) + "]" if layout == "array" else "\n".join(texts)).encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    reason = "duplicate key 'currentMileage': JSON leaves open which value counts"
    assert quarantine_lines(objects, etag) == [line_of(etag, 1, 2, reason, twice)]
    assert bronze_rows(objects, etag) == [as_bronze_row(g) for g in goods]
    (processed,) = result["processed"]
    assert (processed["rows"], processed["quarantined_records"]) == (2, 1)


def test_a_file_of_only_bad_records_larger_than_a_part_is_quarantined_whole(
    s3, lambda_context, monkeypatch
):
    # a bad producer release: every record sends its mileage as text. The quarantine output
    # (~11 MB here) is uploaded in parts as it is produced; S3 takes parts of 5 MiB or more.
    monkeypatch.setattr(core, "PART_BYTES", 5 * 2**20)
    calls: list[str] = []
    s3.meta.events.register(
        "provide-client-params.s3.*", lambda model, **_: calls.append(model.name)
    )
    records = [
        {**good(f"C{i}", 0), "currentMileage": "12k", "note": "n" * 2_000} for i in range(5_000)
    ]
    texts = [json.dumps(r) for r in records]
    body = ("\n".join(texts) + "\n").encode()

    result, objects, etag = upload_and_handle(s3, body, lambda_context)

    reason = "field 'currentMileage' must be a number per the v1 contract, got string \"12k\""
    records_key = keys.records_key(KEY, etag, EVENT_TIME)
    assert list(objects) == [records_key]
    assert quarantine_lines(objects, etag) == [
        line_of(etag, i, i + 1, reason, text) for i, text in enumerate(texts)
    ]
    assert len(objects[records_key]) > 2 * core.PART_BYTES
    assert [name for name in calls if "Multipart" in name or name == "UploadPart"] == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    (quarantined,) = result["quarantined"]
    assert (quarantined["target_key"], quarantined["quarantined_records"]) == (records_key, 5_000)
