"""Records -> one bronze Arrow table, and the records that cannot go there, each with a reason.

pyarrow infers and converts (``pa.array`` on a chunk of records; ``pa.unify_schemas`` with
permissive promotion across chunks); this module adds only what pyarrow does not check:

- the v1 contract's types (``contract.check_record``); contract columns always present with
  their contract types, whatever the file holds;
- every other number is a double (never int64 in one file and double in the next);
- numbers are finite (``1e999`` parses as inf; ``NaN`` and ``Infinity`` are not JSON);
- names the silver job can flatten (no letter-case twins, no backticks, no lineage names, no
  two paths that become the same column when joined with ``_``) and at most
  ``MAX_NESTING_DEPTH`` levels;
- a field without a single typed value among the file's bronze rows (only null, ``[]``,
  ``{}``) is left out: any guessed type would clash with the next file's.

A record that fails any of these is rejected alone; the first record to give a field a type
or a name fixes it for the file (a later record that disagrees is the rejected one).
"""

import contextlib
import dataclasses
import datetime as dt
import gc
import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.contract import (
    LINEAGE,
    MAX_NESTING_DEPTH,
    V1_CONTRACT,
    check_record,
    dotted,
    json_type,
    too_deep,
    widen_large_ints,
)
from ingest.payload import Item

# Records are converted in chunks, so that at most one chunk of parsed dicts is alive at once.
CHUNK_ROWS = 4096

_CONTRACT = pa.struct(list(V1_CONTRACT))
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)
_LINEAGE_NAMES = {name.casefold() for name in LINEAGE.names}
Path = tuple[str | None, ...]  # field names; None steps into a list's elements


@dataclasses.dataclass
class Conversion:
    table: pa.Table | None  # None when no record is left for bronze
    rejected: list[tuple[Item, str]]  # in file order


def _values_at(value: Any, path: Path) -> Iterator[Any]:
    if not path:
        yield value
    elif path[0] is None:
        if type(value) is list:
            for element in value:
                yield from _values_at(element, path[1:])
    elif type(value) is dict:
        yield from _values_at(value.get(path[0]), path[1:])


def _mixed(values: list, path: Path = ()) -> str:
    """Why values of one field (within one record) cannot share a type, or ""."""
    if len(path) > MAX_NESTING_DEPTH:
        return ""
    kinds = {json_type(v) for v in values if v is not None}
    if len(kinds) > 1:
        first, second = sorted(kinds, key=[json_type(v) for v in values].index)[:2]
        return f"field {dotted(path)!r} holds incompatible types: {first} and {second}"
    if kinds == {"object"}:
        names = dict.fromkeys(name for v in values if v is not None for name in v)
        found = (_mixed([v.get(n) for v in values if v is not None], (*path, n)) for n in names)
        return next((reason for reason in found if reason), "")
    if kinds == {"array"}:
        return _mixed([x for v in values if v is not None for x in v], (*path, None))
    return ""


def _kind(dtype: pa.DataType) -> str:
    """The JSON kind of an inferred Arrow type."""
    if pa.types.is_struct(dtype):
        return "object"
    if pa.types.is_list(dtype):
        return "array"
    if pa.types.is_boolean(dtype):
        return "boolean"
    return "string" if pa.types.is_string(dtype) else "number"


def _conflict(old: pa.DataType, new: pa.DataType, path: Path = ()) -> str:
    """The reason two types cannot be unified, naming the first field where they differ."""
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        for field in new:
            index = old.get_field_index(field.name)
            if index >= 0 and (
                reason := _conflict(old[index].type, field.type, (*path, field.name))
            ):
                return reason
        return ""
    if pa.types.is_list(old) and pa.types.is_list(new):
        return _conflict(old.value_type, new.value_type, (*path, None))
    if pa.types.is_null(old) or pa.types.is_null(new) or _kind(old) == _kind(new):
        return ""
    return f"field {dotted(path)!r} holds incompatible types: {_kind(old)} and {_kind(new)}"


def _unify(old: pa.StructType | None, new: pa.StructType | None) -> pa.StructType | None:
    if old is None or new is None:
        return old or new
    schema = pa.unify_schemas(
        [pa.schema(list(old)), pa.schema(list(new))], promote_options="permissive"
    )
    return pa.struct(list(schema))


def _typed(arr: pa.Array, depth: int = 0) -> pa.DataType | None:
    """The array's type without the parts that hold no value at all (None if nothing is left).
    Below the depth limit the type is kept as it is (such records are rejected anyway)."""
    dtype = arr.type
    if arr.null_count == len(arr):
        return None
    if depth > MAX_NESTING_DEPTH:
        return dtype
    if pa.types.is_struct(dtype):
        children = zip(dtype, arr.flatten(), strict=True)
        fields = [pa.field(f.name, t) for f, c in children if (t := _typed(c, depth + 1))]
        return pa.struct(fields) if fields else None
    if pa.types.is_list(dtype):
        item = _typed(arr.flatten(), depth + 1)
        return pa.list_(item) if item else None
    return dtype


def _is_typed(dtype: pa.DataType) -> bool:
    if pa.types.is_struct(dtype):
        return any(_is_typed(f.type) for f in dtype)
    if pa.types.is_list(dtype):
        return _is_typed(dtype.value_type)
    return not pa.types.is_null(dtype)


class _Names:
    """The names of the file so far (contract and lineage first), and what a new type adds."""

    def __init__(self) -> None:
        self.cased: dict[tuple[Path, str], str] = {}
        self.flat: dict[str, str] = {}
        if list(self.problems(_CONTRACT)):
            raise AssertionError("the v1 contract breaks its own naming rules")
        self.flat.update((name.casefold(), name) for name in LINEAGE.names)

    def problems(self, dtype: pa.StructType, path: Path = (), flat: bool = True) -> Iterator:
        """(path, reason) for each field of ``dtype`` the silver job could not take; registers
        the others."""
        for field in dtype:
            here, name = (*path, field.name), field.name
            folded = name.casefold()
            other = self.cased.setdefault((path, folded), name)
            if len(here) > MAX_NESTING_DEPTH:
                yield (
                    here,
                    f"nested deeper than {MAX_NESTING_DEPTH} levels (at field {dotted(here)!r})",
                )
                continue
            if other != name:
                yield (
                    here,
                    (
                        f"fields {dotted((*path, other))!r} and {dotted(here)!r} differ only in "
                        "letter case (ambiguous in Spark, Glue and Athena)"
                    ),
                )
                continue
            if "`" in name:
                yield (
                    here,
                    (
                        f"field name {dotted(here)!r} contains a backtick, the quote character of "
                        "Spark column paths"
                    ),
                )
                continue
            if not path and folded in _LINEAGE_NAMES:
                yield here, f"field {name!r} collides with the bronze lineage column"
                continue
            yield from self._nested(field.type, here, flat)

    def _nested(self, dtype: pa.DataType, here: Path, flat: bool) -> Iterator:
        depth = len(here)
        while pa.types.is_list(dtype):  # arrays stay whole in silver: not flattened
            here, dtype, flat = (*here, None), dtype.value_type, False
            depth += 1
            if depth > MAX_NESTING_DEPTH:
                yield (
                    here,
                    f"nested deeper than {MAX_NESTING_DEPTH} levels (at field {dotted(here)!r})",
                )
                return
        if pa.types.is_struct(dtype):
            yield from self.problems(dtype, here, flat)
        elif flat and _is_typed(dtype):
            column = "_".join(n for n in here if n is not None)
            where = ".".join(n for n in here if n is not None)
            other = self.flat.setdefault(column.casefold(), where)
            if other != where:
                yield (
                    here,
                    (
                        f"fields {dotted(tuple(other.split('.')))!r} and {dotted(here)!r} both "
                        f"become the column {column[:80]!r} when the silver job flattens "
                        "structs with '_'"
                    ),
                )


def _non_finite(arr: pa.Array, path: Path = ()) -> Iterator[tuple[np.ndarray, Path]]:
    """(rows holding a non-finite number, the field) for every double field of ``arr``."""
    dtype = arr.type
    if pa.types.is_struct(dtype):
        for field, child in zip(dtype, arr.flatten(), strict=True):
            yield from _non_finite(child, (*path, field.name))
    elif pa.types.is_list(dtype):
        parents = pc.list_parent_indices(arr).to_numpy()
        for values, where in _non_finite(arr.flatten(), (*path, None)):
            rows = np.zeros(len(arr), dtype=bool)
            rows[parents[values]] = True
            yield rows, where
    elif pa.types.is_floating(dtype) and arr.null_count < len(arr):
        bad = pc.fill_null(pc.invert(pc.is_finite(arr)), False)
        if pc.any(bad).as_py():
            yield bad.to_numpy(zero_copy_only=False), path


class _Builder:
    def __init__(self) -> None:
        self.names = _Names()
        self.type: pa.StructType | None = None  # the typed part of all bronze rows so far
        self.chunks: list[pa.StructArray] = []
        self.rejected: list[tuple[Item, str]] = []

    def add(self, items: list[Item]) -> None:
        good: list[Item] = []
        for item in items:
            reason = item.reason or check_record(item.value)
            reason = reason or (item.start < 0 and too_deep(item.value))
            if reason:
                self.rejected.append((item, reason))
            else:
                good.append(item)
        arr, good = self._arrow(good)
        if arr is None:
            return
        problems = {}
        for path, reason in self.names.problems(arr.type):
            name, rest = path[0], path[1:]
            for i, item in enumerate(good):
                value = item.value.get(name)
                if value is not None and any(v is not None for v in _values_at(value, rest)):
                    problems.setdefault(i, reason)
        if any(reason.startswith("nested deeper") for reason in problems.values()):
            # Arrow's filter recurses through the type and would overflow the stack on such a
            # record: its neighbours are converted again instead.
            self.rejected += [(good[i], reason) for i, reason in problems.items()]
            arr, good = self._arrow([g for i, g in enumerate(good) if i not in problems])
            problems = {}
            if arr is None:
                return
        arr, good = self._drop(arr, good, problems)
        for rows, path in _non_finite(arr):
            for i in np.flatnonzero(rows).tolist():
                value = next(v for v in _values_at(good[i].value, path) if _non_finite_value(v))
                problems.setdefault(i, f"field {dotted(path)!r}: {value!r} is not a finite number")
        arr, good = self._drop(arr, good, problems)
        try:
            typed = _typed(arr)
            if self.type is not None and typed is not None and _conflict(self.type, typed):
                raise pa.ArrowTypeError("kinds differ")  # e.g. boolean vs number: no promotion
            self.type = _unify(self.type, typed)
        except _ARROW_ERRORS:  # the chunk disagrees with earlier ones: record by record
            arr, good = self._arrow(good, at_once=False)
            if arr is None:
                return
            self.type = _unify(self.type, _typed(arr))
        if len(arr):
            self.chunks.append(arr)

    def _drop(self, arr: pa.StructArray, good: list[Item], bad: dict[int, str]) -> tuple:
        """Reject the ``bad`` rows (index -> reason): the array and the items without them."""
        if not bad:
            return arr, good
        self.rejected += [(good[i], reason) for i, reason in bad.items()]
        keep = np.ones(len(good), dtype=bool)
        keep[list(bad)] = False
        bad.clear()
        return arr.filter(pa.array(keep)), [g for g, k in zip(good, keep, strict=True) if k]

    def _arrow(self, good: list[Item], at_once: bool = True) -> tuple:
        """The records as one Arrow array (None if none is left): at once when they agree, else
        record by record, rejecting each whose types clash with the file's so far."""
        if not good:
            return None, good
        if at_once:
            with contextlib.suppress(*_ARROW_ERRORS):
                return pa.array([item.value for item in good]), good
        current, kept = self.type, []
        for item in good:
            value = item.value
            try:
                try:
                    single = pa.array([value])
                except OverflowError:
                    value = widen_large_ints(value)
                    single = pa.array([value])
                typed = _typed(single)
            except _ARROW_ERRORS as exc:
                reason = _mixed([value]) or f"record cannot be converted to Arrow: {exc}"
                self.rejected.append((item, reason))
                continue
            reason = current is not None and typed is not None and _conflict(current, typed)
            try:
                current = current if reason else _unify(current, typed)
            except _ARROW_ERRORS:
                reason = "types differ from earlier records"
            if reason:
                self.rejected.append((item, reason))
                continue
            kept.append(item._replace(value=value))
        if not kept:
            return None, kept
        return pa.array([item.value for item in kept], type=current), kept

    def finish(self) -> pa.Table | None:
        if not self.chunks:
            return None
        target = _target(_CONTRACT, self.type)
        batches = [pa.RecordBatch.from_struct_array(_conform(c, target)) for c in self.chunks]
        self.chunks = []
        return pa.Table.from_batches(batches, schema=pa.schema(list(target)))


def _non_finite_value(value: Any) -> bool:
    return type(value) is float and not math.isfinite(value)


def _as_double(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(dtype):
        return pa.float64()
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _as_double(f.type)) for f in dtype])
    if pa.types.is_list(dtype):
        return pa.list_(_as_double(dtype.value_type))
    return dtype


def _target(contract: pa.StructType, typed: pa.StructType | None) -> pa.StructType:
    """Contract fields first with their contract types, then the file's own, numbers double."""
    rest = {f.name: f.type for f in typed or []}
    fields = []
    for field in contract:
        dtype, own = field.type, rest.pop(field.name, None)
        if pa.types.is_struct(dtype):
            dtype = _target(dtype, own)
        fields.append(pa.field(field.name, dtype))
    return pa.struct(fields + [pa.field(name, _as_double(t)) for name, t in rest.items()])


def _conform(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``arr`` as ``target``: struct fields by name (missing ones null), leaves cast."""
    source = arr.type
    if source.equals(target):
        return arr
    if pa.types.is_null(source):
        return pa.nulls(len(arr), target)
    mask = arr.is_null() if arr.null_count else None
    if pa.types.is_struct(target):
        children = dict(zip(source.names, arr.flatten(), strict=True))
        arrays = [
            _conform(children[f.name], f.type) if f.name in children else pa.nulls(len(arr), f.type)
            for f in target
        ]
        return pa.StructArray.from_arrays(arrays, fields=list(target), mask=mask)
    if pa.types.is_list(target):
        offsets = pc.subtract(arr.offsets, arr.offsets[0])
        values = _conform(arr.flatten(), target.value_type)
        return pa.ListArray.from_arrays(offsets, values, type=target, mask=mask)
    # int64 -> double rounds integers beyond 2**53, as the JSON reader of any consumer would
    return arr.cast(target, safe=not pa.types.is_integer(source))


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


def convert(items: Iterable[Item]) -> tuple[pa.Table | None, list[tuple[Item, str]]]:
    """Items -> (the bronze table without lineage, or None; the rejected items with reasons)."""
    builder = _Builder()
    chunk: list[Item] = []
    with _gc_paused():
        for item in items:
            chunk.append(item)
            if len(chunk) >= CHUNK_ROWS:
                builder.add(chunk)
                chunk = []
        builder.add(chunk)
        del chunk
        table = builder.finish()
    return table, sorted(builder.rejected, key=lambda pair: pair[0].index)


def with_lineage(
    table: pa.Table, *, ingestion_timestamp: dt.datetime, source_bucket: str, source_file: str
) -> pa.Table:
    rows = table.num_rows
    values = (ingestion_timestamp.astimezone(dt.UTC), source_bucket, source_file)
    for field, value in zip(LINEAGE, values, strict=True):
        table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), rows))
    return table


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Snappy Parquet in memory; the same table always gives the same bytes."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()
