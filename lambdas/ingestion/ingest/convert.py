"""Records -> one bronze Arrow table, and the records that cannot go there, each with a reason.

Each record is judged in one walk of its values, in file order (``_Builder``): the contract's
types (``contract.check_field``), then what pyarrow does not check, or cannot say of one
record: one kind of JSON value per field in the file (the first record to give a field a value
fixes its kind), finite numbers, the nesting depth, and names the silver job can flatten (no
letter-case twins, backticks or lineage names, none of the job's own columns, no two paths
joined by ``_`` into one column). A rejected record fixes no kind and takes no name, so the
outcome does not depend on how the records are chunked. pyarrow infers the kept records' types
(``pa.array``, a chunk at a time) and merges them (``pa.unify_schemas``, permissive); a chunk
it still refuses (a lone surrogate) is halved down to the record it refuses. In the table,
contract columns come first with their contract types, the others by name, every other number
a double, and a field without any typed value in the file's bronze rows (only null, ``[]``,
``{}``) is left out: any guessed type would clash with the next file's.
"""

import datetime as dt
import gc
import itertools
from collections.abc import Iterable, Iterator
from math import isfinite

import pyarrow as pa
import pyarrow.parquet as pq

from ingest import contract
from ingest.contract import EXACT_INT, INT64, dotted
from ingest.payload import Item

# Records are converted in chunks, so that at most one chunk of parsed dicts is alive at once.
CHUNK_ROWS = 4096

_CONTRACT = pa.struct(list(contract.V1_CONTRACT))
_LINEAGE_NAMES = [name.casefold() for name in contract.LINEAGE.names]
_JOB_COLUMNS = {name.casefold() for name in contract.JOB_COLUMNS}
# UnicodeEncodeError: a lone surrogate (JSON's \ud800 escape), which UTF-8 cannot hold
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError)
# The reason a record gets when it has several: within a kind, the first field's in the walk
_PRIORITY = ("contract", "depth", "kind in record", "kind in file", "name", "number")
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
    """What the walk of one record found: the kinds, names and columns it would add to the
    file's, its reasons by kind, and whether it holds integers a double cannot hold exactly."""

    def __init__(self) -> None:
        self.kinds: dict[Path, str] = {}
        self.names: dict[tuple[Path, str], str] = {}
        self.columns: dict[str, Path] = {}
        self.reasons: dict[str, str] = {}
        self.large_ints = False

    def reason(self, kind: str, text: str | None) -> None:
        if text:
            self.reasons.setdefault(kind, text)


class _Builder:
    def __init__(self) -> None:
        self.kinds: dict[Path, str] = {}  # the kind of the bronze values at each path
        self.names: dict[tuple[Path, str], str] = {}  # (parent, casefolded name) -> the name
        self.columns: dict[str, Path] = {name: (name,) for name in _LINEAGE_NAMES}
        for path, _, column in _fields(_CONTRACT):
            self.names[(path[:-1], path[-1].casefold())] = path[-1]
            if column:
                self.columns["_".join(path).casefold()] = path
        self.chunks: list[pa.StructArray] = []
        self.rejected: list[tuple[Item, str]] = []

    def add(self, items: list[Item]) -> None:
        """Judges the records and converts those kept. Where pyarrow refuses them, the file's
        kinds and names are put back as they were and each half is added in turn."""
        state = dict(self.kinds), dict(self.names), dict(self.columns)
        verdicts = [(item, *self._judge(item)) for item in items]
        try:
            arr = pa.array([value for _, reason, value in verdicts if reason is None])
        except _ARROW_ERRORS as exc:
            self.kinds, self.names, self.columns = state
            if len(items) > 1:
                self.add(items[: len(items) // 2])
                self.add(items[len(items) // 2 :])
                return
            verdicts, arr = [(items[0], f"record cannot be converted to Arrow: {exc}", None)], []
        self.rejected += [(item, reason) for item, reason, _ in verdicts if reason]
        if len(arr):
            self.chunks.append(arr)

    def _judge(self, item: Item) -> tuple[str | None, dict | None]:
        """(why the record cannot go to bronze, None; or None, the record as pyarrow takes it);
        a record kept adds its kinds and names to the file's."""
        if item.reason:
            return item.reason, None
        found = _Found()
        self._object(item.value, contract.SPEC, (), True, found)
        if found.reasons:
            return found.reasons[min(found.reasons, key=_PRIORITY.index)], None
        value = item.value
        if found.large_ints:  # pyarrow refuses them beyond int64 or beside a fraction
            try:
                value = contract.widen_large_ints(value)
            except OverflowError as exc:
                return f"record cannot be converted to Arrow: {exc}", None
        self.kinds.update(found.kinds)
        self.names.update(found.names)
        self.columns.update(found.columns)
        return None, value

    def _object(self, value: dict, spec: dict, path: Path, column: bool, found: _Found) -> bool:
        """Judges the fields of an object (``spec``: the contract's part of them); whether it
        holds a typed value (not only null, ``[]`` or ``{}``)."""
        typed = False
        for name, inner in value.items():
            if inner is None:
                continue
            kind, vtype = spec.get(name), type(inner)
            if vtype is kind:  # a contract field of its type (a contract object's is a dict)
                if kind is str or (isfinite(inner) if kind is float else inner in INT64):
                    typed = True
                    continue
            elif kind is float and vtype is int and -EXACT_INT <= inner <= EXACT_INT:
                typed = True
                continue
            if kind is None:
                self._name((*path, name), found)
                typed = self._value(inner, (*path, name), column, found) or typed
            elif type(kind) is not dict:
                found.reason("contract", contract.check_field(value, name, kind, (*path, name)))
                typed = True
            elif vtype is dict:
                typed = self._object(inner, kind, (*path, name), column, found) or typed
            else:
                found.reason("contract", contract.wrong((*path, name), dict, inner))
        return typed

    def _value(self, value: object, path: Path, column: bool, found: _Found) -> bool:
        """Judges a value outside the contract that is not null; whether it holds a typed one."""
        if len(path) > contract.MAX_NESTING_DEPTH:  # pyarrow's time is quadratic in the depth
            depth = contract.MAX_NESTING_DEPTH
            found.reason("depth", f"nested deeper than {depth} levels (at field {dotted(path)!r})")
            return False
        kind = contract.json_type(value)
        self._kind(path, kind, found)
        if kind == "object":
            return self._object(value, {}, path, column, found)
        if kind == "array":
            items = (self._value(v, (*path, None), False, found) for v in value if v is not None)
            typed = any([*items])  # every item judged
        else:
            typed = True
            if type(value) is float and not isfinite(value):
                found.reason("number", f"field {dotted(path)!r}: {value!r} is not a finite number")
            elif type(value) is int and abs(value) > EXACT_INT:
                found.large_ints = True
        if column and typed:
            self._column(path, found)
        return typed

    def _kind(self, path: Path, kind: str, found: _Found) -> None:
        if (first := found.kinds.setdefault(path, kind)) != kind:
            found.reason("kind in record", _incompatible(path, first, kind))
        elif (known := self.kinds.get(path, kind)) != kind:
            found.reason("kind in file", _incompatible(path, known, kind))

    def _name(self, path: Path, found: _Found) -> None:
        name, key = path[-1], (path[:-1], path[-1].casefold())
        if (twin := self.names.get(key) or found.names.setdefault(key, name)) != name:
            found.reason(
                "name",
                f"fields {dotted((*path[:-1], twin))!r} and {dotted(path)!r} differ only in "
                "letter case (ambiguous in Spark, Glue and Athena)",
            )
        elif "`" in name:
            found.reason(
                "name",
                f"field name {dotted(path)!r} contains a backtick, the quote character of Spark "
                "column paths",
            )
        elif len(path) == 1 and key[1] in _LINEAGE_NAMES:
            found.reason("name", f"field {name!r} collides with the bronze lineage column")

    def _column(self, path: Path, found: _Found) -> None:
        flat = "_".join(path)  # type: ignore[arg-type]  # no None outside arrays
        key = flat.casefold()
        if key in _JOB_COLUMNS:
            found.reason(
                "name",
                f"field {dotted(path)!r} becomes the column {flat!r}, which the silver job "
                "fills itself",
            )
        elif (other := self.columns.get(key) or found.columns.setdefault(key, path)) != path:
            found.reason(
                "name",
                f"fields {dotted(other)!r} and {dotted(path)!r} both become the column "
                f"{flat[:80]!r} when the silver job flattens structs with '_'",
            )


def _incompatible(path: Path, first: str, second: str) -> str:
    return f"field {dotted(path)!r} holds incompatible types: {first} and {second}"


def _is_typed(dtype: pa.DataType) -> bool:
    if is_struct(dtype):
        return any(_is_typed(f.type) for f in dtype)
    return _is_typed(dtype.value_type) if is_list(dtype) else not pa.types.is_null(dtype)


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
    its fields in the same order), leaves cast; a field without any value in the chunk is null,
    whatever its type there."""
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
    schemas = [pa.schema(list(chunk.type)) for chunk in builder.chunks]
    merged = pa.unify_schemas(schemas, promote_options="permissive")  # the kinds agree
    target = _target(pa.struct(list(merged)), _CONTRACT)
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
