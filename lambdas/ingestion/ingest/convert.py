"""Records -> one bronze Arrow table, and the records that cannot go there, each with a reason.

Each record is judged in one walk of its values, in file order: the contract's types
(``contract.check_field``), then what pyarrow does not check or cannot pin on one record: one
kind of JSON value per field in the file (the first kept record to give a field a value fixes
it), finite numbers, the depth, strings UTF-8 can hold, and names the silver job can flatten
(no letter-case twins, backticks, lineage or job column names, no two paths joined by ``_``
into one column). A rejected record fixes no kind and takes no name, so chunking changes
nothing. pyarrow infers the kept records' types a chunk at a time (``pa.array``) and merges
them (``unify_schemas``); a chunk it still refuses is halved down to the record it refuses. In
the table, contract columns come first with their types, the others by name, every other
number a double; a field with no typed value in the file (only null, ``[]``, ``{}``) is left
out: any guessed type would clash with the next file's.
"""

import datetime as dt
import gc
import itertools
from collections.abc import Iterable, Iterator
from math import isfinite

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import contract, keys
from ingest.contract import EXACT_INT, INT64, dotted
from ingest.payload import Item

CHUNK_ROWS = 4096  # records converted together: at most one chunk of parsed dicts is alive

_CONTRACT = pa.struct(list(contract.V1_CONTRACT))
_LINEAGE = {name.casefold() for name in contract.LINEAGE.names}
_JOB_COLUMNS = {name.casefold() for name in contract.JOB_COLUMNS}
# What pa.array raises on a value the walk let through (none is known: a safety net)
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)
# A record's reason when it has several; within one kind, the walk's first
_PRIORITY = ("contract", "depth", "kind in record", "kind in file", "name", "number", "arrow")
_TWIN = "fields {!r} and {!r} differ only in letter case (ambiguous in Spark, Glue and Athena)"
_FLAT = (
    "fields {!r} and {!r} both become the column {!r} when the silver job flattens structs with '_'"
)
_JOB = "field {!r} becomes the column {!r}, which the silver job fills itself"
_BACKTICK = "field name {!r} contains a backtick, the quote character of Spark column paths"
Path = tuple[str | None, ...]  # field names; None steps into a list's elements
is_struct, is_list = pa.types.is_struct, pa.types.is_list


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


class _Found:
    """What one record's walk found: what it would add to the file's ``seen``, its reasons by
    kind, whether it holds integers a double cannot hold exactly."""

    def __init__(self) -> None:
        self.seen: dict = {}
        self.reasons: dict[str, str] = {}
        self.large_ints = False

    def reason(self, kind: str, text: str | None) -> None:
        if text:
            self.reasons.setdefault(kind, text)


class _Builder:
    def __init__(self) -> None:
        # path -> kind of value; (parent, casefolded name) -> name; casefolded column -> path;
        # ("column", path): its column judged
        self.seen: dict = {name: (name,) for name in _LINEAGE}
        for path, _, column in _fields(_CONTRACT):
            self.seen[path[:-1], path[-1].casefold()] = path[-1]
            if column:
                self.seen["_".join(path).casefold()] = path
        self.chunks: list[pa.StructArray] = []
        self.rejected: list[tuple[Item, str]] = []

    def add(self, items: list[Item]) -> None:
        """Judges the records and converts those kept; where pyarrow refuses them, forgets what
        they added and adds each half in turn."""
        seen = dict(self.seen)
        verdicts = [(item, *self._judge(item)) for item in items]
        try:
            arr = pa.array([value for _, reason, value in verdicts if reason is None])
        except _ARROW_ERRORS as exc:
            self.seen = seen
            if len(items) > 1:
                self.add(items[: len(items) // 2])
                return self.add(items[len(items) // 2 :])
            reason = f"record cannot be converted to Arrow: {str(exc)[:200]}"
            verdicts, arr = [(items[0], reason, None)], []
        # a rejected record keeps only its place and reason: its value is not needed any more
        self.rejected += [(item._replace(value=None), why) for item, why, _ in verdicts if why]
        if len(arr):
            self.chunks.append(arr)

    def _judge(self, item: Item) -> tuple[str | None, dict | None]:
        """(the reason, None) or (None, the record as pyarrow takes it, adding what it saw)."""
        if item.reason:
            return item.reason, None
        found, value = _Found(), item.value
        self._object(value, contract.SPEC, (), True, found)
        if found.reasons:
            return found.reasons[min(found.reasons, key=_PRIORITY.index)], None
        if found.large_ints:  # pyarrow refuses them beyond int64 or beside a fraction
            try:
                value = contract.widen_large_ints(value)
            except OverflowError as exc:
                return f"record cannot be converted to Arrow: {exc}", None
        self.seen.update(found.seen)
        return None, value

    def _object(self, value: dict, spec: dict, path: Path, column: bool, found: _Found) -> bool:
        """Judges an object's fields (``spec``: the contract's part of them); whether it holds a
        typed value (not only null, ``[]`` or ``{}``)."""
        if value and len(path) >= contract.MAX_NESTING_DEPTH:  # its fields are deeper
            return self._too_deep((*path, next(iter(value))), found)
        typed = False  # (the contract's own fields type no column of an unknown field)
        for name, inner in value.items():
            if inner is None:
                continue
            kind, vtype = spec.get(name), type(inner)
            if vtype is kind:  # a contract field of its type (a contract object's is a dict)
                if kind is str:
                    if not inner.isascii():
                        found.reason("arrow", _unencodable(inner))
                    continue
                if isfinite(inner) if kind is float else inner in INT64:
                    continue
            elif kind is float and vtype is int and -EXACT_INT <= inner <= EXACT_INT:
                continue
            here = (*path, name)
            if kind is None and type(name) is not str:  # only a record built in Python
                found.reason("name", f"field name {contract.shown(name)} is not a string")
            elif kind is None:
                if here not in self.seen:  # else its name was judged in an earlier record
                    self._name(here, found)
                typed = self._value(inner, here, column, found) or typed
            elif type(kind) is not dict:
                found.reason("contract", contract.check_field(value, name, kind, here))
            elif vtype is dict:
                self._object(inner, kind, here, column, found)
            else:
                found.reason("contract", contract.wrong(here, dict, inner))
        return typed

    def _value(self, value: object, path: Path, column: bool, found: _Found) -> bool:
        """Judges a value outside the contract, not null; whether it holds a typed one."""
        kind = contract.json_type(value)
        if (first := found.seen.setdefault(path, kind)) != kind:
            found.reason("kind in record", _incompatible(path, first, kind))
        elif (known := self.seen.get(path, kind)) != kind:
            found.reason("kind in file", _incompatible(path, known, kind))
        if kind == "object":
            return self._object(value, {}, path, column, found)
        if kind == "array":
            if value and len(path) >= contract.MAX_NESTING_DEPTH:  # its items are deeper
                return self._too_deep((*path, None), found)
            typed = any(
                [self._value(v, (*path, None), False, found) for v in value if v is not None]
            )
        else:
            typed = True
            if type(value) is float and not isfinite(value):
                found.reason("number", f"field {dotted(path)!r}: {value!r} is not a finite number")
            elif type(value) is str and not value.isascii():
                found.reason("arrow", _unencodable(value))
            found.large_ints |= type(value) is int and abs(value) > EXACT_INT
        if column and typed and ("column", path) not in self.seen:  # a new column of silver
            found.seen["column", path] = True
            flat = "_".join(path)  # type: ignore[arg-type]  # no None outside arrays
            if flat.casefold() in _JOB_COLUMNS:
                found.reason("name", _JOB.format(dotted(path), flat))
            elif (other := self._take(flat.casefold(), path, found)) != path:
                found.reason("name", _FLAT.format(dotted(other), dotted(path), flat[:80]))
        return typed

    def _name(self, path: Path, found: _Found) -> None:
        name = path[-1]
        if (twin := self._take((path[:-1], name.casefold()), name, found)) != name:
            found.reason("name", _TWIN.format(dotted((*path[:-1], twin)), dotted(path)))
        elif "`" in name:
            found.reason("name", _BACKTICK.format(dotted(path)))
        elif len(path) == 1 and name.casefold() in _LINEAGE:
            found.reason("name", f"field {name!r} collides with the bronze lineage column")
        elif not name.isascii():
            found.reason("arrow", _unencodable(name))

    def _take(self, key: object, value: object, found: _Found) -> object:
        """What the file, else the record, has under ``key``: ``value`` if it is the first."""
        return self.seen[key] if key in self.seen else found.seen.setdefault(key, value)

    @staticmethod
    def _too_deep(path: Path, found: _Found) -> bool:
        """Refuses a value at ``path``, deeper than the limit (a null too): pyarrow converts a
        nested value in time quadratic in its depth."""
        depth = contract.MAX_NESTING_DEPTH
        found.reason("depth", f"nested deeper than {depth} levels (at field {dotted(path)!r})")
        return False


def _unencodable(text: str) -> str | None:
    """Why pyarrow would refuse ``text`` (a lone surrogate, which UTF-8 cannot hold), or None:
    found in the walk, it costs no halving of the chunk."""
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        return f"record cannot be converted to Arrow: {exc}"
    return None


def _incompatible(path: Path, first: str, second: str) -> str:
    return f"field {dotted(path)!r} holds incompatible types: {first} and {second}"


def _is_typed(dtype: pa.DataType) -> bool:
    if is_struct(dtype):
        return any(_is_typed(f.type) for f in dtype)
    return _is_typed(dtype.value_type) if is_list(dtype) else not pa.types.is_null(dtype)


def _target(dtype: pa.DataType | None, contract_type: pa.DataType | None = None) -> pa.DataType:
    """A field's bronze type: the contract's, a contract struct's fields first (all of them),
    then the file's typed fields by name, every integer outside the contract a double."""
    if contract_type is not None and not is_struct(contract_type):
        return contract_type
    if contract_type is not None or is_struct(dtype):
        own = {f.name: f.type for f in dtype or [] if _is_typed(f.type)}
        fields = [(f.name, _target(own.pop(f.name, None), f.type)) for f in contract_type or []]
        return pa.struct(fields + [(name, _target(t)) for name, t in sorted(own.items())])
    if is_list(dtype):
        return pa.list_(_target(dtype.value_type))
    return pa.float64() if pa.types.is_integer(dtype) else dtype


def _conform(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``arr`` as ``target``, struct fields by name (pyarrow 20 casts a struct only to one with
    its fields in the same order), a field the chunk lacks null."""
    if arr.null_count == len(arr):
        return pa.nulls(len(arr), target)
    mask = arr.is_null() if arr.null_count else None
    if is_struct(target):
        children = dict(zip(arr.type.names, arr.flatten(), strict=True))
        missing = pa.nulls(len(arr))
        arrays = [_conform(children.get(f.name, missing), f.type) for f in target]
        return pa.StructArray.from_arrays(arrays, fields=list(target), mask=mask)
    if is_list(target):
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
    schemas = [pa.schema(list(chunk.type)) for chunk in builder.chunks]
    merged = pa.unify_schemas(schemas, promote_options="permissive")  # the kinds agree
    target = _target(pa.struct(list(merged)), _CONTRACT)
    batches = [pa.RecordBatch.from_struct_array(_conform(c, target)) for c in builder.chunks]
    return pa.Table.from_batches(batches, schema=pa.schema(list(target))), rejected


def with_lineage(
    table: pa.Table, *, ingestion_timestamp: dt.datetime, source_bucket: str, source_file: str
) -> pa.Table:
    values = (keys.as_utc(ingestion_timestamp), source_bucket, source_file)  # naive: UTC
    for field, value in zip(contract.LINEAGE, values, strict=True):
        table = table.append_column(field, pa.repeat(pa.scalar(value, field.type), table.num_rows))
    return table


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Snappy Parquet in memory; the same table always gives the same bytes."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()
