"""Ingestion Lambda: landing JSON -> bronze Parquet, exactly once, whatever arrives.

Triggered by S3 ``ObjectCreated`` events on the landing bucket (runtime python3.12, handler
``handler.lambda_handler``; pandas/pyarrow come from the AWS SDK for pandas layer, boto3 from
the runtime; the zip holds this file and the ``ingest`` package beside it). For every record
of the event, ``ingest.core.process_object``:

1. URL-decodes the key; keys not ending in ``.json`` are skipped (logged).
2. Reads the landing object with ``If-Match: <the event's eTag>``. When the key was overwritten
   before the event got here (412), no bronze file is written; the record
   ``{QUARANTINE_PREFIX}/YYYY-MM-DD/<source dir>/<stem>.<hash8>.superseded.json`` says so and
   the event record counts as skipped (the newer upload has an event of its own).
3. Splits it into records (``ingest.payload``: one object, an array of objects, JSON Lines)
   and converts them (``ingest.convert``) to one Arrow table: the v1 contract columns
   (``ingest.contract.V1_CONTRACT``) always present with their types, unknown fields typed by
   pyarrow with every number a double, structs kept; lineage ``ingestion_timestamp`` (the
   event's ``eventTime``), ``source_bucket``, ``source_file``.
4. Puts the rejected records, if any, as one JSON line each (original text, position, reason,
   source key and ETag) to ``{QUARANTINE_PREFIX}/YYYY-MM-DD/<source dir>/<stem>.<hash8>``
   ``.records.jsonl`` and the others as one snappy Parquet file to
   ``{BRONZE_PREFIX}/ingest_year=YYYY/ingest_month=MM/ingest_day=DD/<stem>-<hash16>.parquet``.
   A file that cannot be split into records (undecodable, empty, malformed document) is copied
   whole to ``.../<stem>.<hash8>.json`` with the sidecar ``<that key>.error.json``.

Every key comes from the source object (key and versionId or ETag) and the event time, and the
Parquet bytes are deterministic: a redelivered event rewrites the same objects with the same
bytes. Bad content is an outcome; unexpected errors (S3 access, throttling, configuration)
raise, so Lambda's retries and failure destination take over.

Configuration (environment): ``BRONZE_BUCKET`` (required), ``BRONZE_PREFIX`` (``car_data``),
``QUARANTINE_PREFIX`` (``quarantine``), ``LOG_LEVEL`` (``INFO``). Importing this module has no
side effects (no boto3 client, no configuration read).
"""

import json
import os
from collections.abc import Mapping
from typing import Any

from ingest.core import Config, S3Store, SourceObject, logger, process_object, summarize

_STORE: S3Store | None = None  # reused across warm invocations; created on the first one


def _s3_store() -> S3Store:
    global _STORE
    if _STORE is None:
        _STORE = S3Store()
    return _STORE


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated event -> the outcome of every ``.json`` record, grouped by status."""
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    config = Config.from_env()
    store = _s3_store()
    outcomes = []
    for record in event.get("Records") or []:
        name = record.get("eventName", "")
        if record.get("eventSource") != "aws:s3" or not name.startswith("ObjectCreated:"):
            logger.info(json.dumps({"message": "skipped: not an S3 ObjectCreated record"}))
            outcomes.append(
                {"status": "skipped", "event_name": name, "reason": "not S3 ObjectCreated"}
            )
            continue
        outcomes.append(process_object(store, SourceObject.from_event_record(record), config))
    summary = summarize(outcomes)
    logger.info(
        json.dumps(
            {
                "message": "invocation done",
                "request_id": getattr(context, "aws_request_id", None),
                **{status: len(items) for status, items in summary.items()},
            }
        )
    )
    return summary
