"""Records -> one bronze Arrow table, and the records that cannot go there, each with a reason.

pyarrow infers and converts each chunk of records (``pa.array``) and merges the chunks' types
(``pa.unify_schemas``, permissive). Checked here, as pyarrow does not: the contract's types
(``contract.check_record``), finite numbers, names the silver job can flatten (no letter-case
twins, backticks or lineage names, no two paths joined by ``_`` into one column). A chunk that
pyarrow refuses, or whose types clash with the earlier chunks', is halved until its pieces
convert, down to single records: the first record to give a field a type fixes it for the
file. Where a record clashed, a later chunk's record with another kind of value there is
rejected before the conversion (which would only find it again, by halving the chunk). In the
table, contract columns come first with their contract types, the others by name, every other
number a double, and a field without any typed value in the file's bronze rows (only null,
``[]``, ``{}``) is left out: any guessed type would clash with the next file's.
"""

import datetime as dt
import gc
import itertools
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest import contract
from ingest.contract import dotted
from ingest.payload import Item

# Records are converted in chunks, so that at most one chunk of parsed dicts is alive at once.
CHUNK_ROWS = 4096

_CONTRACT = pa.struct(list(contract.V1_CONTRACT))
_LINEAGE_NAMES = [name.casefold() for name in contract.LINEAGE.names]
_JOB_COLUMNS = {name.casefold() for name in contract.JOB_COLUMNS}
# UnicodeEncodeError: a lone surrogate (JSON's \ud800 escape), which UTF-8 cannot hold
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)
Path = tuple[str | None, ...]  # field names; None steps into a list's elements
is_struct, is_list = pa.types.is_struct, pa.types.is_list
# The JSON kind of the values of an inferred type, by type id (as ``contract.json_type`` names
# them): any other is a number.
_KINDS = {pa.struct([]).id: "object", pa.list_(pa.null()).id: "array"}
_KINDS.update({pa.bool_().id: "boolean", pa.string().id: "string"})


def _clash(dtype: pa.DataType | None, values: list, path: Path = ()) -> tuple | None:
    """Where the values of one field in one record cannot share a type with each other and with
    ``dtype``, the field's type in the file so far (None: it has none): the path of the first
    field that clashes and its two kinds; or None. pyarrow says only that it could not convert
    or merge them."""
    values = [v for v in values if v is not None]
    dtype = None if dtype is None or pa.types.is_null(dtype) else dtype  # null takes any type
    kinds = [] if dtype is None else [_KINDS.get(dtype.id, "number")]
    kinds = list(dict.fromkeys(kinds + [contract.json_type(v) for v in values]))
    if len(kinds) > 1:
        return path, kinds[0], kinds[1]
    if kinds == ["object"]:
        fields = {} if dtype is None else {f.name: f.type for f in dtype}
        found = (
            _clash(fields.get(name), [v.get(name) for v in values], (*path, name))
            for name in dict.fromkeys(name for v in values for name in v)
        )
        return next(filter(None, found), None)
    if kinds == ["array"]:
        item = None if dtype is None else dtype.value_type
        return _clash(item, [x for v in values for x in v], (*path, None))
    return None


def _clash_reason(dtype: pa.DataType, value: dict) -> tuple[Path | None, str]:
    """(the path, the reason) of the first clash within the record ``value``, else of the first
    with the types ``dtype``; (None, "") if there is none."""
    if found := _clash(None, [value]) or _clash(dtype, [value]):
        path, first, second = found
        return path, f"field {dotted(path)!r} holds incompatible types: {first} and {second}"
    return None, ""


def _kind_at(dtype: pa.DataType, path: Path) -> str | None:
    """The JSON kind of the values of the field at ``path`` of ``dtype``; None if it has none."""
    for name in path:
        if name is None and is_list(dtype):
            dtype = dtype.value_type
        elif name is not None and is_struct(dtype) and dtype.get_field_index(name) >= 0:
            dtype = dtype.field(name).type
        else:
            return None
    return None if pa.types.is_null(dtype) else _KINDS.get(dtype.id, "number")


def _values_at(value: object, path: Path) -> Iterator:
    """The values at ``path`` in a record's ``value`` (where its parents are objects and arrays
    as the path says)."""
    if not path:
        yield value
    elif path[0] is None and type(value) is list:
        for item in value:
            yield from _values_at(item, path[1:])
    elif path[0] is not None and type(value) is dict and path[0] in value:
        yield from _values_at(value[path[0]], path[1:])


def _unify(old: pa.StructType, new: pa.StructType) -> pa.StructType:
    schemas = [pa.schema(list(old)), pa.schema(list(new))]
    return pa.struct(list(pa.unify_schemas(schemas, promote_options="permissive")))


def _typed(arr: pa.Array) -> pa.DataType | None:
    """The array's type without the fields that hold no value at all (None if it holds none).
    An empty object or array keeps its kind (``struct<>``, ``list<null>``): a scalar in its
    field is then a clash of types, and ``_target`` leaves it out if nothing else types it."""
    if arr.null_count == len(arr):
        return None
    if is_struct(arr.type):
        children = zip(arr.type, arr.flatten(), strict=True)
        types = ((f.name, _typed(child)) for f, child in children)
        return pa.struct([(name, t) for name, t in types if t is not None])  # struct<> is falsy
    if is_list(arr.type):
        item = _typed(arr.flatten())
        return pa.list_(pa.null() if item is None else item)
    return arr.type


def _is_typed(dtype: pa.DataType) -> bool:
    if is_struct(dtype):
        return any(_is_typed(f.type) for f in dtype)
    return _is_typed(dtype.value_type) if is_list(dtype) else not pa.types.is_null(dtype)


def _fields(dtype: pa.StructType, path: Path = (), column: bool = True) -> Iterator[tuple]:
    """(path, type, whether it is a silver column) for every field, depth first. The job makes a
    column of every field outside arrays that is not a struct; an array stays whole."""
    for field in dtype:
        here, inner = (*path, field.name), field.type
        yield here, inner, column and not is_struct(inner)
        while is_list(inner):
            here, inner = (*here, None), inner.value_type
        if is_struct(inner):
            yield from _fields(inner, here, column and here[-1] is not None)


def _name_problems(known: pa.StructType, new: pa.StructType) -> dict[Path, tuple]:
    """The paths of ``new`` that the silver job could not take beside the contract, the lineage
    and the ``known`` fields, each with (the reason; the path of ``new`` it clashes with, or
    None: with none, or with a field of the others; whether it clashes as a column, which only
    a typed value makes)."""
    cased: dict[tuple[Path, str], str] = {}
    columns = {name: (name,) for name in _LINEAGE_NAMES}
    problems: dict[Path, tuple] = {}
    fixed: tuple[set, set] = (set(), set())
    for dtype in (_CONTRACT, known, new):
        if dtype is new:  # the names and the columns that the others took
            fixed = {(*parent, name) for (parent, _), name in cased.items()}, {*columns.values()}
        for path, inner, column in _fields(dtype):
            name, flat, other, typed = path[-1], "_".join(path) if column else "", None, False
            if (twin := cased.setdefault((path[:-1], name.casefold()), name)) != name:
                other = (*path[:-1], twin)
                reason = (
                    f"fields {dotted(other)!r} and {dotted(path)!r} differ only in letter case "
                    "(ambiguous in Spark, Glue and Athena)"
                )
            elif "`" in name:
                reason = (
                    f"field name {dotted(path)!r} contains a backtick, the quote character of "
                    "Spark column paths"
                )
            elif len(path) == 1 and name.casefold() in _LINEAGE_NAMES:
                reason = f"field {name!r} collides with the bronze lineage column"
            elif column and _is_typed(inner) and flat.casefold() in _JOB_COLUMNS:
                typed = True
                reason = (
                    f"field {dotted(path)!r} becomes the column {flat!r}, which the silver job "
                    "fills itself"
                )
            elif (
                column
                and _is_typed(inner)
                and ((other := columns.setdefault(flat.casefold(), path)) != path)
            ):
                typed = True
                reason = (
                    f"fields {dotted(other)!r} and {dotted(path)!r} both become the column "
                    f"{flat[:80]!r} when the silver job flattens structs with '_'"
                )
            else:
                continue
            problems.setdefault(path, (reason, None if other in fixed[typed] else other, typed))
    return problems


def _nodes(arr: pa.Array, path: Path = (), rows: np.ndarray | None = None) -> Iterator[tuple]:
    """(path, array, the row of each of its values) for ``arr`` and every field below it."""
    rows = np.arange(len(arr)) if rows is None else rows
    yield path, arr, rows
    if is_struct(arr.type):
        for field, child in zip(arr.type, arr.flatten(), strict=True):
            yield from _nodes(child, (*path, field.name), rows)
    elif is_list(arr.type):
        parents = pc.list_parent_indices(arr).to_numpy()
        yield from _nodes(arr.flatten(), (*path, None), rows[parents])


def _holding(arr: pa.Array, rows: np.ndarray, typed: bool = True) -> np.ndarray:
    """The rows (``rows``: the row of each value of ``arr``) with a value in ``arr``; if
    ``typed``, with a typed one (not only null, ``[]`` or ``{}``)."""
    if typed and is_struct(arr.type):
        return np.concatenate([rows[:0], *(_holding(child, rows) for child in arr.flatten())])
    if typed and is_list(arr.type):
        return _holding(arr.flatten(), rows[pc.list_parent_indices(arr).to_numpy()])
    return rows[pc.indices_nonzero(arr.is_valid()).to_numpy()]


class _Builder:
    # Where records clashed, at most this many: a record whose value there is of another kind
    # than the file's is rejected before the conversion, which would only find it again.
    MAX_DRIFTING = 16
    # At most this many cuts of a file's records where their names clash (each costs a check,
    # ~1 ms): past them, a chunk's records are judged together again, a clash of two decided by
    # the order of the fields, the names of a rejected record included.
    MAX_CUTS = 16

    def __init__(self) -> None:
        self.type = pa.struct([])  # the typed part of all bronze rows so far
        self.chunks: list[pa.StructArray] = []
        self.rejected: list[tuple[Item, str]] = []
        self.drifting: dict[Path, None] = {}  # the paths where records clashed, in order
        self.cuts = 0

    def add(self, items: list[Item]) -> None:
        good = []
        kinds = {path: kind for path in self.drifting if (kind := _kind_at(self.type, path))}
        for item in items:
            reason = item.reason or contract.check_record(item.value)
            reason = reason or (item.start < 0 and contract.too_deep(item.value))
            if reason := reason or (kinds and self._drifted(item.value, kinds)):
                self.rejected.append((item, reason))
            else:
                good.append(item)
        if not good:
            return
        try:
            arr = pa.array([item.value for item in good])
            _unify(self.type, typed := _typed(arr))
        except _ARROW_ERRORS:
            arr, good = self._bisect(good)
            if not good:
                return
            typed = _typed(arr)
        self._take(arr, good, typed)

    def _take(self, arr: pa.StructArray, good: list[Item], typed: pa.DataType) -> None:
        """Adds the converted records to the file but those with a name the silver job could not
        take or a number that is not finite. Where a name clashes with another record's, the
        records are cut after the first of the two and the parts judged in turn: a rejected
        record takes no name, and the first record to give a name keeps it, whatever the
        chunks. A clash within a record, or with the file's names, needs no cut."""
        names = _name_problems(self.type, typed)  # a field holding only null is no column
        others = {other for _, other, _ in names.values()}  # the paths that problems clash with
        held: dict[Path, np.ndarray] = {}  # the rows with a typed value there
        marked: dict[Path, np.ndarray] = {}  # the rows that each problem rejects
        misnamed: dict[int, str] = {}
        non_finite: dict[int, str] = {}
        for path, node, rows in _nodes(arr):
            if path in others:
                held[path] = _holding(node, rows)
            if path in names:
                marked[path] = _holding(node, rows, typed=names[path][2])
                for row in marked[path]:
                    misnamed.setdefault(row, names[path][0])
            elif pa.types.is_floating(node.type) and (finite := pc.is_finite(node)).false_count:
                for i in pc.indices_nonzero(pc.invert(finite)).to_numpy():
                    reason = f"field {dotted(path)!r}: {node[i].as_py()!r} is not a finite number"
                    non_finite.setdefault(rows[i], reason)
        first = [  # where a record's name clashes with another's, the first record with either
            np.concatenate([marked[path], held[other]]).min()
            for path, (_, other, _) in names.items()
            if other and not np.isin(marked[path], held[other]).all()
        ]
        if first and len(good) > 1 and self.cuts < self.MAX_CUTS:
            self.cuts, cut = self.cuts + 1, min(min(first) + 1, len(good) - 1)
            for part in (slice(cut), slice(cut, None)):
                piece = pa.concat_arrays([arr[part]])  # no slice: _conform rebuilds its lists
                self._take(piece, good[part], _typed(piece))
            return
        if bad := {**non_finite, **misnamed}:  # a name's reason first: the number may be in it
            self.rejected += [(good[i], reason) for i, reason in bad.items()]
            keep = np.ones(len(good), dtype=bool)
            keep[list(bad)] = False
            arr = arr.filter(pa.array(keep))
        if len(arr):  # cannot fail: the types were merged once above
            self.type = _unify(self.type, _typed(arr) if bad else typed)
            self.chunks.append(arr)

    def _drifted(self, value: dict, kinds: dict[Path, str]) -> str:
        """Why the record clashes with the file's types at a path where an earlier record did
        (``kinds``: the kind of the file's values there), or "". A drifting field costs the
        bisection of a chunk once in a file, not in every chunk (the reason names the first
        field that clashes with the earlier chunks' types)."""
        for path, kind in kinds.items():
            values = _values_at(value, path)
            if any(v is not None and contract.json_type(v) != kind for v in values):
                return _clash_reason(self.type, value)[1]
        return ""

    def _bisect(self, good: list[Item]) -> tuple[pa.StructArray | None, list[Item]]:
        """The records whose types agree with the file's so far and with the earlier ones' (their
        array, None if there is none; and the records); each other one is rejected, naming the
        field that clashes. A piece that pyarrow refuses, or whose types clash, is halved, the
        left half first, down to single records: the first record to give a field a type still
        fixes it, and 1 % of clashing records cost a chunk ~600 conversions of pieces, not one
        per record (~440 us each). A piece of at most 4 records is taken record by record: as
        many conversions as halving it, fewer when all clash (at worst 1.5 per record). Integers a
        double cannot hold exactly are widened first (pyarrow refuses them beyond int64 or
        beside a fraction, also when the fraction is in another piece; outside the contract's
        integer fields they are doubles in bronze anyway)."""
        values = [_widened(item.value) for item in good]
        current, kept, pieces = self.type, [], [(0, len(good))]
        while pieces:
            start, stop = pieces.pop()
            try:
                if stop - start == 1:  # again, failing as it did, for the reason
                    values[start] = contract.widen_large_ints(good[start].value)
                # null fields take any type: the inferred type merges as its typed part would
                current = _unify(current, pa.array(values[start:stop]).type)
                kept += range(start, stop)
            except _ARROW_ERRORS as exc:
                if stop - start > 4:
                    middle = (start + stop) // 2
                    pieces += [(middle, stop), (start, middle)]  # the left half is taken first
                    continue
                if stop - start > 1:  # as many conversions as halving it, fewer if all clash
                    pieces += [(i, i + 1) for i in reversed(range(start, stop))]
                    continue
                # a clash within the record first: one with the earlier records depends on them
                path, reason = _clash_reason(current, good[start].value)
                if path is not None and len(self.drifting) < self.MAX_DRIFTING:
                    self.drifting[path] = None
                reason = reason or f"record cannot be converted to Arrow: {exc}"
                self.rejected.append((good[start], reason))
        if not kept:
            return None, []
        return pa.array([values[i] for i in kept], type=current), [good[i] for i in kept]


def _widened(value: dict) -> dict:
    """``contract.widen_large_ints(value)``, or ``value`` if an integer in it is beyond the
    largest double (its record is rejected when it is converted alone)."""
    try:
        return contract.widen_large_ints(value)
    except OverflowError:
        return value


def _target(dtype: pa.DataType | None, contract_type: pa.DataType | None = None) -> pa.DataType:
    """The bronze type of a field: the contract's, with a contract struct's fields first (all of
    them), then the file's own typed fields by name (as pyarrow orders a chunk's, so the order
    does not depend on the chunks), every integer outside the contract a double."""
    if contract_type is not None and not is_struct(contract_type):
        return contract_type
    if contract_type is not None or is_struct(dtype):
        own = {f.name: f.type for f in dtype or [] if _is_typed(f.type)}
        fields = [
            pa.field(f.name, _target(own.pop(f.name, None), f.type)) for f in contract_type or []
        ]
        return pa.struct(fields + [pa.field(name, _target(t)) for name, t in sorted(own.items())])
    if is_list(dtype):
        return pa.list_(_target(dtype.value_type))
    return pa.float64() if pa.types.is_integer(dtype) else dtype


def _conform(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``arr`` as ``target``: struct fields by name (pyarrow 20 casts a struct only to one with
    its fields in the same order), leaves cast; a field without any value in the chunk (missing,
    or typed only by a rejected record) is null, whatever its type there."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), target)
    mask = arr.is_null() if arr.null_count else None
    if is_struct(arr.type) and is_struct(target):
        children = dict(zip(arr.type.names, arr.flatten(), strict=True))
        missing = pa.nulls(len(arr))
        arrays = [_conform(children.get(f.name, missing), f.type) for f in target]
        return pa.StructArray.from_arrays(arrays, fields=list(target), mask=mask)
    if is_list(arr.type) and is_list(target):
        values = _conform(arr.values, target.value_type)
        return pa.ListArray.from_arrays(arr.offsets, values, type=target, mask=mask)
    # int64 -> double rounds integers beyond 2**53, as the JSON reader of any consumer would
    return arr.cast(target, safe=not pa.types.is_integer(arr.type))


def convert(items: Iterable[Item]) -> tuple[pa.Table | None, list[tuple[Item, str]]]:
    """Items -> (the bronze table without lineage, or None; the rejected items with reasons)."""
    builder, items, gc_was_enabled = _Builder(), iter(items), gc.isenabled()
    gc.disable()  # parsed JSON holds no reference cycles: the cyclic GC only costs time (~25%)
    try:
        while chunk := list(itertools.islice(items, CHUNK_ROWS)):
            builder.add(chunk)
            del chunk  # before the next chunk is parsed
    finally:
        if gc_was_enabled:
            gc.enable()
    rejected = sorted(builder.rejected, key=lambda pair: pair[0].index)
    if not builder.chunks:
        return None, rejected
    target = _target(builder.type, _CONTRACT)
    batches = [pa.RecordBatch.from_struct_array(_conform(c, target)) for c in builder.chunks]
    return pa.Table.from_batches(batches, schema=pa.schema(list(target))), rejected


def with_lineage(
    table: pa.Table, *, ingestion_timestamp: dt.datetime, source_bucket: str, source_file: str
) -> pa.Table:
    values = (ingestion_timestamp.astimezone(dt.UTC), source_bucket, source_file)
    for field, value in zip(contract.LINEAGE, values, strict=True):
        table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), table.num_rows))
    return table


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Snappy Parquet in memory; the same table always gives the same bytes."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()
