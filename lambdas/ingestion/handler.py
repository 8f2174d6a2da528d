"""Ingestion Lambda: S3 ``ObjectCreated`` events on the landing bucket -> bronze Parquet and
quarantine entries, each ``.json`` key through ``ingest.core.process_object`` (runtime
python3.12, handler ``handler.lambda_handler``, pyarrow from the AWS SDK for pandas layer; the
zip holds this file and ``ingest``). Environment: ``BRONZE_BUCKET`` (required),
``BRONZE_PREFIX`` (``car_data``), ``QUARANTINE_PREFIX`` (``quarantine``), ``LOG_LEVEL``
(``INFO``). Importing it has no side effects (no boto3 client, no configuration read)."""

import json
import os
from collections.abc import Mapping
from typing import Any

from ingest.core import Config, S3Store, SourceObject, logger, process_object, summarize

_STORE: S3Store | None = None  # reused across warm invocations; created on the first one


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated event -> the outcome of every ``.json`` record, grouped by status."""
    global _STORE
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
    config = Config.from_env()
    _STORE = _STORE or S3Store()
    outcomes = []
    for record in event.get("Records") or []:
        name = record.get("eventName", "")
        if record.get("eventSource") == "aws:s3" and name.startswith("ObjectCreated:"):
            outcomes.append(process_object(_STORE, SourceObject.from_event_record(record), config))
        else:
            logger.info(json.dumps({"message": "skipped: not an S3 ObjectCreated record"}))
            outcomes.append(
                {"status": "skipped", "event_name": name, "reason": "not S3 ObjectCreated"}
            )
    summary = summarize(outcomes)
    request_id = getattr(context, "aws_request_id", None)
    counts = {status: len(items) for status, items in summary.items()}
    logger.info(json.dumps({"message": "invocation done", "request_id": request_id, **counts}))
    return summary
