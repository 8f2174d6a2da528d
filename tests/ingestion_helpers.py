"""What the ingestion Lambda's tests share: records through ``convert`` as rows and reasons, a
payload as its records, the expectation in the tests' own terms, and a small Lambda context."""

import dataclasses
import datetime as dt

import pyarrow as pa
from bronze_factory import V1_FIELDS, V1_SCHEMA
from ingest import convert
from ingest.payload import Item, Payload

UTC = dt.UTC
EVENT_TIME = dt.datetime(2025, 11, 2, 8, 15, 42, 517000, tzinfo=UTC)
LINEAGE = {
    "ingestion_timestamp": EVENT_TIME,
    "source_bucket": "landing",
    "source_file": "landing/f.json",
}
# The expectation in the tests' own terms (bronze_factory, written apart from the Lambda).
CONTRACT_NAMES = [name for name, _ in V1_FIELDS]
KNOWN_NAMES = set(V1_SCHEMA.names)


def items_of(records) -> list[Item]:
    return [Item(i, -1, -1, record, None) for i, record in enumerate(records)]


def convert_records(records) -> tuple[pa.Table | None, list[tuple[int, str]]]:
    """(the bronze table with lineage or None, [(record index, reason)] of the rejected)."""
    table, rejected = convert.convert(items_of(records))
    if table is not None:
        table = convert.with_lineage(
            table,
            ingestion_timestamp=EVENT_TIME,
            source_bucket="landing",
            source_file="landing/f.json",
        )
    return table, [(item.index, reason) for item, reason in rejected]


def table_of(records) -> pa.Table:
    table, rejected = convert_records(records)
    assert rejected == []
    return table


def rejected_of(records) -> list[tuple[int, str]]:
    return convert_records(records)[1]


def extras(table: pa.Table) -> pa.Schema:
    """The schema without the always-present contract and lineage columns."""
    return pa.schema([f for f in table.schema if f.name not in KNOWN_NAMES])


def rows_without_contract(table: pa.Table) -> list[dict]:
    """The rows without the contract and lineage columns."""
    return table.select([n for n in table.column_names if n not in KNOWN_NAMES]).to_pylist()


def parse(raw: bytes) -> list:
    """Each record of the payload: its value, or ("bad", reason, its text)."""
    payload = Payload(raw)
    return [
        item.value
        if item.reason is None
        else ("bad", item.reason, payload.text[item.start : item.end])
        for item in payload.items()
    ]


@dataclasses.dataclass
class LambdaContext:
    function_name: str = "car-telemetry-ingestion"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:car-telemetry-ingestion"
    )
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000
