"""Random schema drift through the job (`make test-drift-fuzz`, 15-20 minutes; not in
`make test`, whose drift tests cover each kind once).

Each seed writes 2-4 bronze files, each valid for the Lambda alone (no letter-case twins, no two
paths that flatten to one name within a file), whose fields outside the contract take random
names from a small pool that mixes letter cases and flattened spellings (`s_a`, `S` with a
struct `a`) and random types (double, string, bool, arrays, structs, arrays of structs).

The files go through the job in one run; in a run for the first file and one for the others (a
batch against silver's types); and in a run per file followed by a full refresh. In every case:
each run exits ok; every record is exactly one silver row; each of its values is, of the same
JSON type, in its column (case-insensitively named, as Athena resolves it) or, as JSON under
that column's name, in `_rescued_data`; every silver Parquet file gives a column the same name
and type.

The job at b9e5756 fails 15 of the 40 seeds: 10 with a run that fails (`INCOMPATIBLE_COLUMN_TYPE`
in the union of letter-case twins of two types), 5 with values cast to text instead of rescued
or a column with two spellings across silver's files.
"""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bronze_factory import record, write_bronze
from lake import Lake
from test_silver_drift import with_extra

pytestmark = [pytest.mark.spark, pytest.mark.fuzz]

DAYS = ["Wed, 29 Oct 2025 11:00:00", "Thu, 30 Oct 2025 11:00:00", "Fri, 31 Oct 2025 11:00:00"]
TYPES = {
    "double": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "strings": pa.list_(pa.string()),
    "doubles": pa.list_(pa.float64()),
    "struct": pa.struct([("a", pa.float64())]),
    "struct2": pa.struct([("a", pa.string()), ("b", pa.float64())]),
    "structs": pa.list_(pa.struct([("a", pa.float64())])),
}
NAMES = ["x", "X", "y", "s", "S", "s_a", "S_b", "tags"]


def random_value(kind: str, rnd: random.Random):
    return {
        "double": lambda: rnd.choice([1.5, -2.0, 0.0, 1e10]),
        "string": lambda: rnd.choice(["a", "low", "1.5", ""]),
        "bool": lambda: rnd.choice([True, False]),
        "strings": lambda: ["p", "q"][: rnd.randint(0, 2)],
        "doubles": lambda: [1.0, 2.5][: rnd.randint(0, 2)],
        "struct": lambda: {"a": rnd.choice([1.0, 2.0])},
        "struct2": lambda: {"a": "t", "b": rnd.choice([3.0, None])},
        "structs": lambda: [{"a": 1.0}],
    }[kind]()


def flat_names(name: str, kind: str) -> list[str]:
    """The silver columns the job makes of a field: a struct's fields joined with `_`."""
    dtype = TYPES[kind]
    return [f"{name}_{f.name}" for f in dtype] if pa.types.is_struct(dtype) else [name]


def flat_values(name: str, kind: str, value) -> dict:
    if pa.types.is_struct(TYPES[kind]):
        return {f"{name}_{k}": v for k, v in value.items()}
    return {name: value}


def random_fields(rnd: random.Random) -> dict[str, str]:
    """Field name -> kind for one file, as the Lambda would let them through together."""
    fields: dict[str, str] = {}
    taken: set[str] = set()
    for name in rnd.sample(NAMES, rnd.randint(1, 4)):
        kind = rnd.choice(list(TYPES))
        flat = {n.lower() for n in flat_names(name, kind)}
        if name.lower() not in {n.lower() for n in fields} and not flat & taken:
            fields[name] = kind
            taken |= flat
    return fields


def drifting_files(seed: int) -> tuple[list, dict[str, dict]]:
    """[(file name, records, schema)] and, per car, its flat values outside the contract."""
    rnd = random.Random(seed)
    files, expected = [], {}
    for i in range(rnd.randint(2, 4)):
        fields = random_fields(rnd)
        records = []
        for j in range(rnd.randint(1, 3)):
            car = f"C{i}{j}"  # one row per car: no dedup hides a value
            values = {name: random_value(kind, rnd) for name, kind in fields.items()}
            records.append(record(car, 1.0, rnd.choice(DAYS), **values))
            expected[car] = {}
            for name, kind in fields.items():
                expected[car].update(flat_values(name, kind, values[name]))
        schema = with_extra(**{name: TYPES[kind] for name, kind in fields.items()})
        files.append((f"f{i}", records, schema))
    return files, expected


def plain(value):
    """A collected Spark value as plain Python (Rows to dicts)."""
    if hasattr(value, "asDict"):
        return {k: plain(v) for k, v in value.asDict().items()}
    return [plain(v) for v in value] if isinstance(value, list) else value


def as_json(value) -> str:
    """A value compared by its JSON text: true is not 1.0."""
    return json.dumps(value, sort_keys=True)


def problems(lake: Lake, spark, expected: dict[str, dict]) -> list:
    silver = lake.silver_df(spark)
    columns = {name.lower(): name for name in silver.columns}
    collected = silver.collect()
    got = {row["carChassis"]: row.asDict() for row in collected}
    cars = sorted(row["carChassis"] for row in collected)
    found = [] if cars == sorted(expected) else [("cars", cars, sorted(expected))]
    for car, values in expected.items():
        row = got.get(car, {})
        rescued = json.loads(row.get("_rescued_data") or "{}")
        for name, value in values.items():
            column = columns.get(name.lower(), "")
            if column in rescued and as_json(rescued[column]) == as_json(value):
                continue  # under the column's own name
            if value is None or value == "":  # nothing to find; the job trims blank text to null
                continue
            if as_json(plain(row.get(column))) != as_json(value):
                found.append((car, name, value, row.get(column), rescued))
    spellings: dict[str, set] = {}
    for path in lake.silver.rglob("*.parquet"):
        for field in pq.read_schema(path):
            spellings.setdefault(field.name.lower(), set()).add((field.name, str(field.type)))
    found += [("one column, several names or types", s) for s in spellings.values() if len(s) > 1]
    return found


@pytest.mark.parametrize("seed", range(40))
def test_random_drift_never_fails_a_run_and_keeps_every_value(spark, tmp_path, seed):
    files, expected = drifting_files(seed)
    modes = {
        "one run": [files],
        "the first, then the others": [files[:1], files[1:]],
        "a run per file": [[f] for f in files],
    }
    for mode, runs in modes.items():
        lake = Lake(tmp_path / mode)
        for i, batch in enumerate(runs):
            for name, records, schema in batch:
                write_bronze(lake.bronze, name, records, schema=schema, mtime=1_700_000_000 + i)
            assert lake.run(spark)["status"] == "ok"
        assert problems(lake, spark, expected) == [], mode
    assert lake.run(spark, full_refresh=True)["status"] == "ok"
    assert problems(lake, spark, expected) == [], "full refresh"
