"""The one code path of a landing object (``ingest.core``): S3 event records and the
configuration."""

import datetime as dt

import pytest
from ingest import core
from ingestion_helpers import UTC


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
