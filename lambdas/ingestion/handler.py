"""Ingestion Lambda: landing JSON -> bronze Parquet, exactly once, whatever arrives.

Triggered by S3 ``ObjectCreated`` events on the landing bucket (runtime python3.12, handler
``handler.lambda_handler``; pandas/pyarrow come from the AWS SDK for pandas layer, boto3 from the
runtime, so the deployment zip holds this one file). For every record of the event:

1. URL-decode the key (``unquote_plus``); keys not ending in ``.json`` are skipped (logged).
2. ``GetObject`` the landing object (the only read; the landing object is never deleted, a
   lifecycle rule expires it), with ``If-Match: <the event's eTag>`` so that the bytes read are
   those of the upload the event announces. When the key was overwritten before the event got
   here (S3 answers 412 PreconditionFailed), that upload is gone: no bronze file is written for
   it, the record ``{QUARANTINE_PREFIX}/YYYY-MM-DD/<source dir>/<stem>.<hash8>.superseded.json``
   says so, a warning is logged and the event record counts as skipped, not failed (the newer
   upload has an event of its own). Without an eTag (local runs) the object is read unconditionally.
3. Parse it (one object, an array of objects, or JSON Lines; UTF-8 with or without BOM) and build
   one Arrow table: nested objects stay structs, every JSON number is double except the top-level
   ``year`` and ``ModelYear`` (int64), all v1 contract columns are always present (null when
   missing) so types and columns are stable across files, unknown fields are kept (except a
   field holding nothing but null, ``[]`` or ``{}`` in the whole file: it has no type to give,
   so it is left out rather than typed by a guess that would clash with the next file); plus the
   lineage columns ``ingestion_timestamp`` (the event's ``eventTime``), ``source_bucket`` and
   ``source_file``.
4. ``PutObject`` one snappy Parquet file to
   ``{BRONZE_PREFIX}/ingest_year=YYYY/ingest_month=MM/ingest_day=DD/<stem>-<hash>.parquet``.
   The name comes from the source key and its versionId (or ETag), the date and the lineage from
   the event time, and the Parquet bytes are deterministic: a redelivered event rewrites the same
   object with the same bytes instead of adding a copy.

Bad content (malformed JSON, empty file, undecodable bytes, a top-level value or element that is
not an object, types that cannot be unified, a v1 contract field of the wrong type, a non-finite
number, nesting deeper than ``MAX_NESTING_DEPTH`` levels, field names the silver job cannot
flatten) is not an error of the invocation: the original bytes are put to
``{QUARANTINE_PREFIX}/YYYY-MM-DD/<source dir>/<stem>.<hash8>.json`` in the bronze bucket
(``<hash8>`` comes from the versionId or ETag, so two bad uploads of one key on one day do not
overwrite each other), then the sidecar ``<that key>.error.json`` with the reason. Write order:
the copy first, the sidecar last, so a sidecar always describes a copy that exists; a copy
without its sidecar is an interrupted attempt that the retry of the same event completes (both
writes are idempotent). Unexpected errors (S3 access, throttling, configuration) raise, so
Lambda's retries and failure destination take over; a bronze file is written with a single
``PutObject`` of the finished bytes, so nothing half-written is ever visible.

Configuration (environment): ``BRONZE_BUCKET`` (required), ``BRONZE_PREFIX`` (``car_data``),
``QUARANTINE_PREFIX`` (``quarantine``), ``LOG_LEVEL`` (``INFO``).

Locally, with no AWS account, the same ``process_object`` code path runs on folders: see
``scripts/local_runtime.py`` (its ``LocalStore`` and ``convert_local_file``; not deployed).

The module imports nothing from the repository and has no import-time side effects (no boto3
client, no configuration read).
"""

import contextlib
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote_plus

import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

DEFAULT_BRONZE_PREFIX = "car_data"
DEFAULT_QUARANTINE_PREFIX = "quarantine"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
LINEAGE_FIELDS = (
    pa.field("ingestion_timestamp", TIMESTAMP_TYPE),
    pa.field("source_bucket", pa.string()),
    pa.field("source_file", pa.string()),
)

# Records are walked and converted to Arrow in chunks of this many rows, so that at most one
# chunk of parsed Python objects is alive at a time (a 50 MB file never exists as 100k dicts).
CHUNK_ROWS = 4096

# Deepest accepted nesting of objects and arrays (a top-level field is at level 1): far beyond
# any telemetry, far below Python's recursion limit (the type walk recurses once or twice per
# level, so ~500 levels would already exhaust it).
MAX_NESTING_DEPTH = 64

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMERIC = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*\Z")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EXACT_DOUBLE_INT = 2**53


class BadContent(ValueError):
    """The landing object's content cannot become a bronze file; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourceChanged(Exception):
    """The landing object no longer has the ETag the event announced (it was overwritten)."""


def _reject_constant(literal: str) -> float:
    # Python's json accepts NaN, Infinity and -Infinity; they are not JSON, and an Infinity
    # mileage would win every "highest value" comparison downstream.
    raise BadContent(f"non-finite number {literal} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _decode(raw: bytes) -> str:
    start = len(_BOM) if raw.startswith(_BOM) else 0
    try:
        # str(memoryview) decodes without first copying the bytes after the BOM.
        return str(memoryview(raw)[start:], "utf-8")
    except UnicodeDecodeError as exc:
        raise BadContent(f"not valid UTF-8: {exc.reason} at byte {exc.start + start}") from None


def _malformed(exc: json.JSONDecodeError) -> BadContent:
    return BadContent(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")


def _decode_value(text: str, idx: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, idx)
    except json.JSONDecodeError as exc:
        raise _malformed(exc) from None
    except RecursionError:
        raise BadContent("JSON nested too deeply") from None


def iter_payload(raw: bytes) -> Iterator[dict]:
    """Yield the records of a landing payload one by one (streaming, for large files).

    Accepts a single object, an array of objects, or JSON Lines / concatenated objects, UTF-8
    with or without BOM. Raises ``BadContent`` (possibly after yielding some records) when the
    payload is not that.
    """
    if not raw:
        raise BadContent("empty file (0 bytes)")
    text = _decode(raw)
    end = len(text)
    idx = _WHITESPACE.match(text, 0).end()
    if idx == end:
        raise BadContent("empty file (whitespace only)")
    first = text[idx]
    if first == "[":
        idx = _WHITESPACE.match(text, idx + 1).end()
        if text.startswith("]", idx):
            raise BadContent("empty array: no records")
        n = 0
        while True:
            value, idx = _decode_value(text, idx)
            if type(value) is not dict:
                raise BadContent(f"array element {n} is {_json_type(value)}, not an object")
            yield value
            n += 1
            idx = _WHITESPACE.match(text, idx).end()
            sep = text[idx : idx + 1]
            if sep == ",":
                idx = _WHITESPACE.match(text, idx + 1).end()
            elif sep == "]":
                idx = _WHITESPACE.match(text, idx + 1).end()
                break
            else:
                raise _malformed(json.JSONDecodeError("Expecting ',' or ']'", text, idx))
        if idx != end:
            raise _malformed(json.JSONDecodeError("Extra data after the array", text, idx))
    elif first == "{":
        n = 0
        while idx < end:
            value, next_idx = _decode_value(text, idx)
            if type(value) is not dict:
                line = text.count("\n", 0, idx) + 1
                raise BadContent(f"record {n} (line {line}) is {_json_type(value)}, not an object")
            yield value
            n += 1
            idx = _WHITESPACE.match(text, next_idx).end()
    else:
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as exc:
            raise _malformed(exc) from None
        except RecursionError:
            raise BadContent("JSON nested too deeply") from None
        raise BadContent(f"top-level JSON value is {_json_type(value)}, not an object or array")


def parse_payload(raw: bytes) -> list[dict]:
    """All records of a landing payload; raises ``BadContent`` on bad content."""
    return list(iter_payload(raw))


# --------------------------------------------------------------------------------------------
# Schema inference: a small type tree walked over the records, seeded with the v1 contract
# --------------------------------------------------------------------------------------------

_NULL = "null"  # only nulls seen so far
_BOOLEAN = "boolean"
_NUMBER = "number"  # -> double
_INTEGER = "integer"  # -> int64, only the contract's top-level year / ModelYear
_STRING = "string"
_OBJECT = "object"  # -> struct
_ARRAY = "array"  # -> list

_NONE = type(None)
# Lineage names are taken at the top level: a landing field of that name would collide.
_LINEAGE_NAMES = frozenset(field.name.casefold() for field in LINEAGE_FIELDS)
# Python types accepted without further work for a node of each kind (the fast path).
_FAST_TYPES = {
    _NULL: frozenset({_NONE}),
    _BOOLEAN: frozenset({bool, _NONE}),
    _NUMBER: frozenset({int, float, _NONE}),
    _INTEGER: frozenset({int, _NONE}),
    _STRING: frozenset({str, _NONE}),
    _OBJECT: frozenset({_NONE}),
    _ARRAY: frozenset({_NONE}),
}
_ARTICLE = {_BOOLEAN: "a", _NUMBER: "a", _INTEGER: "an", _STRING: "a", _OBJECT: "an", _ARRAY: "an"}
_SCALAR_ARROW = {
    _BOOLEAN: pa.bool_(),
    _NUMBER: pa.float64(),
    _INTEGER: pa.int64(),
    _STRING: pa.string(),
}

# DESIGN.md §2, in the order of the reference sample. Values: a kind, or a nested spec.
V1_CONTRACT: dict[str, Any] = {
    "carChassis": _STRING,
    "Model": _STRING,
    "year": _INTEGER,
    "ModelYear": _INTEGER,
    "Manufacturer": _STRING,
    "horsePower": _NUMBER,
    "gasType": _STRING,
    "currentMileage": _NUMBER,
    "color": _STRING,
    "fuelCapacityLiters": _NUMBER,
    "metrics": {
        "engineTempCelsius": _NUMBER,
        "oilTempCelsius": _NUMBER,
        "batteryChargePerc": _NUMBER,
        "fuelAvailableLiters": _NUMBER,
        "coolantCelsius": _NUMBER,
        "trip": {
            "tripMileage": _NUMBER,
            "tripTimeMinutes": _NUMBER,
            "tripFuelLiters": _NUMBER,
            "tripMaxSpeedKm": _NUMBER,
            "tripAverageSpeedKm": _NUMBER,
            "tripStartTimestamp": _STRING,
        },
        "metricTimestamp": _STRING,
    },
    "carInsurance": {"number": _STRING, "provider": _STRING, "validUntil": _STRING},
    "market": {
        "currentPrice": _NUMBER,
        "currency": _STRING,
        "location": _STRING,
        "dealer": _STRING,
        "warrantyYears": _NUMBER,
        "evaluator": _STRING,
    },
}


class _Node:
    """The inferred type of one field (or of the elements of an array)."""

    __slots__ = ("path", "depth", "kind", "fast", "contract", "fields", "folded", "item")

    def __init__(
        self, path: str, kind: str = _NULL, contract: bool = False, depth: int = 0
    ) -> None:
        if depth > MAX_NESTING_DEPTH:
            # Checked where a new level first appears, so the recursive walks (observe, Arrow
            # types, conform) never go deeper than this: no RecursionError on hostile input.
            raise BadContent(
                f"nested deeper than {MAX_NESTING_DEPTH} levels (at field {_clip(path)!r})"
            )
        self.path = path
        self.depth = depth
        self.contract = contract
        self.fields: dict[str, _Node] | None = None
        self.folded: dict[str, str] | None = None
        self.item: _Node | None = None
        self.set_kind(kind)

    def set_kind(self, kind: str) -> None:
        self.kind = kind
        self.fast = _FAST_TYPES[kind]
        if kind is _OBJECT and self.fields is None:
            self.fields, self.folded = {}, {}
        elif kind is _ARRAY and self.item is None:
            self.item = _Node(f"{self.path}[]", depth=self.depth + 1)

    def add_field(self, name: str) -> "_Node":
        folded = name.casefold()
        if not self.path and folded in _LINEAGE_NAMES:
            raise BadContent(f"field {name!r} collides with the bronze lineage column")
        other = self.folded.get(folded)
        where = f"{self.path}." if self.path else ""
        if other is not None:
            raise BadContent(
                f"fields {where + other!r} and {where + name!r} differ only in letter case "
                "(ambiguous in Spark, Glue and Athena)"
            )
        if "`" in name:
            raise BadContent(
                f"field name {_clip(where + name)!r} contains a backtick, the quote character "
                "of Spark column paths"
            )
        node = _Node(where + name, depth=self.depth + 1)
        self.fields[name] = node
        self.folded[folded] = name
        return node

    def conflict(self, value: Any) -> BadContent:
        if self.contract:
            return BadContent(
                f"field {self.path!r} must be {_ARTICLE[self.kind]} {self.kind} per the v1 "
                f"contract, got {_json_type(value)} {_short(value)}"
            )
        return BadContent(
            f"field {self.path!r} holds incompatible types: {self.kind} and {_json_type(value)}"
        )

    def to_integer(self, value: int | float | str) -> int:
        if type(value) is str:
            if not _NUMERIC.match(value):
                raise self.conflict(value)
            stripped = value.strip()
            value = int(stripped) if stripped.lstrip("+-").isdigit() else float(stripped)
        if type(value) is float:
            if not value.is_integer():
                raise BadContent(f"field {self.path!r} must be an integer, got {value!r}")
            value = int(value)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise BadContent(f"field {self.path!r}: {value} is out of the int64 range")
        return value

    def to_number(self, value: str) -> float:
        if not _NUMERIC.match(value):
            raise self.conflict(value)
        number = float(value)
        if not math.isfinite(number):
            raise BadContent(f"field {self.path!r}: {value!r} is out of the double range")
        return number


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except RecursionError:  # a value nested deeper than json.dumps goes
        text = "{...}" if isinstance(value, dict) else "[...]"
    return text if len(text) <= 40 else text[:37] + "..."


def _clip(path: str, limit: int = 80) -> str:
    return path if len(path) <= limit else path[: limit - 3] + "..."


def _contract_root() -> _Node:
    root = _Node("", _OBJECT, contract=True)

    def seed(node: _Node, spec: dict[str, Any]) -> None:
        for name, kind in spec.items():
            path = f"{node.path}.{name}" if node.path else name
            child = _Node(path, contract=True, depth=node.depth + 1)
            node.fields[name] = child
            node.folded[name.casefold()] = name
            if isinstance(kind, dict):
                child.set_kind(_OBJECT)
                seed(child, kind)
            else:
                child.set_kind(kind)

    seed(root, V1_CONTRACT)
    return root


def _observe_object(node: _Node, obj: dict) -> None:
    fields = node.fields
    for key, value in obj.items():
        child = fields.get(key)
        if child is None:
            child = node.add_field(key)
        t = type(value)
        if t in child.fast:
            continue
        if t is dict and child.kind is _OBJECT:
            _observe_object(child, value)
        else:
            obj[key] = _observe_value(child, value)


def _observe_array(node: _Node, items: list) -> None:
    item = node.item
    for i, value in enumerate(items):
        t = type(value)
        if t in item.fast:
            continue
        if t is dict and item.kind is _OBJECT:
            _observe_object(item, value)
        else:
            items[i] = _observe_value(item, value)


def _observe_value(node: _Node, value: Any) -> Any:
    """Slow path: fix the node's kind, check the value against it, return it (maybe coerced)."""
    t = type(value)
    kind = node.kind
    if value is None:
        return None
    if t is dict:
        if kind is _NULL:
            node.set_kind(_OBJECT)
        elif kind is not _OBJECT:
            raise node.conflict(value)
        _observe_object(node, value)
        return value
    if t is list:
        if kind is _NULL:
            node.set_kind(_ARRAY)
        elif kind is not _ARRAY:
            raise node.conflict(value)
        _observe_array(node, value)
        return value
    if t is int or t is float:
        if kind is _INTEGER:
            return node.to_integer(value)
        if kind is _NULL:
            node.set_kind(_NUMBER)
        elif kind is not _NUMBER:
            raise node.conflict(value)
        return value
    if t is str:
        if kind is _NULL:
            node.set_kind(_STRING)
            return value
        if node.contract and kind is _NUMBER:
            return node.to_number(value)
        if node.contract and kind is _INTEGER:
            return node.to_integer(value)
        if kind is not _STRING:
            raise node.conflict(value)
        return value
    if t is bool:
        if kind is _NULL:
            node.set_kind(_BOOLEAN)
        elif kind is not _BOOLEAN:
            raise node.conflict(value)
        return value
    raise BadContent(f"field {node.path!r}: unsupported value of type {t.__name__}")


def _widen_large_ints(node: _Node, value: Any) -> Any:
    """Rare path: ints a double cannot hold exactly become floats (or fail for int64 fields)."""
    kind = node.kind
    if type(value) is int:
        if kind is _INTEGER:
            return node.to_integer(value)
        if kind is _NUMBER and abs(value) > _EXACT_DOUBLE_INT:
            try:
                return float(value)
            except OverflowError:
                raise BadContent(
                    f"field {node.path!r}: {value} is out of the double range"
                ) from None
        return value
    if type(value) is dict and kind is _OBJECT:
        for key, child_value in value.items():
            value[key] = _widen_large_ints(node.fields[key], child_value)
    elif type(value) is list and kind is _ARRAY:
        for i, child_value in enumerate(value):
            value[i] = _widen_large_ints(node.item, child_value)
    return value


def _arrow_type(node: _Node) -> pa.DataType:
    """The Arrow type of a chunk built now (null where nothing typed was seen yet)."""
    kind = node.kind
    if kind is _OBJECT:
        return pa.struct([pa.field(name, _arrow_type(c)) for name, c in node.fields.items()])
    if kind is _ARRAY:
        return pa.list_(_arrow_type(node.item))
    if kind is _NULL:
        return pa.null()
    return _SCALAR_ARROW[kind]


def _final_type(node: _Node) -> pa.DataType | None:
    """The file's Arrow type, or None for a field without a single typed value in the file.

    A field that is only ever null, ``[]`` or ``{}`` has no type to give: guessing one (say
    string, as Spark's JSON reader does) would make it string in this file and double in the
    next, which breaks schema merging in Spark and the Glue crawler. Such a field is left out
    of this file (it reads as null under the merged schema). Contract fields always have a type.
    """
    kind = node.kind
    if kind is _OBJECT:
        fields = [
            pa.field(name, child_type)
            for name, child in node.fields.items()
            if (child_type := _final_type(child)) is not None
        ]
        return pa.struct(fields) if fields else None
    if kind is _ARRAY:
        item_type = _final_type(node.item)
        return None if item_type is None else pa.list_(item_type)
    if kind is _NULL:
        return None
    return _SCALAR_ARROW[kind]


def _conform(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """Bring a chunk built with an earlier (narrower) type tree to the file's final type.

    Between chunks a type can only grow: null -> anything, a struct gains fields, a list's
    element type grows the same way; fields the final type leaves out are dropped. Numbers never
    change type (they are double, or int64 for year/ModelYear, from the start).
    """
    source = arr.type
    if source.equals(target):
        return arr
    if pa.types.is_null(source):
        return pa.nulls(len(arr), target)
    mask = arr.is_null() if arr.null_count else None
    if pa.types.is_struct(target) and pa.types.is_struct(source):
        children = []
        for field in target:
            index = source.get_field_index(field.name)
            child = arr.field(index) if index >= 0 else pa.nulls(len(arr), field.type)
            children.append(_conform(child, field.type))
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target) and pa.types.is_list(source):
        values = _conform(arr.values, target.value_type)
        return pa.ListArray.from_arrays(arr.offsets, values, type=target, mask=mask)
    raise AssertionError(f"cannot conform {source} to {target}")  # a bug, not bad content


def _check_finite(node: _Node, arr: pa.Array) -> None:
    """Numbers must be finite: ``1e999`` parses as inf (the literals are refused by the parser).

    Vectorised over a freshly built chunk (its type follows ``node``), so the per-value fast path
    of the walk stays free of checks.
    """
    kind = node.kind
    if kind is _NUMBER:
        import pyarrow.compute as pc  # imported by the conversion anyway; not at module import

        bad = pc.invert(pc.is_finite(arr))
        if pc.any(bad).as_py():
            value = arr.filter(bad)[0].as_py()
            raise BadContent(f"field {node.path!r}: a number is out of the double range ({value})")
    elif kind is _OBJECT:
        for index, child in enumerate(node.fields.values()):
            if child.kind is not _NULL:
                _check_finite(child, arr.field(index))
    elif kind is _ARRAY and node.item.kind is not _NULL:
        _check_finite(node.item, arr.values)


def _check_flattened_names(fields: Iterable[pa.Field]) -> None:
    """Refuse names that collide once the silver job flattens the structs.

    The job names the column of a struct field by its path joined with ``_`` (arrays and maps
    stay whole) and raises when two paths give the same name, compared case-insensitively:
    ``a_b`` beside ``a.b``, or a top-level ``metrics_metricTimestamp`` beside the contract's
    ``metrics.metricTimestamp``. Such a file would fail that job on every run. (Only this file is
    seen here: a clash between two files, each fine alone, is not detectable by the Lambda.)
    """
    seen: dict[str, str] = {}

    def walk(dtype: pa.DataType, path: tuple[str, ...]) -> None:
        if pa.types.is_struct(dtype):
            for child in dtype:
                walk(child.type, (*path, child.name))
            return
        name = "_".join(path)
        dotted = ".".join(path)
        folded = name.casefold()  # as the job's name.lower(), and as add_field compares
        other = seen.get(folded)
        if other is not None:
            raise BadContent(
                f"fields {_clip(other)!r} and {_clip(dotted)!r} both become the column "
                f"{_clip(name)!r} when the silver job flattens structs with '_'"
            )
        seen[folded] = dotted

    for field in fields:
        walk(field.type, (field.name,))


class _TableBuilder:
    def __init__(self) -> None:
        self.root = _contract_root()
        self.chunks: list[pa.StructArray] = []

    def add(self, records: list[dict]) -> None:
        root = self.root
        for record in records:
            if type(record) is not dict:
                raise BadContent(f"a record is {_json_type(record)}, not an object")
            _observe_object(root, record)
        struct_type = _arrow_type(root)
        try:
            chunk = pa.array(records, type=struct_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            for i, record in enumerate(records):
                records[i] = _widen_large_ints(root, record)
            try:
                chunk = pa.array(records, type=struct_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                raise BadContent(f"records cannot be converted to Arrow: {exc}") from None
        _check_finite(root, chunk)
        self.chunks.append(chunk)

    def finish(
        self, *, ingestion_timestamp: dt.datetime, source_bucket: str, source_file: str
    ) -> pa.Table:
        if not self.chunks:
            raise BadContent("no records")
        final = _final_type(self.root)
        _check_flattened_names([*final, *LINEAGE_FIELDS])
        batches = []
        while self.chunks:
            chunk = self.chunks.pop(0)
            batches.append(pa.RecordBatch.from_struct_array(_conform(chunk, final)))
        table = pa.Table.from_batches(batches, schema=pa.schema(list(final)))
        rows = table.num_rows
        values = (_as_utc(ingestion_timestamp), source_bucket, source_file)
        for field, value in zip(LINEAGE_FIELDS, values, strict=True):
            table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), rows))
        return table


def to_table(
    records: Iterable[dict],
    *,
    ingestion_timestamp: dt.datetime,
    source_bucket: str,
    source_file: str,
) -> pa.Table:
    """Records -> one Arrow table with the bronze schema (raises ``BadContent``).

    The schema is built by walking the records, seeded with the v1 contract: contract columns
    always present with their contract types (numbers double, top-level year/ModelYear int64),
    then unknown fields in order of first appearance (except those never holding a typed value
    in the file, see ``_final_type``), then the lineage columns. Values the
    contract allows to be normalised are normalised in place in the given dicts (numeric strings
    in number fields, integral floats in year/ModelYear).
    """
    builder = _TableBuilder()
    chunk: list[dict] = []
    with _gc_paused():
        for record in records:
            chunk.append(record)
            if len(chunk) >= CHUNK_ROWS:
                builder.add(chunk)
                chunk = []
        if chunk:
            builder.add(chunk)
        del chunk
        return builder.finish(
            ingestion_timestamp=ingestion_timestamp,
            source_bucket=source_bucket,
            source_file=source_file,
        )


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsed JSON holds no reference cycles: the cyclic GC only costs time here (~25%)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def contract_schema() -> pa.Schema:
    """The columns every bronze file starts with (v1 contract) and ends with (lineage)."""
    contract = _final_type(_contract_root())
    return pa.schema([*contract, *LINEAGE_FIELDS])


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Snappy Parquet in memory; the same table always gives the same bytes."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def convert_payload(
    raw: bytes, *, ingestion_timestamp: dt.datetime, source_bucket: str, source_file: str
) -> tuple[bytes, int]:
    """Landing bytes -> (bronze Parquet bytes, row count); raises ``BadContent``."""
    table = to_table(
        iter_payload(raw),
        ingestion_timestamp=ingestion_timestamp,
        source_bucket=source_bucket,
        source_file=source_file,
    )
    rows = table.num_rows
    return to_parquet_bytes(table), rows


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _clean_prefix(prefix: str) -> str:
    cleaned = prefix.strip().strip("/")
    if not cleaned:
        raise ValueError(f"invalid key prefix {prefix!r}")
    return cleaned


def is_json_key(key: str) -> bool:
    return key.lower().endswith(".json")


def bronze_key(
    source_key: str,
    etag_or_version: str,
    event_time: dt.datetime,
    prefix: str = DEFAULT_BRONZE_PREFIX,
    *,
    source_bucket: str = "",
) -> str:
    """``{prefix}/ingest_year=YYYY/ingest_month=MM/ingest_day=DD/<stem>-<hash16>.parquet``.

    ``<stem>`` is the sanitised file name of the key (readable, never starting with ``_`` or
    ``.``, which Spark and the Glue crawler treat as hidden); ``<hash16>`` is a SHA-256 prefix of
    (bucket, key, versionId or ETag), so the name is a pure function of the source object.
    """
    day = _as_utc(event_time)
    name = PurePosixPath(source_key).name
    stem = name[: -len(".json")] if is_json_key(name) else name
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).lstrip("._")[:80] or "object"
    identity = json.dumps([source_bucket, source_key, etag_or_version.strip('"')])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return (
        f"{_clean_prefix(prefix)}/ingest_year={day.year:04d}/ingest_month={day.month:02d}/"
        f"ingest_day={day.day:02d}/{stem}-{digest}.parquet"
    )


def _quarantine_base(
    source_key: str, etag_or_version: str, event_time: dt.datetime, prefix: str
) -> tuple[str, str]:
    """(``{prefix}/YYYY-MM-DD/<source dir>/<stem>.<hash8>``, the source's ``.json`` suffix)."""
    folder, slash, name = source_key.rpartition("/")
    stem, suffix = (
        (name[: -len(".json")], name[-len(".json") :]) if is_json_key(name) else (name, "")
    )
    digest = hashlib.sha256(etag_or_version.strip('"').encode("utf-8")).hexdigest()[:8]
    day = f"{_as_utc(event_time):%Y-%m-%d}"
    return f"{_clean_prefix(prefix)}/{day}/{folder}{slash}{stem}.{digest}", suffix


def quarantine_key(
    source_key: str,
    etag_or_version: str,
    event_time: dt.datetime,
    prefix: str = DEFAULT_QUARANTINE_PREFIX,
) -> str:
    """``{prefix}/YYYY-MM-DD/<source dir>/<stem>.<hash8>.json``, the copy of a bad upload.

    The source key stays recognisable (its folders and file name, the ``.json`` suffix as it
    was); ``<hash8>`` is a SHA-256 prefix of the versionId or ETag, so two bad uploads of the
    same key on the same day keep one copy each, while a retry of the same event rewrites the
    same object. The sidecar is this key + ``.error.json``.
    """
    base, suffix = _quarantine_base(source_key, etag_or_version, event_time, prefix)
    return base + suffix


def superseded_key(
    source_key: str,
    etag_or_version: str,
    event_time: dt.datetime,
    prefix: str = DEFAULT_QUARANTINE_PREFIX,
) -> str:
    """``{prefix}/YYYY-MM-DD/<source dir>/<stem>.<hash8>.superseded.json``: the record of an
    upload that was overwritten before its event was processed (no copy: it is unreadable)."""
    base, _ = _quarantine_base(source_key, etag_or_version, event_time, prefix)
    return f"{base}.superseded.json"


# --------------------------------------------------------------------------------------------
# Storage: the only two operations the core needs (IAM: s3:GetObject + s3:PutObject)
# --------------------------------------------------------------------------------------------


class ObjectStore(Protocol):
    def get(self, bucket: str, key: str, *, if_match: str | None = None) -> bytes:
        """The object's bytes; ``SourceChanged`` if ``if_match`` is not its current ETag."""
        ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class S3Store:
    """boto3-backed store; the client is created on first use, never at import."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # lazy: no boto3 import and no client until the first call

            self._client = boto3.client("s3")
        return self._client

    def get(self, bucket: str, key: str, *, if_match: str | None = None) -> bytes:
        # If-Match makes S3 return exactly the upload the event announced, or 412 when the key
        # has been overwritten since. (With versioning on the landing bucket, GetObject with the
        # event's VersionId would still read the old upload, but that needs
        # s3:GetObjectVersion, left out of the function's role on purpose.)
        params = {"Bucket": bucket, "Key": key}
        if if_match is not None:
            params["IfMatch"] = '"' + if_match.strip('"') + '"'  # an HTTP entity tag is quoted
        try:
            response = self.client.get_object(**params)
        except Exception as exc:  # botocore's ClientError (botocore is not imported here)
            error = getattr(exc, "response", None) or {}
            status = error.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if if_match is not None and (
                error.get("Error", {}).get("Code") == "PreconditionFailed" or status == 412
            ):
                raise SourceChanged(f"s3://{bucket}/{key} no longer has ETag {if_match}") from exc
            raise
        body = response["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def put(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


# --------------------------------------------------------------------------------------------
# Core: one landing object -> one bronze file or one quarantine entry
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    bronze_bucket: str
    bronze_prefix: str = DEFAULT_BRONZE_PREFIX
    quarantine_prefix: str = DEFAULT_QUARANTINE_PREFIX

    def __post_init__(self) -> None:
        if not self.bronze_bucket:
            raise ValueError("the bronze bucket is not set (BRONZE_BUCKET)")
        bronze = _clean_prefix(self.bronze_prefix)
        quarantine = _clean_prefix(self.quarantine_prefix)
        if (bronze + "/").startswith(quarantine + "/") or (quarantine + "/").startswith(
            bronze + "/"
        ):
            # The quarantine must stay outside the crawled table path, and vice versa.
            raise ValueError("BRONZE_PREFIX and QUARANTINE_PREFIX must not overlap")
        object.__setattr__(self, "bronze_prefix", bronze)
        object.__setattr__(self, "quarantine_prefix", quarantine)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        return cls(
            bronze_bucket=env.get("BRONZE_BUCKET", "").strip(),
            bronze_prefix=env.get("BRONZE_PREFIX") or DEFAULT_BRONZE_PREFIX,
            quarantine_prefix=env.get("QUARANTINE_PREFIX") or DEFAULT_QUARANTINE_PREFIX,
        )


@dataclasses.dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str  # decoded
    event_time: dt.datetime
    etag: str | None = None
    version_id: str | None = None

    @classmethod
    def from_event_record(cls, record: Mapping[str, Any]) -> "SourceObject":
        s3 = record["s3"]
        obj = s3["object"]
        return cls(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            event_time=parse_event_time(record["eventTime"]),
            etag=(obj.get("eTag") or "").strip('"') or None,
            version_id=obj.get("versionId") or None,
        )


def parse_event_time(value: str) -> dt.datetime:
    """S3 ``eventTime`` (``2025-10-29T11:00:05.123Z``) -> aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return _as_utc(dt.datetime.fromisoformat(text))


def process_object(store: ObjectStore, source: SourceObject, config: Config) -> dict[str, Any]:
    """Convert one landing object: the single code path of the Lambda and of local runs.

    Returns a JSON-able outcome with ``status`` processed | quarantined | skipped. Bad content
    is quarantined (and returned); anything else (store errors) raises.
    """
    outcome: dict[str, Any] = {"source_bucket": source.bucket, "source_key": source.key}
    if not is_json_key(source.key):
        logger.info(json.dumps({"message": "skipped: not a .json key", **outcome}))
        return {"status": "skipped", **outcome, "reason": "not a .json key"}
    started = time.perf_counter()
    try:
        # Without an eTag (local runs) there is nothing to match: read what is there.
        raw = store.get(source.bucket, source.key, if_match=source.etag)
    except SourceChanged:
        return _superseded(store, source, config, started)
    identity = (
        source.version_id
        or source.etag
        or hashlib.md5(raw, usedforsecurity=False).hexdigest()  # = a single-part ETag
    )
    try:
        body, rows = convert_payload(
            raw,
            ingestion_timestamp=source.event_time,
            source_bucket=source.bucket,
            source_file=source.key,
        )
    except BadContent as exc:
        return _quarantine(store, raw, source, config, exc.reason, identity, started)
    del raw
    key = bronze_key(
        source.key, identity, source.event_time, config.bronze_prefix, source_bucket=source.bucket
    )
    store.put(config.bronze_bucket, key, body, PARQUET_CONTENT_TYPE)
    outcome.update(
        status="processed",
        target_bucket=config.bronze_bucket,
        target_key=key,
        rows=rows,
        bytes=len(body),
    )
    logger.info(json.dumps({"message": "converted", **outcome, "ms": _ms(started)}))
    return outcome


def _quarantine(
    store: ObjectStore,
    raw: bytes,
    source: SourceObject,
    config: Config,
    reason: str,
    identity: str,
    started: float,
) -> dict[str, Any]:
    key = quarantine_key(source.key, identity, source.event_time, config.quarantine_prefix)
    error_key = f"{key}.error.json"
    sidecar = {
        "reason": reason,
        "source_bucket": source.bucket,
        "source_key": source.key,
        "etag": source.etag or (None if source.version_id else identity),
        "version_id": source.version_id,
        "event_time": _as_utc(source.event_time).isoformat().replace("+00:00", "Z"),
        "quarantine_key": key,
        "size_bytes": len(raw),
    }
    # The copy first, the sidecar last: a sidecar always describes a copy that exists.
    store.put(config.bronze_bucket, key, raw, "application/octet-stream")
    body = json.dumps(sidecar, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    store.put(config.bronze_bucket, error_key, body + b"\n", "application/json")
    outcome = {
        "status": "quarantined",
        "source_bucket": source.bucket,
        "source_key": source.key,
        "target_bucket": config.bronze_bucket,
        "target_key": key,
        "error_key": error_key,
        "reason": reason,
    }
    logger.warning(json.dumps({"message": "quarantined", **outcome, "ms": _ms(started)}))
    return outcome


SUPERSEDED_REASON = (
    "superseded: the landing object was overwritten before this event was processed; "
    "its content is no longer readable"
)


def _superseded(
    store: ObjectStore, source: SourceObject, config: Config, started: float
) -> dict[str, Any]:
    """The event's upload was overwritten before it was read: record it, write no bronze file.

    Not an error (a retry could never read it either) and nothing is lost silently: the record
    and a warning say which upload is gone; the newer upload is converted by its own event.
    """
    identity = source.version_id or source.etag or ""
    key = superseded_key(source.key, identity, source.event_time, config.quarantine_prefix)
    record = {
        "reason": SUPERSEDED_REASON,
        "source_bucket": source.bucket,
        "source_key": source.key,
        "etag": source.etag,
        "version_id": source.version_id,
        "event_time": _as_utc(source.event_time).isoformat().replace("+00:00", "Z"),
        "quarantine_key": None,  # no copy: the bytes of that upload cannot be read any more
    }
    body = json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")
    store.put(config.bronze_bucket, key, body + b"\n", "application/json")
    outcome = {
        "status": "skipped",
        "source_bucket": source.bucket,
        "source_key": source.key,
        "reason": SUPERSEDED_REASON,
        "etag": source.etag,
        "target_bucket": config.bronze_bucket,
        "error_key": key,
    }
    logger.warning(json.dumps({"message": "superseded", **outcome, "ms": _ms(started)}))
    return outcome


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def summarize(outcomes: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Outcomes grouped by status: {"processed": [...], "quarantined": [...], "skipped": [...]}."""
    summary: dict[str, list[dict[str, Any]]] = {"processed": [], "quarantined": [], "skipped": []}
    for outcome in outcomes:
        details = {k: v for k, v in outcome.items() if k != "status"}
        summary[outcome["status"]].append(details)
    return summary


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

_STORE: S3Store | None = None  # reused across warm invocations; created on the first one


def _s3_store() -> S3Store:
    global _STORE
    if _STORE is None:
        _STORE = S3Store()
    return _STORE


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """S3 ObjectCreated event -> one bronze file (or quarantine entry) per ``.json`` record."""
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
