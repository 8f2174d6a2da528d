"""The v1 landing contract (DESIGN.md §2), declared once as Arrow schemas, and the check of a
contract value that pyarrow does not make: ``pa.array`` would store ``true`` in a number field
as 1.0 and truncate 2024.5 in an integer field."""

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
INSURANCE = pa.struct(_fields("number provider validUntil", _S))
MARKET = pa.struct(
    [("currentPrice", _D), *_fields("currency location dealer", _S), ("warrantyYears", _D)]
    + [("evaluator", _S)]
)
V1_CONTRACT = pa.schema(
    _fields("carChassis Model", _S)
    + _fields("year ModelYear", pa.int64())
    + [("Manufacturer", _S), ("horsePower", _D), ("gasType", _S), ("currentMileage", _D)]
    + [("color", _S), ("fuelCapacityLiters", _D), ("metrics", METRICS)]
    + [("carInsurance", INSURANCE), ("market", MARKET)]
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

# Numeric text: ASCII digits and spaces only (Python's float() and int() take any Unicode digit)
_NUMERIC = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*\Z", re.ASCII)
EXACT_INT = 2**53
INT64 = range(-(2**63), 2**63)
_INT_FIELDS = {field.name for field in V1_CONTRACT if field.type == pa.int64()}


def _spec(struct: pa.StructType) -> dict[str, Any]:
    """The contract as plain Python for the record walk: name -> float | int | str | dict."""
    kinds = {_D: float, pa.int64(): int, _S: str}
    return {f.name: _spec(f.type) if pa.types.is_struct(f.type) else kinds[f.type] for f in struct}


SPEC = _spec(pa.struct(list(V1_CONTRACT)))
_EXPECTED = {float: "a number", int: "an integer", str: "a string", dict: "an object"}
_JSON_TYPES = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string"}
_JSON_TYPES.update({list: "array", dict: "object"})


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def short(value: Any) -> str:
    """A JSON value abbreviated for a reason (one too deep or too long to print is elided)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        text = {dict: "{...}", list: "[...]"}.get(type(value), "...")
    return _clip(text)


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def shown(value: Any) -> str:
    """A Python value as a reason shows it (``repr``), clipped; an integer too long for ``repr``
    (only a record built in Python) is named as such."""
    try:
        return _clip(repr(value))
    except ValueError:
        return "an integer of over 4,300 digits"


def check_field(record: dict, name: str, kind: type, field: tuple) -> str | None:
    """Why ``record[name]`` (not null, not of its contract type ``kind``, or not a finite number
    or an int64) breaks the contract, or None. Numeric text in a number field and an integral
    float in an integer field become the number, as the contract allows; pyarrow would store
    ``true`` as 1.0 and truncate 2024.5."""
    value = record[name]
    vtype = type(value)
    if kind is str or vtype not in (int, float, str):
        return wrong(field, kind, value)
    path = dotted(field)
    if vtype is str:
        if not _NUMERIC.match(value):
            return wrong(field, kind, value)
        digits = kind is int and value.strip().lstrip("+-").isdigit()
        try:
            value = int(value) if digits else float(value)
        except ValueError:  # more digits than Python reads as an integer (4,300)
            return f"field {path!r}: {short(record[name])} is out of the int64 range"
    if kind is float:
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the largest double
            number = math.inf
        if not math.isfinite(number):
            return f"field {path!r}: {shown(record[name])} is not a finite number"
    elif type(value) is float and not value.is_integer():
        return f"field {path!r} must be an integer, got {shown(record[name])}"
    elif (number := int(value)) not in INT64:
        return f"field {path!r}: {shown(record[name])} is out of the int64 range"
    record[name] = number
    return None


def wrong(field: tuple, kind: type, value: Any) -> str:
    got = f"{json_type(value)} {short(value)}"
    return f"field {dotted(field)!r} must be {_EXPECTED[kind]} per the v1 contract, got {got}"


def widen_large_ints(value: Any, top: bool = True) -> Any:
    """A record with every integer a double cannot hold exactly as a double (pyarrow refuses
    them beside fractions), except in the contract's integer fields."""
    if type(value) is int and abs(value) > EXACT_INT:
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
