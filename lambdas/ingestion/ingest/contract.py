"""The v1 landing contract (DESIGN.md §2), declared once as Arrow schemas, and the checks of a
record that pyarrow does not make: ``pa.array`` would store ``true`` in a number field as 1.0
and truncate 2024.5 in an integer field, and recurses through any nesting."""

import json
import math
import re
from typing import Any

import pyarrow as pa

_D, _S = pa.float64(), pa.string()


def _fields(names: str, dtype: pa.DataType) -> list[tuple[str, pa.DataType]]:
    return [(name, dtype) for name in names.split()]


TIMESTAMP = pa.timestamp("us", tz="UTC")
TRIP = pa.struct(
    _fields("tripMileage tripTimeMinutes tripFuelLiters tripMaxSpeedKm tripAverageSpeedKm", _D)
    + _fields("tripStartTimestamp", _S)
)
METRICS = pa.struct(
    _fields("engineTempCelsius oilTempCelsius batteryChargePerc fuelAvailableLiters", _D)
    + [("coolantCelsius", _D), ("trip", TRIP), ("metricTimestamp", _S)]
)
V1_CONTRACT = pa.schema(
    [
        ("carChassis", _S),
        ("Model", _S),
        ("year", pa.int64()),
        ("ModelYear", pa.int64()),
        ("Manufacturer", _S),
        ("horsePower", _D),
        ("gasType", _S),
        ("currentMileage", _D),
        ("color", _S),
        ("fuelCapacityLiters", _D),
        ("metrics", METRICS),
        ("carInsurance", pa.struct(_fields("number provider validUntil", _S))),
        (
            "market",
            pa.struct(
                [("currentPrice", _D), *_fields("currency location dealer", _S)]
                + [("warrantyYears", _D), ("evaluator", _S)]
            ),
        ),
    ]
)
LINEAGE = pa.schema(
    [("ingestion_timestamp", TIMESTAMP), ("source_bucket", _S), ("source_file", _S)]
)
BRONZE_CONTRACT = pa.schema([*V1_CONTRACT, *LINEAGE])
# The columns the silver job adds itself (partitions of silver, quarantine and bronze, enrichment,
# reject reason, rescued values) and those it uses while it runs: a field of a record that
# became one of them would be overwritten there, its value lost.
JOB_COLUMNS = frozenset(
    [f"{kind}_{unit}" for kind in ("event", "ingest") for unit in ("year", "month", "day")]
    + ["fuel_level_percentage", "km_per_liter", "reject_reason", "_rescued_data"]
    + ["_event_ts", "_rank"]
)

# Deepest accepted nesting of objects and arrays (a top-level field is at level 1).
MAX_NESTING_DEPTH = 64

_NUMERIC = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*\Z")
_EXACT_DOUBLE_INT = 2**53
_INT64 = range(-(2**63), 2**63)
_INT_FIELDS = {field.name for field in V1_CONTRACT if field.type == pa.int64()}


def _spec(struct: pa.StructType) -> dict[str, Any]:
    """The contract as plain Python for ``check_record``: name -> float | int | str | dict."""
    kinds = {_D: float, pa.int64(): int, _S: str}
    return {f.name: _spec(f.type) if pa.types.is_struct(f.type) else kinds[f.type] for f in struct}


_SPEC = _spec(pa.struct(list(V1_CONTRACT)))
_EXPECTED = {float: "a number", int: "an integer", str: "a string", dict: "an object"}
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string"}
_JSON_TYPES.update({list: "array", dict: "object"})


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    """A JSON value abbreviated for a reason (one nested too deep to print is elided)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        text = "{...}" if isinstance(value, dict) else "[...]"
    return text if len(text) <= 40 else text[:37] + "..."


def check_record(record: dict, spec: dict[str, Any] = _SPEC, prefix: str = "") -> str | None:
    """Why ``record`` breaks the contract's types (None if it does not). Numeric text in number
    fields and integral floats in integer fields are normalised in place, as the contract
    allows; a non-finite float is left to the conversion's finiteness check."""
    for name, value in record.items():
        kind, vtype = spec.get(name), type(value)
        if kind is None or value is None or vtype is kind and (kind is not int or value in _INT64):
            continue  # an unknown field (pyarrow types it), or the type the contract asks for
        if kind is float and vtype is int and -_EXACT_DOUBLE_INT <= value <= _EXACT_DOUBLE_INT:
            continue
        if type(kind) is dict:
            reason = (
                check_record(value, kind, f"{prefix}{name}.")
                if vtype is dict
                else _wrong(prefix + name, dict, value)
            )
        else:
            reason = _number(record, name, kind, prefix + name)
        if reason:
            return reason
    return None


def _wrong(path: str, kind: type, value: Any) -> str:
    got = f"{json_type(value)} {short(value)}"
    return f"field {path!r} must be {_EXPECTED[kind]} per the v1 contract, got {got}"


def _number(record: dict, name: str, kind: type, path: str) -> str | None:
    """Sets ``record[name]`` to the number the contract asks for, or says why it cannot be."""
    value = record[name]
    if kind is str or type(value) not in (int, float, str):
        return _wrong(path, kind, value)
    if type(value) is str:
        if not _NUMERIC.match(value):
            return _wrong(path, kind, value)
        digits = kind is int and value.strip().lstrip("+-").isdigit()
        try:
            number = int(value) if digits else float(value)
        except ValueError:  # more digits than Python reads as an integer (4,300)
            return f"field {path!r}: {short(value)} is out of the int64 range"
    else:
        number = value
    if kind is float:
        try:
            number = float(number)
        except OverflowError:  # an integer beyond the largest double
            number = math.inf
        if not math.isfinite(number):
            return f"field {path!r}: {value!r} is not a finite number"
        record[name] = number
    elif type(number) is float and not number.is_integer():
        return f"field {path!r} must be an integer, got {value!r}"
    elif int(number) not in _INT64:
        return f"field {path!r}: {value} is out of the int64 range"
    else:
        record[name] = int(number)
    return None


def widen_large_ints(value: Any, top: bool = True) -> Any:
    """A record with every integer a double cannot hold exactly as a double (pyarrow refuses
    them beside fractions), except in the contract's integer fields."""
    if type(value) is int and abs(value) > _EXACT_DOUBLE_INT:
        return float(value)
    if type(value) is dict:
        return {
            k: v if top and k in _INT_FIELDS else widen_large_ints(v, False)
            for k, v in value.items()
        }
    if type(value) is list:
        return [widen_large_ints(v, False) for v in value]
    return value


def dotted(path: tuple[str | None, ...]) -> str:
    """A field path as reasons show it (``a.b[].c``), clipped to 80 characters."""
    text = ""
    for name in path:
        text += "[]" if name is None else (f".{name}" if text else name)
    return text if len(text) <= 80 else text[:77] + "..."


def too_deep(value: Any, path: tuple[str | None, ...] = ()) -> str | None:
    """The reason ``value`` nests deeper than ``MAX_NESTING_DEPTH`` levels, or None. Arrow
    converts such a value in time quadratic in its depth, recursively: it is refused first."""
    if len(path) > MAX_NESTING_DEPTH:
        return f"nested deeper than {MAX_NESTING_DEPTH} levels (at field {dotted(path)!r})"
    if type(value) is dict:
        found = (too_deep(v, (*path, k)) for k, v in value.items())
    elif type(value) is list:
        found = (too_deep(v, (*path, None)) for v in value)
    else:
        return None
    return next(filter(None, found), None)
