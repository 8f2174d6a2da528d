"""The one code path of a landing object (``ingest.core``): S3 event records, the
configuration, and the objects ``plan`` puts (a quarantine produced as a stream, event times)."""

import datetime as dt
import json
import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest import convert, core, keys
from ingestion_helpers import CONTRACT_NAMES, EVENT_TIME, UTC


def test_event_record_keys_are_url_decoded():
    record = {
        "eventTime": "2025-11-02T23:59:59.999Z",
        "s3": {
            "bucket": {"name": "landing"},
            "object": {"key": "landing/car+raw%2B1%C3%A9.json", "eTag": "abc"},
        },
    }

    source = core.SourceObject.from_event_record(record)

    assert source == core.SourceObject(
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
        core.Config.from_env(environ)


def test_configuration_defaults():
    assert core.Config.from_env({"BRONZE_BUCKET": "b"}) == core.Config(
        bronze_bucket="b", bronze_prefix="car_data", quarantine_prefix="quarantine"
    )


SOURCE = core.SourceObject("landing", "landing/fleet/f.json", EVENT_TIME, etag="e1")
CONFIG = core.Config("bronze")
LINEAGE_OF_LINES = {
    "source_bucket": "landing",
    "source_key": "landing/fleet/f.json",
    "etag": "e1",
    "version_id": None,
    "event_time": "2025-11-02T08:15:42.517000Z",
}


def test_a_file_of_bad_records_is_quarantined_record_by_record_as_a_stream(monkeypatch):
    # a bad producer release: every record sends its mileage as text
    monkeypatch.setattr(convert, "CHUNK_ROWS", 4)
    texts = [
        json.dumps({"carChassis": f"C{i}", "currentMileage": "12k", "note": "é" * i})
        for i in range(10)
    ]
    raw = ("\n".join(texts) + "\n").encode()

    outcome, puts = core.plan(raw, SOURCE, CONFIG, "e1")

    reason = "field 'currentMileage' must be a number per the v1 contract, got string \"12k\""
    records_key = keys.records_key("landing/fleet/f.json", "e1", EVENT_TIME)
    assert outcome == {
        "source_bucket": "landing",
        "source_key": "landing/fleet/f.json",
        "status": "quarantined",
        "target_bucket": "bronze",
        "quarantined_records": 10,
        "quarantine_key": records_key,
        "target_key": records_key,
        "reason": reason,
    }
    ((key, body, content_type),) = puts
    assert (key, content_type) == (records_key, "application/x-ndjson")
    # produced line by line as the store reads it, the same each time it is read
    expected = [
        {**LINEAGE_OF_LINES, "record": i, "line": i + 1, "reason": reason, "text": text}
        for i, text in enumerate(texts)
    ]
    for _ in range(2):
        lines = list(body)
        assert [json.loads(line) for line in lines] == expected
        assert all(line.endswith(b"}\n") and line.count(b"\n") == 1 for line in lines)


@pytest.fixture
def local_zone_utc_minus_3():
    """The process's local time zone three hours behind UTC (a POSIX TZ: no tz database)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "XXX+3"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_a_naive_event_time_is_utc_in_the_keys_and_the_lineage(local_zone_utc_minus_3):
    # a local caller's event time without a zone: 23:30 on 2 Nov is UTC everywhere, not 02:30
    # on 3 Nov (what the local zone would make of it)
    naive = dt.datetime(2025, 11, 2, 23, 30)
    utc = naive.replace(tzinfo=UTC)
    source = core.SourceObject("landing", "landing/f.json", naive, etag="e1")
    raw = b'{"carChassis": "C1", "currentMileage": 5}\n{"carChassis": "BAD", "year": 1.5}\n'

    outcome, (quarantine, bronze) = core.plan(raw, source, CONFIG, "e1")

    assert (quarantine.key, bronze.key) == (
        keys.records_key("landing/f.json", "e1", utc),
        keys.bronze_key("landing/f.json", "e1", utc, source_bucket="landing"),
    )
    assert quarantine.key.startswith("quarantine/2025-11-02/")
    assert bronze.key.startswith("car_data/ingest_year=2025/ingest_month=11/ingest_day=02/")
    assert pq.read_table(pa.BufferReader(bronze.body)).to_pylist() == [
        {
            **dict.fromkeys(CONTRACT_NAMES),
            "carChassis": "C1",
            "currentMileage": 5.0,
            "ingestion_timestamp": utc,
            "source_bucket": "landing",
            "source_file": "landing/f.json",
        }
    ]
    assert [json.loads(line)["event_time"] for line in quarantine.body] == ["2025-11-02T23:30:00Z"]
    assert (outcome["rows"], outcome["quarantined_records"]) == (1, 1)
