"""The reference landing files (../shared/data/reference, never copied here) through ingestion.

v1 files convert; every v2 file (a later producer format: the schema-drift case) either converts
or is quarantined with a reason. Nothing crashes and nothing is dropped silently.
"""

import datetime as dt
import json
from pathlib import Path

import handler as ingestion
import local_runtime
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reference"
EVENT_TIME = dt.datetime(2025, 11, 6, 12, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason="reference data ../shared/data/reference not present"
)


def reference_files(folder: str) -> list[Path]:
    return sorted((REFERENCE / folder).glob("*.json")) if REFERENCE.is_dir() else []


def convert(path: Path, bronze: Path) -> dict:
    return local_runtime.convert_local_file(
        path, bronze, landing_root=REFERENCE, event_time=EVENT_TIME
    )


def has_type(value) -> bool:
    """Whether a JSON value gives its field a type (null, [] and {} do not)."""
    if isinstance(value, dict | list):
        return any(has_type(v) for v in (value.values() if isinstance(value, dict) else value))
    return value is not None


def as_bronze(value):
    """A single record's JSON value as bronze keeps it: numbers as doubles, untyped fields out.

    (Simplified for single-record files: it does not merge fields across array elements.)
    """
    if isinstance(value, dict):
        return {k: as_bronze(v) for k, v in value.items() if has_type(v)}
    if isinstance(value, list):
        return [as_bronze(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def read(outcome: dict) -> pa.Table:
    """The bronze file alone (no hive partition columns from its path)."""
    return pq.read_table(pa.BufferReader(Path(outcome["target_path"]).read_bytes()))


def test_v1_reference_files_convert_to_the_contract_schema(tmp_path):
    files = reference_files("landing_v1")
    assert [p.name for p in files] == ["car_raw.json", "car_raw_2.json"]

    outcomes = [convert(path, tmp_path) for path in files]

    assert [o["status"] for o in outcomes] == ["processed", "processed"]
    tables = [read(o) for o in outcomes]
    for table in tables:
        assert table.schema.equals(ingestion.contract_schema())
    rows = [t.to_pylist()[0] for t in tables]
    for path, row in zip(files, rows, strict=True):
        original = json.loads(path.read_text(encoding="utf-8"))
        assert row["source_file"] == f"landing_v1/{path.name}"
        assert row["ingestion_timestamp"] == EVENT_TIME
        # every landing value arrives, numbers as doubles (year/ModelYear as int64)
        assert {k: row[k] for k in original} == json.loads(json.dumps(original), parse_int=float)
    assert [(r["currentMileage"], r["metrics"]["metricTimestamp"]) for r in rows] == [
        (4321.0, "Wed, 29 Oct 2025 11:00:00"),
        (8500.0, "Thu, 30 Oct 2025 11:00:00"),
    ]


@pytest.mark.parametrize("path", reference_files("landing_v2"), ids=lambda p: p.name)
def test_v2_reference_file_converts_or_is_quarantined_with_a_reason(tmp_path, path):
    outcome = convert(path, tmp_path)

    assert outcome["status"] in {"processed", "quarantined"}
    if outcome["status"] == "quarantined":
        assert outcome["reason"]
        sidecar = json.loads(Path(outcome["error_path"]).read_text(encoding="utf-8"))
        assert sidecar["reason"] == outcome["reason"]
        assert Path(outcome["target_path"]).read_bytes() == path.read_bytes()
        return
    table = read(outcome)
    original = json.loads(path.read_text(encoding="utf-8"))
    assert table.num_rows == 1
    # the v1 columns are there (null where the v2 envelope lacks them), the envelope is kept
    assert (
        table.schema.names[: len(ingestion.contract_schema()) - 3]
        == (ingestion.contract_schema().names[:-3])
    )
    row = table.to_pylist()[0]
    assert row["source_file"] == f"landing_v2/{path.name}"
    # every landing value arrives, whole and nested (numbers as doubles); only fields with no
    # typed value at all (null, [] or {}) are left out
    expected = as_bronze(original)
    assert {k: row[k] for k in expected} == expected
    assert set(row) - set(expected) <= set(ingestion.contract_schema().names)
