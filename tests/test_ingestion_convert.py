"""Records -> the bronze table (``ingest.convert``): the records rejected alone and why, types
fixed per file whatever the chunks, names the silver job can flatten, Parquet."""

import copy
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bronze_factory import V1_FIELDS
from ingest import contract, convert, core
from ingest.payload import Item, Payload
from ingestion_helpers import (
    CONTRACT_NAMES,
    EVENT_TIME,
    KNOWN_NAMES,
    convert_records,
    extras,
    parse,
    rejected_of,
    rows_without_contract,
    table_of,
)

GOOD = {"carChassis": "GOOD-1", "currentMileage": 100}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"year": 2024.5}, "field 'year' must be an integer, got 2024.5"),
        ({"year": True}, "field 'year' must be an integer per the v1 contract, got boolean true"),
        ({"ModelYear": 2**63}, "field 'ModelYear': 9223372036854775808 is out of the int64 range"),
        (
            {"currentMileage": "n/a"},
            "field 'currentMileage' must be a number per the v1 contract, got string \"n/a\"",
        ),
        (
            {"horsePower": False},
            "field 'horsePower' must be a number per the v1 contract, got boolean false",
        ),
        (
            {"carChassis": 12345},
            "field 'carChassis' must be a string per the v1 contract, got number 12345",
        ),
        (
            {"metrics": "hot"},
            "field 'metrics' must be an object per the v1 contract, got string \"hot\"",
        ),
        (
            {"metrics": {"trip": {"tripMileage": [1]}}},
            "field 'metrics.trip.tripMileage' must be a number per the v1 contract, got array [1]",
        ),
        (
            {"driver": {"name": "Bruno"}},
            "field 'driver' holds incompatible types: string and object",
        ),
        (
            {"extra": {"level": "high"}},
            "field 'extra.level' holds incompatible types: number and string",
        ),
        ({"flag": 1}, "field 'flag' holds incompatible types: boolean and number"),
        ({"tags": ["a", 1]}, "field 'tags[]' holds incompatible types: string and number"),
        ({"tags": "a"}, "field 'tags' holds incompatible types: array and string"),
        (
            {"color": "Blue", "Color": "blue"},
            "fields 'color' and 'Color' differ only in letter case (ambiguous in Spark, Glue and "
            "Athena)",
        ),
        (
            {"metrics": {"Trip": {}}},
            "fields 'metrics.trip' and 'metrics.Trip' differ only in letter case (ambiguous in "
            "Spark, Glue and Athena)",
        ),
        ({"Source_File": "x"}, "field 'Source_File' collides with the bronze lineage column"),
        ({"source_file": "x"}, "field 'source_file' collides with the bronze lineage column"),
        (
            {"reject_reason": "none"},
            "field 'reject_reason' becomes the column 'reject_reason', which the silver job "
            "fills itself",
        ),
        (
            {"event": {"Year": 2025}},  # flattened: event_Year, the partition column event_year
            "field 'event.Year' becomes the column 'event_Year', which the silver job fills itself",
        ),
        (
            {"_rescued_data": "{}"},
            "field '_rescued_data' becomes the column '_rescued_data', which the silver job "
            "fills itself",
        ),
    ],
)
def test_a_record_breaking_the_types_is_rejected_alone_naming_the_field(bad, reason):
    # the good neighbour before it fixes the types of the unknown fields for the file
    first = {**GOOD, "driver": "Ana", "extra": {"level": 1}, "flag": True, "tags": ["x"]}
    records = [first, {"carChassis": "BAD", **bad}, {**GOOD, "carChassis": "GOOD-2"}]

    table, rejected = convert_records(json.loads(json.dumps(records)))

    assert rejected == [(1, reason)]
    assert table["carChassis"].to_pylist() == ["GOOD-1", "GOOD-2"]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        # 1e999 is valid JSON but parses as inf: it would win every max(mileage) downstream
        (
            [{"currentMileage": 1}, {"currentMileage": 1e999}],
            "field 'currentMileage': inf is not a finite number",
        ),
        (
            [{"a": 1}, {"extra": {"readings": [1.5, -1e999]}}],
            "field 'extra.readings[]': -inf is not a finite number",
        ),
        (
            [{"a": 1}, {"currentMileage": "1e999"}],
            "field 'currentMileage': '1e999' is not a finite number",
        ),
        ([{"a": 1}, {"year": 1e999}], "field 'year' must be an integer, got inf"),
        # NaN and Infinity are not JSON; Python's parser reads them as floats, caught here
        ([{"a": 1}, {"m": float("nan")}], "field 'm': nan is not a finite number"),
    ],
)
def test_non_finite_numbers_reject_their_record(records, reason):
    table, rejected = convert_records(records)

    assert rejected == [(1, reason)]
    assert table.num_rows == 1


def test_values_beyond_what_python_or_arrow_hold_reject_their_record_not_the_file():
    long_int = "1" * 5_000  # more digits than Python reads as an integer (4,300)
    lines = [
        '{"carChassis": "C0"}',
        '{"currentMileage": 1' + "0" * 400 + "}",  # beyond the largest double
        '{"year": "' + long_int + '"}',
        '{"x": ' + long_int + "}",
        '{"x": "\\ud800"}',  # a lone surrogate: a valid JSON escape, not a Unicode character
        '{"carChassis": "C1"}',
    ]
    payload = Payload("\n".join(lines).encode())

    table, rejected = convert.convert(payload.items())

    reasons = [(item.index, reason) for item, reason in rejected]
    assert reasons[:2] == [
        (1, "field 'currentMileage': 1" + "0" * 36 + "... is not a finite number"),
        (2, "field 'year': \"" + "1" * 36 + "... is out of the int64 range"),
    ]
    assert [(index, reason[:50]) for index, reason in reasons[2:]] == [
        (3, "unreadable JSON: Exceeds the limit (4300 digits) f"),
        (4, "record cannot be converted to Arrow: 'utf-8' codec"),
    ]
    assert table["carChassis"].to_pylist() == ["C0", "C1"]


@pytest.fixture
def arrow_refuses(monkeypatch):
    """``refuse(message)``: from then on ``pa.array`` refuses, with ``message``, every chunk that
    holds a record with a field ``boom`` (a refusal the walk does not foresee)."""
    array = pa.array

    def refuse(message: str) -> None:
        def refusing(values, *args, **kw):
            if any("boom" in value for value in values):
                raise pa.ArrowInvalid(message)
            return array(values, *args, **kw)

        monkeypatch.setattr(pa, "array", refusing)

    return refuse


def test_a_refusal_the_walk_does_not_foresee_is_quoted_in_at_most_200_characters(arrow_refuses):
    arrow_refuses("refused " + "z" * 500)

    _, rejected = convert_records([{"a": 1}, {"boom": 1}])

    assert rejected == [(1, "record cannot be converted to Arrow: refused " + "z" * 192)]


def test_non_finite_numbers_are_caught_in_every_chunk(monkeypatch):
    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    records = [{"currentMileage": float(i)} for i in range(5)] + [{"currentMileage": 1e999}]

    table, rejected = convert_records(records)

    assert rejected == [(5, "field 'currentMileage': inf is not a finite number")]
    assert table["currentMileage"].to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_types_are_fixed_by_the_first_chunk_that_gives_them(monkeypatch):
    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    records = [{"x": 1}, {"x": None}, {"x": "late"}, {"x": 2.5}, {"y": {"z": 1}}, {"y": 3}]

    table, rejected = convert_records(records)

    assert rejected == [
        (2, "field 'x' holds incompatible types: number and string"),
        (5, "field 'y' holds incompatible types: object and number"),
    ]
    assert table.select(["x", "y"]).to_pylist() == [
        {"x": 1.0, "y": None},
        {"x": None, "y": None},
        {"x": 2.5, "y": None},
        {"x": None, "y": {"z": 1.0}},
    ]


@pytest.mark.parametrize("chunk_rows", [4096, 1])
def test_a_boolean_and_a_number_in_one_field_reject_the_later(monkeypatch, chunk_rows):
    # pyarrow alone would make both double within one chunk (true -> 1.0)
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

    assert rejected_of([{"f": True}, {"f": 1.5}]) == [
        (1, "field 'f' holds incompatible types: boolean and number")
    ]
    assert rejected_of([{"f": 1.5}, {"f": True}]) == [
        (1, "field 'f' holds incompatible types: number and boolean")
    ]


@pytest.mark.parametrize("chunk_rows", [4096, 1])
def test_an_empty_object_or_array_and_a_scalar_in_one_field_reject_the_later(
    monkeypatch, chunk_rows
):
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

    assert rejected_of([{"t": {}}, {"t": False}]) == [
        (1, "field 't' holds incompatible types: object and boolean")
    ]
    assert rejected_of([{"t": []}, {"t": 1.5}]) == [
        (1, "field 't' holds incompatible types: array and number")
    ]
    assert rejected_of([{"t": "x"}, {"t": {"u": []}}]) == [
        (1, "field 't' holds incompatible types: string and object")
    ]
    # the clash is named where it is, not at an empty array that takes any item type
    assert rejected_of([{"a": [], "b": 1.5}, {"a": ["x"], "b": "y"}]) == [
        (1, "field 'b' holds incompatible types: number and string")
    ]
    # an empty value alone still leaves its field out of bronze
    assert extras(table_of([{"t": {}}, {"t": {"v": [{}]}, "u": []}])).names == []


def test_a_field_typed_only_by_a_rejected_record_is_null_in_its_chunk(monkeypatch):
    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    records = [{"a": 1}, {"t": [], "source_file": "x"}, {"t": 1.5}]

    table, rejected = convert_records(records)

    assert rejected == [(1, "field 'source_file' collides with the bronze lineage column")]
    assert rows_without_contract(table) == [{"a": 1.0, "t": None}, {"a": None, "t": 1.5}]


def test_the_column_order_does_not_depend_on_the_chunks(monkeypatch):
    records = [{"z": 1}, {"a": 1}, {"m": {"y": 1}}, {"m": {"b": 1}}]
    expected = table_of(records)
    monkeypatch.setattr(convert, "CHUNK_ROWS", 1)

    chunked = table_of(records)

    assert extras(chunked).names == ["a", "m", "z"]  # by name, as pyarrow orders a chunk's
    assert chunked.schema.equals(expected.schema)
    assert chunked.to_pylist() == expected.to_pylist()


# A field outside the contract whose type drifts among good neighbours: a string in every
# record but the drifting ones, each of which gives it another kind of value.
DRIFT = ({"name": "Ana"}, 7, ["Ana"], True, 2.5)
DRIFT_KINDS = ("object", "number", "array", "boolean", "number")
ROWS = convert.CHUNK_ROWS  # 4096
DRIFTING = {
    "the second record": [1],
    "at the start of a chunk": [ROWS],
    "at the end of chunks": [ROWS - 1, 2 * ROWS - 1],
    "side by side": list(range(ROWS + 500, ROWS + 541)),
    "spread through a chunk": list(range(ROWS + 13, 2 * ROWS, 97)),
    "1 % across chunks": list(range(7, 2 * ROWS + 100, 100)),
    "1 % across the later chunks": list(range(ROWS + 7, 2 * ROWS + 100, 100)),
    "every other record of a chunk": list(range(ROWS + 1, 2 * ROWS, 2)),
}
# A clash of a chunk's types with the file's needs the type fixed by an earlier chunk
DRIFT_CASES = [(where, True) for where in DRIFTING]
DRIFT_CASES += [(where, False) for where, rows in DRIFTING.items() if min(rows) >= ROWS]


def drifting_records(drifting: list[int], refused: bool) -> tuple[list[dict], list[tuple]]:
    """(records, the rejections expected). ``refused``: every record names its driver, so a
    chunk with a drifting record holds two types and pyarrow refuses it; else the records after
    the first chunk name none but the drifting ones (of one kind), so that pyarrow converts the
    chunk and its type clashes with the file's."""
    records, expected, order = [], [], {i: k for k, i in enumerate(drifting)}
    for i in range(2 * ROWS + 100):
        record: dict = {"carChassis": f"C{i}", "currentMileage": i}
        if i in order:
            k = order[i] % len(DRIFT) if refused else 0
            record["driver"] = DRIFT[k]
            kind = DRIFT_KINDS[k]
            expected.append((i, f"field 'driver' holds incompatible types: string and {kind}"))
        elif refused or i < ROWS:
            record["driver"] = f"D{i}"
        records.append(record)
    return records, expected


@pytest.mark.parametrize(
    ("where", "refused"),
    DRIFT_CASES,
    ids=[f"{where}, {'refused' if refused else 'clash'}" for where, refused in DRIFT_CASES],
)
def test_a_drifting_field_costs_only_the_drifting_records_the_first_type_stays(where, refused):
    drifting = set(DRIFTING[where])
    records, expected = drifting_records(DRIFTING[where], refused)

    table, rejected = convert_records(records)

    assert rejected == expected
    assert table.schema.field("driver").type == pa.string()
    kept = [r for r in records if int(r["carChassis"][1:]) not in drifting]
    assert table.select(["carChassis", "currentMileage", "driver"]).to_pylist() == [
        {**r, "currentMileage": float(r["currentMileage"]), "driver": r.get("driver")} for r in kept
    ]
    assert len(kept) + len(rejected) == len(records)  # every record in bronze or rejected


@pytest.fixture
def conversions(monkeypatch) -> list[int]:
    """One entry per ``pa.array`` call (the conversions of chunks and their halves)."""
    calls: list[int] = []
    array = pa.array
    monkeypatch.setattr(pa, "array", lambda *args, **kw: calls.append(1) or array(*args, **kw))
    return calls


def test_a_type_clash_costs_no_conversion_beyond_one_per_chunk(monkeypatch, conversions):
    # the clashing records are rejected before pyarrow converts the chunk, which never fails
    monkeypatch.setattr(convert, "CHUNK_ROWS", 4)
    records = [{"driver": "Ana"} if i % 3 else {"driver": {"name": "Ana"}} for i in range(1, 13)]

    table, rejected = convert_records(records)

    assert len(conversions) == 3  # 12 records, 3 chunks
    reason = "field 'driver' holds incompatible types: string and object"
    assert rejected == [(i, reason) for i in (2, 5, 8, 11)]
    assert table["driver"].to_pylist() == ["Ana"] * 8


def test_a_lone_surrogate_is_found_in_the_walk_at_no_extra_conversion(monkeypatch, conversions):
    # pyarrow refuses the whole chunk for one: halving it would judge every record again
    monkeypatch.setattr(convert, "CHUNK_ROWS", 4)
    bad = [{"carChassis": "\ud800"}, {"x": ["a", "\udfff"]}, {"\ud801": 1}]
    records = [{"carChassis": f"C{i}", "x": ["é"]} for i in range(5)] + bad

    table, rejected = convert_records(records)

    assert len(conversions) == 2  # 8 records, 2 chunks
    assert [(index, reason.split(":")[0]) for index, reason in rejected] == [
        (i, "record cannot be converted to Arrow") for i in (5, 6, 7)
    ]
    assert all("surrogates not allowed" in reason for _, reason in rejected)
    assert table["carChassis"].to_pylist() == [f"C{i}" for i in range(5)]


def test_a_record_pyarrow_refuses_after_the_walk_is_rejected_alone_and_fixes_no_kind(
    arrow_refuses,
):
    # the safety net for a refusal the walk does not foresee: here pyarrow "refuses" one record
    arrow_refuses("refused")
    records = [{"a": 1}, {"x": "s", "boom": 1}, {"x": 2}, {"a": 3}]

    table, rejected = convert_records(records)

    assert rejected == [(1, "record cannot be converted to Arrow: refused")]
    assert rows_without_contract(table) == [
        {"a": 1.0, "x": None},
        {"a": None, "x": 2.0},
        {"a": 3.0, "x": None},
    ]


def test_a_record_clashing_at_two_fields_is_told_the_first_in_the_record(monkeypatch):
    # whatever chunk gave the types: "q" from the record just before it, "b" from an earlier chunk
    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    records = [{"b": 1}, {"b": {}}, {"q": 1}, {"q": [], "b": {}}]

    assert rejected_of(records) == [
        (1, "field 'b' holds incompatible types: number and object"),
        (3, "field 'q' holds incompatible types: number and array"),
    ]


def test_a_drifting_first_record_fixes_the_type_the_others_are_rejected():
    records = [{"driver": {"name": "Ana"}}, {"driver": "Bruno"}, {"driver": {"name": "Carla"}}]

    table, rejected = convert_records(records + [{"driver": "Davi"}])

    assert rejected == [
        (1, "field 'driver' holds incompatible types: object and string"),
        (3, "field 'driver' holds incompatible types: object and string"),
    ]
    assert table["driver"].to_pylist() == [{"name": "Ana"}, {"name": "Carla"}]


def chunking_records() -> list[dict]:
    """Records whose bronze rows and rejections must not depend on the chunks: drifting and
    clashing fields, integers and fractions in one field, a boolean beside them, letter-case
    twins, fields typed late, empty values, huge integers."""
    rng = random.Random(7)
    records = []
    for i in range(600):
        record: dict = {"carChassis": f"C{i}", "seq": i}
        if rng.random() < 0.7:
            record["driver"] = rng.choice(["Ana", "Bruno", None])
        if rng.random() < 0.05:
            record["driver"] = rng.choice(DRIFT[:3])
        if rng.random() < 0.5:
            record["level"] = rng.choice([1, 2.5, -3, None, 2**60 + 1, 10**30])
        if rng.random() < 0.3:
            record["stops"] = rng.choice([[], [{"at": "x"}], [{"at": "y", "n": 1}], None])
        if rng.random() < 0.2:
            record["extra"] = rng.choice([{}, {"a": {"b": 1}}, {"a": {"c": "s"}}, {"a": None}])
        if rng.random() < 0.02:
            record["extra"] = {"a": rng.choice(["flat", 3, [1]])}  # clashes with extra.a's object
        if rng.random() < 0.02:
            record["currentMileage"] = "12k"  # a contract breach
        if rng.random() < 0.02:
            record[rng.choice(["Driver", "LEVEL", "Stops"])] = 1  # a letter-case twin
        if rng.random() < 0.02:
            record["level"] = True  # a boolean among numbers
        records.append(record)
    records[0]["driver"] = "Ana"  # the first record fixes driver's type: a string
    records[0]["extra"] = {"a": {"b": 1}}
    return records


def test_bronze_and_the_rejections_do_not_depend_on_the_chunk_size(monkeypatch):
    records = chunking_records()
    expected_table, expected_rejected = convert_records(records)
    assert 20 < len(expected_rejected) < 100
    assert expected_table.num_rows + len(expected_rejected) == len(records)

    for chunk_rows in (257, 64, 7, 2, 1):
        monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

        table, rejected = convert_records(records)

        assert rejected == expected_rejected, chunk_rows
        assert table.schema.equals(expected_table.schema), chunk_rows
        assert table.to_pylist() == expected_table.to_pylist(), chunk_rows


def nested(depth: int, leaf, kind: str = "object"):
    """``leaf`` inside ``depth`` objects ``{"a": ...}`` or arrays: ``depth`` levels of fields."""
    value = leaf
    for _ in range(depth):
        value = {"a": value} if kind == "object" else [value]
    return value


def clipped(path: str) -> str:
    return path if len(path) <= 80 else path[:77] + "..."


@pytest.mark.parametrize("depth", [65, 900])
def test_nesting_deeper_than_the_limit_rejects_the_record_not_a_recursion_error(depth):
    assert contract.MAX_NESTING_DEPTH == 64
    objects = json.dumps(nested(depth, 1))
    arrays = json.dumps({"a": nested(depth, 1, "array")})

    for text, path in ((objects, ".".join(["a"] * 65)), (arrays, "a" + "[]" * 64)):
        payload = Payload(f'{{"carChassis": "C0"}}\n{text}\n'.encode())
        table, rejected = convert.convert(payload.items())
        assert [(i.index, r) for i, r in rejected] == [
            (1, f"nested deeper than 64 levels (at field {clipped(path)!r})")
        ]
        assert payload.text[rejected[0][0].start : rejected[0][0].end] == text
        assert table["carChassis"].to_pylist() == ["C0"]


def test_nesting_at_the_limit_converts_and_round_trips():
    record = {"carChassis": "C1", **nested(64, 7.5), "lists": nested(63, "x", "array")}

    outcome, puts = core.plan(
        json.dumps(record).encode(),
        core.SourceObject("landing", "landing/f.json", EVENT_TIME),
        core.Config("bronze"),
        "etag",
    )

    row = pq.read_table(pa.BufferReader(puts[-1].body)).to_pylist()[0]
    assert outcome["rows"] == 1
    assert (row["a"], row["lists"]) == (nested(63, 7.5), nested(63, "x", "array"))


@pytest.mark.parametrize("kind", ["object", "array"])
def test_a_null_beyond_the_limit_is_too_deep_too(kind):
    # a top-level field is at level 1: the null here is at level 65
    deep = {"d": nested(64, None, kind)}
    path = "d" + (".a" * 64 if kind == "object" else "[]" * 64)

    assert rejected_of([deep, {"carChassis": "C1"}]) == [
        (0, f"nested deeper than 64 levels (at field {clipped(path)!r})")
    ]
    assert rejected_of([{"d": nested(63, None, kind)}]) == []


def test_a_record_built_in_python_with_a_key_that_is_not_a_string_is_rejected_alone():
    # JSON gives only string keys; convert also takes records built in Python (the replay's)
    table, rejected = convert_records(
        [{1: "a", "carChassis": "C0"}, {b"k": 1}, {"carChassis": "C1"}]
    )

    assert rejected == [(0, "field name 1 is not a string"), (1, "field name b'k' is not a string")]
    assert table["carChassis"].to_pylist() == ["C1"]


def test_hostile_nesting_built_in_python_is_rejected_too():
    # convert also takes records that never went through the parser's own depth limit
    ((_, reason),) = rejected_of([{"x": nested(5_000, 1)}])
    assert reason.startswith("nested deeper than 64 levels")
    # the reason quotes the offending value: one too deep to print is abbreviated
    assert rejected_of([{"metrics": nested(5_000, 1, "array")}]) == [
        (0, "field 'metrics' must be an object per the v1 contract, got array [...]")
    ]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (
            # the contract's metrics.metricTimestamp is always a bronze column
            [GOOD, {"metrics_metricTimestamp": "2025-11-02T08:15:00Z"}],
            "fields 'metrics.metricTimestamp' and 'metrics_metricTimestamp' both become the "
            "column 'metrics_metricTimestamp' when the silver job flattens structs with '_'",
        ),
        (
            # the record's first field keeps the column: 'a_b' before 'a.b'
            [GOOD, {"a_b": 1, "a": {"b": 2}}],
            "fields 'a_b' and 'a.b' both become the column 'a_b' when the silver job flattens "
            "structs with '_'",
        ),
        (
            [{"A": {"B": 1}}, {"a_b": "x"}],  # compared case-insensitively, like the job
            "fields 'A.B' and 'a_b' both become the column 'a_b' when the silver job flattens "
            "structs with '_'",
        ),
        (
            [GOOD, {"x": {"y": {"a_b": 1, "a": {"b": "s"}}}}],
            "fields 'x.y.a_b' and 'x.y.a.b' both become the column 'x_y_a_b' when the silver "
            "job flattens structs with '_'",
        ),
        (
            [GOOD, {"x_y": {"z": 1}, "x": {"y_z": True}}],
            "fields 'x_y.z' and 'x.y_z' both become the column 'x_y_z' when the silver job "
            "flattens structs with '_'",
        ),
        (
            [GOOD, {"source": {"file": "upload.json"}}],  # the lineage column source_file
            "fields 'source_file' and 'source.file' both become the column 'source_file' when "
            "the silver job flattens structs with '_'",
        ),
        (
            # an array is one silver column, named like a flattened struct field
            [GOOD, {"a_b": [1], "a": {"b": 2}}],
            "fields 'a_b' and 'a.b' both become the column 'a_b' when the silver job flattens "
            "structs with '_'",
        ),
        (
            [GOOD, {"we`ird": 1}],
            "field name 'we`ird' contains a backtick, the quote character of Spark column paths",
        ),
        (
            [GOOD, {"metrics": {"trip": {"`": 1}}}],
            "field name 'metrics.trip.`' contains a backtick, the quote character of Spark "
            "column paths",
        ),
    ],
)
def test_names_the_silver_job_cannot_flatten_reject_their_record(records, reason):
    table, rejected = convert_records(records)

    assert rejected == [(1, reason)]
    assert table.num_rows == 1
    # the rejected record's fields are not bronze columns: only its neighbour's are
    assert set(table.column_names) == KNOWN_NAMES | set(records[0]) - set(CONTRACT_NAMES)


LETTER_CASE = "differ only in letter case (ambiguous in Spark, Glue and Athena)"
FLATTENED = "when the silver job flattens structs with '_'"


@pytest.mark.parametrize("chunk_rows", [4096, 2, 1])
@pytest.mark.parametrize(
    ("records", "rejected", "rows"),
    [
        (
            # 'a.B' would take the column 'a_b', but its record is rejected for 'A' and 'a'
            [{"a_b": True}, {"A": 1, "a": {"B": 1}}],
            [(1, f"fields 'A' and 'a' {LETTER_CASE}")],
            [{"a_b": True}],
        ),
        (
            [{"x_y": True}, {"B": 1, "b": 2, "x": {"y": 1}}],
            [(1, f"fields 'B' and 'b' {LETTER_CASE}")],
            [{"x_y": True}],
        ),
        (
            [{"x_y": True}, {"Source_File": "s", "x": {"y": 1}}],
            [(1, "field 'Source_File' collides with the bronze lineage column")],
            [{"x_y": True}],
        ),
        (
            # nor does a rejected record's name take a letter case; the first record's is kept
            [{"a": 1}, {"A": 1, "we`ird": 1}],
            [(1, f"fields 'a' and 'A' {LETTER_CASE}")],
            [{"a": 1.0}],
        ),
    ],
)
def test_a_record_rejected_for_its_names_reserves_none_of_them(
    monkeypatch, chunk_rows, records, rejected, rows
):
    # its neighbour is judged beside the bronze records only, in one chunk as across chunks
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

    table, got = convert_records(records)

    assert got == rejected
    assert rows_without_contract(table) == rows


@pytest.mark.parametrize("chunk_rows", [4096, 2, 1])
def test_a_record_rejected_for_its_names_types_no_column(monkeypatch, chunk_rows):
    # an empty array is no column; it clashes only where a bronze record types the column
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)
    records = [{"a": {"b": 1}, "a_b": []}, {"a": {"b": 2}, "a_b": [1]}, {"c": 1, "a_b": []}]

    table, rejected = convert_records(records)

    assert rejected == [(1, f"fields 'a.b' and 'a_b' both become the column 'a_b' {FLATTENED}")]
    assert rows_without_contract(table) == [{"a": {"b": 1.0}, "c": None}, {"a": None, "c": 1.0}]


@pytest.mark.parametrize("chunk_rows", [4096, 2, 1])
def test_a_record_with_a_number_that_is_not_finite_reserves_no_name(monkeypatch, chunk_rows):
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)
    records = [{"x_y": True}, {"x": {"y": 1}, "z": 1e999}, {"a": 1}, {"A": 2, "z": 1e999}]

    table, rejected = convert_records(records)

    # a name's reason first, as for a record alone: the first record kept the name
    assert rejected == [
        (1, f"fields 'x_y' and 'x.y' both become the column 'x_y' {FLATTENED}"),
        (3, f"fields 'a' and 'A' {LETTER_CASE}"),
    ]
    assert rows_without_contract(table) == [{"a": None, "x_y": True}, {"a": 1.0, "x_y": None}]


@pytest.mark.parametrize("chunk_rows", [4096, 2, 1])
def test_the_first_record_to_give_a_name_fixes_it_whatever_the_chunks(monkeypatch, chunk_rows):
    # 'A' sorts before 'a' and 'a.b' before 'a_b', yet the earlier record keeps its name; the
    # record rejected for 'A' takes no 'x_y' from the last one
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)
    records = [{"a": 1}, {"A": 1, "x": {"y": 1}}, {"x_y": 1}, {"c_d": 1}, {"c": {"d": 1}}]

    table, rejected = convert_records(records)

    assert rejected == [
        (1, f"fields 'a' and 'A' {LETTER_CASE}"),
        (4, f"fields 'c_d' and 'c.d' both become the column 'c_d' {FLATTENED}"),
    ]
    assert rows_without_contract(table) == [
        {"a": 1.0, "c_d": None, "x_y": None},
        {"a": None, "c_d": None, "x_y": 1.0},
        {"a": None, "c_d": 1.0, "x_y": None},
    ]


def test_name_rejections_do_not_depend_on_the_chunk_size(monkeypatch):
    # letter-case twins, names joined by '_', backticks, lineage names, numbers that are not
    # finite; every field keeps one kind of value, so that no type clashes
    rng = random.Random(11)
    names = ["k", "K", "a_b", "A_b", "x_y", "we`ird", "source_file", "z", "n"]
    values = {"z": [1.5, 1e999], "A_b": [[], [1]]}  # an empty array is no column
    nested = {"a": {"b": 1, "B": 1}, "x": {"y": 2, "Y": 2}, "q": {"`": 3}, "source": {"file": 4}}
    records = []
    for i in range(300):
        record: dict = {"seq": i}
        for name in rng.sample(names, rng.randrange(3)):
            record[name] = rng.choice(values.get(name, [1]))
        for name in rng.sample(list(nested), rng.randrange(2)):
            record[name] = dict(rng.sample(list(nested[name].items()), 1))
        records.append(record)
    expected_table, expected_rejected = convert_records(records)
    assert 150 < len(expected_rejected) < 250
    assert expected_table.num_rows + len(expected_rejected) == len(records)

    for chunk_rows in (64, 7, 2, 1):
        monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

        table, rejected = convert_records(records)

        assert rejected == expected_rejected, chunk_rows
        assert table.schema.equals(expected_table.schema), chunk_rows
        assert table.to_pylist() == expected_table.to_pylist(), chunk_rows


@pytest.mark.parametrize("chunk_rows", [4096, 1])
def test_a_record_rejected_for_a_name_or_a_number_fixes_no_type(monkeypatch, chunk_rows):
    # the later record's string is judged against the bronze records only
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)
    records = [{"x": 1, "we`ird": 1}, {"y": [1], "z": 1e999}, {"x": "s", "y": ["t"]}]

    table, rejected = convert_records(records)

    assert [index for index, _ in rejected] == [0, 1]
    assert rows_without_contract(table) == [{"x": "s", "y": ["t"]}]


def test_names_that_do_not_collide_in_silver_are_kept():
    # arrays are not flattened by the job; an untyped field is not written, so cannot collide
    table = table_of([{"stops": [{"a_b": 1, "a": {"b": 2}}], "c_d": None, "c": {"d": 1}}])

    assert extras(table).names == ["c", "stops"]  # pyarrow orders inferred fields by name


@pytest.mark.parametrize("chunk_rows", [4096, 1])
def test_a_field_holding_only_null_is_no_column_its_name_cannot_collide(monkeypatch, chunk_rows):
    # it is left out of bronze, in one chunk as across chunks
    monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)
    records = [{"A": None, "we`ird": None}, {"a": 1, "source_file": None, "x": {"Y": None}}]
    records += [{"a": None, "x": {"y": "s"}, "metrics": {"Trip": None}}]

    table = table_of(records)

    assert rows_without_contract(table) == [
        {"a": None, "x": None},
        {"a": 1.0, "x": {"y": None}},
        {"a": None, "x": {"y": "s"}},
    ]
    assert table["source_file"].to_pylist() == ["landing/f.json"] * 3


def test_unknown_fields_unify_across_records_nulls_and_missing_included():
    table = table_of(
        [
            {"extra": None, "nested": {"a": 1}},
            {"extra": 1, "tags": [1, 2.5, None], "nested": {"b": "x"}},
            {"extra": 2.5, "tags": None, "flag": False},
        ]
    )

    assert extras(table).equals(
        pa.schema(
            [
                ("extra", pa.float64()),
                ("flag", pa.bool_()),
                ("nested", pa.struct([("a", pa.float64()), ("b", pa.string())])),
                ("tags", pa.list_(pa.float64())),
            ]
        )
    )
    assert rows_without_contract(table) == [
        {"extra": None, "nested": {"a": 1.0, "b": None}, "tags": None, "flag": None},
        {
            "extra": 1.0,
            "nested": {"a": None, "b": "x"},
            "tags": [1.0, 2.5, None],
            "flag": None,
        },
        {"extra": 2.5, "nested": None, "tags": None, "flag": False},
    ]


def test_fields_without_any_typed_value_in_the_file_are_left_out():
    # Their type is unknown: any guess (string...) would clash with the real type in the next
    # file when Spark or the crawler merge schemas. Under the merged schema they read as null.
    table = table_of(
        [
            {"alerts": [], "meta": {}, "note": None, "objs": [{}], "deep": {"a": {"b": None}}},
            {"alerts": None, "deep": {"a": None, "c": [None]}, "metrics": {}},
        ]
    )

    assert extras(table).equals(pa.schema([]))
    assert table.column("metrics").to_pylist() == [
        None,
        dict.fromkeys(
            [
                "engineTempCelsius",
                "oilTempCelsius",
                "batteryChargePerc",
                "fuelAvailableLiters",
                "coolantCelsius",
                "trip",
                "metricTimestamp",
            ]
        ),
    ]


def test_untyped_parts_are_left_out_but_typed_siblings_stay():
    table = table_of(
        [
            {"deep": {"a": {"b": None}, "c": 1}, "lists": [[], None]},
            {"deep": {"a": {}}, "lists": [[2]]},
        ]
    )

    assert extras(table).equals(
        pa.schema(
            [
                ("deep", pa.struct([("c", pa.float64())])),
                ("lists", pa.list_(pa.list_(pa.float64()))),
            ]
        )
    )
    assert rows_without_contract(table) == [
        {"deep": {"c": 1.0}, "lists": [[], None]},
        {"deep": {"c": None}, "lists": [[2.0]]},
    ]


def test_arrays_of_objects_are_lists_of_structs():
    table = table_of(
        [
            {"stops": [{"city": "Recife", "minutes": 5}, {"city": "Olinda"}]},
            {"stops": [{"minutes": 7.5, "paid": True}]},
        ]
    )

    stop = pa.struct([("city", pa.string()), ("minutes", pa.float64()), ("paid", pa.bool_())])
    assert extras(table).equals(pa.schema([("stops", pa.list_(stop))]))
    assert [r["stops"] for r in rows_without_contract(table)] == [
        [
            {"city": "Recife", "minutes": 5.0, "paid": None},
            {"city": "Olinda", "minutes": None, "paid": None},
        ],
        [{"city": None, "minutes": 7.5, "paid": True}],
    ]


def test_large_integers_in_number_fields_become_doubles():
    table = table_of([{"odometerMicrons": 2**60 + 1, "currentMileage": -(2**70)}])

    assert table.column("odometerMicrons").to_pylist() == [float(2**60)]
    assert table.column("currentMileage").to_pylist() == [-float(2**70)]


@pytest.mark.parametrize(
    "records",
    [
        # pyarrow refuses an integer beyond 2**53 beside a fraction in one field...
        [{"carChassis": "C0", "big": 2**60 + 1}, {"carChassis": "C1", "big": 1.5}],
        [{"carChassis": "C0", "big": [2**60 + 1, 1.5]}],
        # ...or beyond int64 beside any other number
        [{"carChassis": "C0", "big": 2**70}, {"carChassis": "C1", "big": 3}],
    ],
)
def test_large_integers_beside_other_numbers_are_doubles_not_errors(records):
    table = table_of(records)

    assert table.schema.field("big").type in (pa.float64(), pa.list_(pa.float64()))
    assert table["carChassis"].to_pylist() == [r["carChassis"] for r in records]
    assert table["big"].to_pylist() == [
        [float(x) for x in r["big"]] if isinstance(r["big"], list) else float(r["big"])
        for r in records
    ]


def test_large_integers_survive_a_chunk_converted_record_by_record():
    # the clash of record 1 sends the chunk record by record; the integers around it stay
    records = [
        {"carChassis": "C0", "big": 2**60 + 1},
        {"carChassis": "BAD", "big": "s"},
        {"carChassis": "C1", "big": 1.5},
        {"carChassis": "C2", "big": 2**70, "year": 2**62},
    ]

    table, rejected = convert_records(records)

    assert rejected == [(1, "field 'big' holds incompatible types: number and string")]
    assert table["big"].to_pylist() == [float(2**60), 1.5, float(2**70)]
    assert table["year"].to_pylist() == [None, None, 2**62]  # the contract's int64, exact


def test_an_integer_beyond_the_largest_double_outside_the_contract_rejects_its_record():
    lines = ['{"a": 1}', '{"x": [1.5, 1' + "0" * 400 + "]}", '{"x": -1' + "0" * 400 + "}"]
    lines += ['{"a": 2, "x": [2]}']

    table, rejected = convert.convert(Payload("\n".join(lines).encode()).items())

    assert [(item.index, reason) for item, reason in rejected] == [
        (1, "record cannot be converted to Arrow: int too large to convert to float"),
        (2, "record cannot be converted to Arrow: int too large to convert to float"),
    ]
    assert table.select(["a", "x"]).to_pylist() == [{"a": 1.0, "x": None}, {"a": 2.0, "x": [2.0]}]


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        # an empty array fixes no item type: the clash is inside the later record
        (
            [{"x": []}, {"x": [{"B": 1, "a": [{}, [1]]}]}],
            "field 'x[].a[]' holds incompatible types: object and array",
        ),
        # a field that held only null so far takes any type; its sibling does not
        (
            [{"x": {"n": None, "s": "a"}}, {"x": {"n": [1], "s": 2}}],
            "field 'x.s' holds incompatible types: string and number",
        ),
        # within the record first, then against the earlier records
        (
            [{"a": 1, "b": [1]}, {"a": "s", "b": [1, "x"]}],
            "field 'b[]' holds incompatible types: number and string",
        ),
    ],
)
def test_a_type_clash_is_named_at_the_field_where_it_is(records, reason):
    assert rejected_of(records) == [(1, reason)]


def test_chunked_conversion_equals_single_chunk(monkeypatch):
    # Types grow between chunks (null -> struct, new fields, list elements): the chunks built
    # early must be brought to the final type without changing any value.
    records = [
        {"carChassis": "C0", "late": None, "grow": {"a": 1, "never": None}, "lst": []},
        {"carChassis": "C1", "grow": None, "lst": None},
        {"carChassis": "C2", "late": {"x": [1, 2]}, "grow": {"b": "y"}, "lst": [{"k": 1}]},
        {"carChassis": "C3", "late": {"x": None, "y": True}, "lst": [{"j": "v"}, None]},
        {"carChassis": "C4", "metrics": {"trip": None, "newGauge": 3}},
    ]
    expected = table_of(json.loads(json.dumps(records)))

    monkeypatch.setattr(convert, "CHUNK_ROWS", 2)
    chunked = table_of(json.loads(json.dumps(records)))

    assert chunked.schema.equals(expected.schema)
    assert chunked.to_pylist() == expected.to_pylist()
    assert [r["grow"] for r in chunked.to_pylist()] == [
        {"a": 1.0, "b": None},
        None,
        {"a": None, "b": "y"},
        None,
        None,
    ]
    assert [r["late"] for r in chunked.to_pylist()] == [
        None,
        None,
        {"x": [1.0, 2.0], "y": None},
        {"x": None, "y": True},
        None,
    ]


HOSTILE_NAMES = ["a", "b", "A", "B", "a_b", "_", "c", "source", "Trip"]


def hostile_value(rng: random.Random, depth: int = 0):
    """A JSON-like value mixing kinds, names that differ in case or by '_', and values pyarrow
    refuses or that are not finite."""
    if depth > 3 or rng.random() < 0.5:
        return rng.choice(
            [None, True, 0, -3, 2.5, 7, "x", "", 2**54 + 1, 2**60 + 1, 2**63, -(2**70), 10**400]
            + [1e300, float("inf"), float("nan"), "\ud800", "12", 1e-320]
        )
    if rng.random() < 0.6:
        names = HOSTILE_NAMES
        return {rng.choice(names): hostile_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(3))]


def silver_names(schema: pa.Schema) -> list[tuple[tuple[str, ...], str]]:
    """(the path, the column the silver job makes of it, "" inside an array) of every field."""
    found = []

    def walk(dtype: pa.DataType, path: tuple[str, ...], column: bool) -> None:
        for field in dtype:
            here, inner = (*path, field.name), field.type
            found.append((here, "_".join(here) if column and not is_struct(inner) else ""))
            while pa.types.is_list(inner):
                inner, column = inner.value_type, False
            if is_struct(inner):
                walk(inner, here, column)

    is_struct = pa.types.is_struct
    walk(pa.struct(list(schema)), (), True)
    return found


def contract_first(dtype: pa.StructType, contract_type: pa.StructType) -> bool:
    """The contract's fields come first in ``dtype``, with its types; a contract struct may have
    more fields after its own."""
    for index, field in enumerate(contract_type):
        have = dtype.field(index)
        if have.name != field.name:
            return False
        if pa.types.is_struct(field.type):
            if not contract_first(have.type, field.type):
                return False
        elif have.type != field.type:
            return False
    return True


def leaf_ok(dtype: pa.DataType) -> bool:
    """Outside the contract: every number a double, no field without a type."""
    if pa.types.is_struct(dtype):
        return len(dtype) > 0 and all(leaf_ok(f.type) for f in dtype)
    if pa.types.is_list(dtype):
        return leaf_ok(dtype.value_type)
    return not pa.types.is_integer(dtype) and not pa.types.is_null(dtype)


@pytest.mark.parametrize("chunk_rows", [4096, 3, 1])
def test_hostile_records_never_crash_and_every_record_is_in_bronze_or_rejected_once(
    monkeypatch, chunk_rows
):
    for seed in range(150):
        rng = random.Random(seed)
        records = []
        for i in range(rng.randrange(1, 10)):
            names = [*HOSTILE_NAMES, "year", "currentMileage", "metrics"]
            record = {rng.choice(names): hostile_value(rng) for _ in range(rng.randrange(4))}
            records.append({**record, "seq": f"r{i}"})
        monkeypatch.setattr(convert, "CHUNK_ROWS", 4096)
        one_chunk = convert_records(copy.deepcopy(records))
        monkeypatch.setattr(convert, "CHUNK_ROWS", chunk_rows)

        table, rejected = convert_records(records)

        # the same bronze rows and rejections as in one chunk
        assert rejected == one_chunk[1], seed
        assert (table is None) == (one_chunk[0] is None), seed
        if table is not None:
            assert table.schema.equals(one_chunk[0].schema), seed
            assert table.to_pylist() == one_chunk[0].to_pylist(), seed

        bronze = [] if table is None else table["seq"].to_pylist()
        assert sorted(bronze + [f"r{index}" for index, _ in rejected]) == sorted(
            f"r{i}" for i in range(len(records))
        ), seed
        if table is None:
            continue
        assert contract_first(pa.struct(list(table.schema)), pa.struct(V1_FIELDS)), seed
        columns = [column.casefold() for _, column in silver_names(table.schema) if column]
        assert len(columns) == len(set(columns)), seed
        paths = [path for path, _ in silver_names(table.schema)]
        assert len({(p[:-1], p[-1].casefold()) for p in paths}) == len(paths), seed
        assert not any("`" in p[-1] for p in paths), seed
        assert all(leaf_ok(f.type) for f in extras(table)), seed


def test_parquet_bytes_are_deterministic():
    records = parse(b'[{"carChassis": "C1", "x": {"y": [1, 2]}}]')
    first = convert.to_parquet_bytes(table_of(records))
    second = convert.to_parquet_bytes(
        table_of(parse(b'[{"carChassis": "C1", "x": {"y": [1, 2]}}]'))
    )

    assert first == second
    metadata = pq.ParquetFile(pa.BufferReader(first)).metadata
    assert metadata.row_group(0).column(0).compression == "SNAPPY"
    assert pq.read_table(pa.BufferReader(first)).schema.field("ingestion_timestamp").type == (
        pa.timestamp("us", tz="UTC")
    )


def test_a_rejected_record_keeps_only_its_place_and_reason(monkeypatch):
    # a bad producer release: every record's mileage is text. The rejected records hold no
    # parsed value, so the memory they take does not grow with their content.
    monkeypatch.setattr(convert, "CHUNK_ROWS", 3)
    texts = [
        json.dumps({"carChassis": f"C{i}", "currentMileage": "12k", "metrics": {"n": i}})
        for i in range(8)
    ]
    payload = Payload(("[" + ",\n".join(texts) + "]").encode())

    table, rejected = convert.convert(payload.items())

    starts = [1 + sum(len(text) + 2 for text in texts[:i]) for i in range(len(texts))]
    reason = "field 'currentMileage' must be a number per the v1 contract, got string \"12k\""
    assert table is None
    assert rejected == [
        (Item(i, start, start + len(texts[i]), None, None), reason)
        for i, start in enumerate(starts)
    ]
    assert [payload.text[item.start : item.end] for item, _ in rejected] == texts
