"""The reference landing files (../shared/data/reference, never copied here) through ingestion.

v1 files convert to the contract schema. Every v2 file (a later producer format, the
schema-drift case) is known to convert: each holds one JSON object, an envelope whose fields
are outside the v1 contract (only the top-level ``carChassis`` is a contract field, absent from
``sample_car_telemetry_005_high_temp_alert.json``), so its one record goes to bronze whole with
the contract columns null, and nothing goes to quarantine. (That the job rejects these rows
for a missing ``currentMileage``/``metricTimestamp`` is the job's business, tested there.)
"""

import datetime as dt
import json
from pathlib import Path

import local_runtime
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bronze_factory import V1_FIELDS, V1_SCHEMA

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
        assert table.schema.equals(V1_SCHEMA)
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


def test_the_v2_reference_set_is_the_one_whose_outcomes_are_stated_here():
    files = reference_files("landing_v2")
    assert len(files) == 103
    assert [p.name for p in files if not p.name.startswith("car_raw_data_")] == [
        "sample_car_telemetry_001.json",
        "sample_car_telemetry_005_high_temp_alert.json",
    ]


@pytest.mark.parametrize("path", reference_files("landing_v2"), ids=lambda p: p.name)
def test_v2_reference_file_converts_to_one_row_with_the_envelope_kept(tmp_path, path):
    outcome = convert(path, tmp_path)

    assert outcome["status"] == "processed"
    assert (outcome["rows"], "quarantine_key" in outcome) == (1, False)
    assert files_under(tmp_path) == [outcome["target_key"]]
    table = read(outcome)
    original = json.loads(path.read_text(encoding="utf-8"))
    # the v1 columns come first with their contract types (null where the envelope lacks them)
    contract = [name for name, _ in V1_FIELDS]
    assert table.schema.names[: len(contract)] == contract
    for name, dtype in V1_FIELDS:
        assert table.schema.field(name).type == dtype, name
    row = table.to_pylist()[0]
    assert row["source_file"] == f"landing_v2/{path.name}"
    # every landing value arrives, whole and nested (numbers as doubles); only fields with no
    # typed value at all (null, [] or {}) are left out
    expected = as_bronze(original)
    assert {k: row[k] for k in expected} == expected
    assert {k for k, v in row.items() if v is not None} == set(expected) | {
        "ingestion_timestamp",
        "source_bucket",
        "source_file",
    }


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
