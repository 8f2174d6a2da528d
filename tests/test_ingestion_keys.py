"""Object keys (``ingest.keys``): bronze and quarantine keys, each a pure function of the
source object."""

import datetime as dt
import hashlib
import json
import re

import pytest
from ingest import keys
from ingestion_helpers import EVENT_TIME


def test_bronze_key_is_partitioned_by_utc_ingest_date_and_named_from_the_source():
    event_time = dt.datetime(2025, 3, 1, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    digest = hashlib.sha256(
        json.dumps(["landing-bucket", "in/2025/car raw+1.json", "abc123"]).encode()
    ).hexdigest()[:16]

    key = keys.bronze_key(
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
    base = keys.bronze_key("a/car.json", "e1", EVENT_TIME)

    assert keys.bronze_key("a/car.json", "e1", EVENT_TIME) == base
    assert keys.bronze_key("a/car.json", "e2", EVENT_TIME) != base
    assert keys.bronze_key("b/car.json", "e1", EVENT_TIME) != base
    assert keys.bronze_key("a/car.json", "e1", EVENT_TIME, source_bucket="other") != base


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
    name = keys.bronze_key(source_key, "e", EVENT_TIME).rsplit("/", 1)[1]

    assert name.rsplit("-", 1)[0] == stem
    assert name.endswith(".parquet") and len(name.rsplit("-", 1)[1]) == len(
        "0123456789abcdef.parquet"
    )


def test_quarantine_key_keeps_the_source_key_under_the_ingest_date():
    # sha256("abc123") = 6ca13d52..., the quotes of an ETag do not count
    assert (
        keys.quarantine_key("landing/a b+c.json", '"abc123"', EVENT_TIME, "quarantine")
        == "quarantine/2025-11-02/landing/a b+c.6ca13d52.json"
    )


def test_quarantine_keys_of_two_uploads_of_one_key_differ_and_retries_repeat_them():
    first = keys.quarantine_key("landing/car.json", "etag-1", EVENT_TIME)
    second = keys.quarantine_key("landing/car.json", "etag-2", EVENT_TIME)

    assert first != second
    assert keys.quarantine_key("landing/car.json", "etag-1", EVENT_TIME) == first
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
    assert keys.quarantine_key(source_key, identity, EVENT_TIME) == expected


def test_superseded_key_sits_beside_the_quarantine_copies_of_the_same_source():
    assert (
        keys.superseded_key("landing/car.json", '"abc123"', EVENT_TIME, "rejected/")
        == "rejected/2025-11-02/landing/car.6ca13d52.superseded.json"
    )
