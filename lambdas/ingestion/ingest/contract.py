"""The v1 landing contract (DESIGN.md §2), declared once: the Arrow schema that every bronze
file starts with, plus the lineage columns it ends with.

``check_record`` holds the only contract checks pyarrow does not make when it converts a
record: a contract field of the wrong JSON type, an integer field holding a fraction, a
``true`` in a number field (pyarrow would store it as 1.0). Numeric strings in number fields
and integral floats in integer fields are normalised in place, as the contract allows.
"""

import json
import math
import re
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
TRIP = pa.struct(
    [
        *((name, pa.float64()) for name in ("tripMileage", "tripTimeMinutes", "tripFuelLiters")),
        *((name, pa.float64()) for name in ("tripMaxSpeedKm", "tripAverageSpeedKm")),
        ("tripStartTimestamp", pa.string()),
    ]
)
METRICS = pa.struct(
    [
        *((name, pa.float64()) for name in ("engineTempCelsius", "oilTempCelsius")),
        *((name, pa.float64()) for name in ("batteryChargePerc", "fuelAvailableLiters")),
        ("coolantCelsius", pa.float64()),
        ("trip", TRIP),
        ("metricTimestamp", pa.string()),
    ]
)
V1_CONTRACT = pa.schema(
    [
        ("carChassis", pa.string()),
        ("Model", pa.string()),
        ("year", pa.int64()),
        ("ModelYear", pa.int64()),
        ("Manufacturer", pa.string()),
        ("horsePower", pa.float64()),
        ("gasType", pa.string()),
        ("currentMileage", pa.float64()),
        ("color", pa.string()),
        ("fuelCapacityLiters", pa.float64()),
        ("metrics", METRICS),
        (
            "carInsurance",
            pa.struct([(n, pa.string()) for n in ("number", "provider", "validUntil")]),
        ),
        (
            "market",
            pa.struct(
                [
                    ("currentPrice", pa.float64()),
                    *((n, pa.string()) for n in ("currency", "location", "dealer")),
                    ("warrantyYears", pa.float64()),
                    ("evaluator", pa.string()),
                ]
            ),
        ),
    ]
)
LINEAGE = pa.schema(
    [
        ("ingestion_timestamp", TIMESTAMP),
        ("source_bucket", pa.string()),
        ("source_file", pa.string()),
    ]
)
BRONZE_CONTRACT = pa.schema([*V1_CONTRACT, *LINEAGE])

# Deepest accepted nesting of objects and arrays (a top-level field is at level 1).
MAX_NESTING_DEPTH = 64

_NUMERIC = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*\Z")
_EXACT_DOUBLE_INT = 2**53
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _spec(struct: pa.StructType) -> dict[str, Any]:
    """The contract as plain Python for the per-record check: name -> float | int | str | dict."""
    kinds = {pa.float64(): float, pa.int64(): int, pa.string(): str}
    return {f.name: _spec(f.type) if pa.types.is_struct(f.type) else kinds[f.type] for f in struct}


_SPEC = _spec(pa.struct(list(V1_CONTRACT)))
_NAMES = {float: "a number", int: "an integer", str: "a string"}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    """A JSON value abbreviated for a reason (one nested too deep to print is elided)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        text = "{...}" if isinstance(value, dict) else "[...]"
    return text if len(text) <= 40 else text[:37] + "..."


def check_record(record: dict, spec: dict[str, Any] = _SPEC, prefix: str = "") -> str | None:
    """Why ``record`` breaks the contract's types (None if it does not); normalises in place."""
    for name, value in record.items():
        kind = spec.get(name)
        if kind is None or value is None:
            continue  # an unknown field: pyarrow types it
        vtype = type(value)
        if vtype is kind:  # the fast path: the type the contract asks for, in range
            if kind is str or (
                value - value == 0 if kind is float else _INT64_MIN <= value <= _INT64_MAX
            ):
                continue
        elif kind is float and vtype is int and -_EXACT_DOUBLE_INT <= value <= _EXACT_DOUBLE_INT:
            continue
        if type(kind) is dict:
            if vtype is not dict:
                return _wrong(name, prefix, "an object", value)
            reason = check_record(value, kind, f"{prefix}{name}.")
            if reason:
                return reason
            continue
        fixed = _normalise(kind, value, prefix + name)
        if type(fixed) is str:
            return fixed
        record[name] = fixed[0]
    return None


def _wrong(name: str, prefix: str, expected: str, value: Any) -> str:
    return (
        f"field {prefix + name!r} must be {expected} per the v1 contract, got "
        f"{json_type(value)} {short(value)}"
    )


def _normalise(kind: type, value: Any, path: str) -> tuple[Any] | str:
    """(the value as the contract's type,) or the reason it cannot be."""
    vtype = type(value)
    if (
        kind is str
        or vtype not in (int, float, str)
        or (vtype is str and not _NUMERIC.match(value))
    ):
        return _wrong(path, "", _NAMES[kind], value)
    number = value if vtype is int else float(value)
    if kind is float:
        if not math.isfinite(number):
            return f"field {path!r}: {value!r} is not a finite number"
        return (float(number),)
    if vtype is str and value.strip().lstrip("+-").isdigit():
        number = int(value)
    if type(number) is float:
        if not number.is_integer():
            return f"field {path!r} must be an integer, got {value!r}"
        number = int(number)
    if not _INT64_MIN <= number <= _INT64_MAX:
        return f"field {path!r}: {value} is out of the int64 range"
    return (number,)


def widen_large_ints(value: Any) -> Any:
    """Integers a double cannot hold exactly become doubles (pyarrow refuses them otherwise)."""
    if type(value) is int and abs(value) > _EXACT_DOUBLE_INT:
        return float(value)
    if type(value) is dict:
        return {k: widen_large_ints(v) for k, v in value.items()}
    if type(value) is list:
        return [widen_large_ints(v) for v in value]
    return value


def dotted(path: tuple[str | None, ...]) -> str:
    """A field path as reasons show it (``a.b[].c``), clipped to 80 characters."""
    text = ""
    for name in path:
        text += "[]" if name is None else (f".{name}" if text else name)
    return text if len(text) <= 80 else text[:77] + "..."


def too_deep(value: Any, path: tuple[str | None, ...] = ()) -> str | None:
    """The reason ``value`` nests deeper than ``MAX_NESTING_DEPTH`` levels, or None.

    Arrow converts such a value in time quadratic in its depth and recurses through it, so it
    is refused before Arrow sees it (the walk stops at the limit)."""
    if len(path) > MAX_NESTING_DEPTH:
        return f"nested deeper than {MAX_NESTING_DEPTH} levels (at field {dotted(path)!r})"
    if type(value) is dict:
        found = (too_deep(v, (*path, k)) for k, v in value.items())
    elif type(value) is list:
        found = (too_deep(v, (*path, None)) for v in value)
    else:
        return None
    return next((reason for reason in found if reason), None)
