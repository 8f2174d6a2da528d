"""Schema drift: the bronze files' types, conformed to the types silver already has."""

from __future__ import annotations

import json
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from silver_job.contract import (
    BRONZE_PARTITION_COLS,
    CONTRACT_FLAT_TYPES,
    DERIVED_COLUMNS,
    JOB_FILLED_COLUMNS,
    RESCUED_COL,
    SCHEMA_REGISTRY,
)
from silver_job.files import Files
from silver_job.steps import flatten, quoted_col, union_by_name

logger = logging.getLogger("silver_consolidation")


def read_bronze_groups(spark: SparkSession, paths: list[str]) -> list[DataFrame]:
    """The bronze files as DataFrames of one schema each, flattened: one merged read when the
    files agree, else one read per distinct file schema, so a type conflict never fails a run,
    nor do two files whose paths flatten to one column (``ext.p`` in one, ``ext_p`` in another)."""
    try:
        merged = spark.read.option("mergeSchema", "true").parquet(*paths)
        return [flatten(merged.drop(*BRONZE_PARTITION_COLS))]
    except Exception as exc:  # "Failed to merge ...", COLUMN_ALREADY_EXISTS, SchemaError
        # (letter-case twins of one type merge into one field, spelled as the first file has it)
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        logger.warning("bronze files disagree on types or names, read per schema: %s", first_line)
    by_schema: dict[str, list[str]] = {}
    for path in paths:
        by_schema.setdefault(spark.read.parquet(path).schema.json(), []).append(path)
    groups = [
        spark.read.schema(T.StructType.fromJson(json.loads(key))).parquet(*group)
        for key, group in sorted(by_schema.items())
    ]
    return [flatten(g.drop(*BRONZE_PARTITION_COLS)) for g in groups]


def _type(value: str) -> T.DataType:
    return T._parse_datatype_json_string(value)


def load_registry(files: Files, spark: SparkSession, root: str, silver_path: str) -> dict:
    """Column -> type of every flat bronze column silver holds. Kept beside the manifests; an
    older lake without it gets it from silver's own schema once."""
    path = f"{root}/{SCHEMA_REGISTRY}"
    if files.exists(path):
        return {name: _type(value) for name, value in json.loads(files.read_text(path)).items()}
    if not files.exists(silver_path):
        return {}
    schema = spark.read.option("mergeSchema", "true").parquet(silver_path).schema
    return {f.name: f.dataType for f in schema.fields if f.name not in DERIVED_COLUMNS}


def conform(
    groups: list[DataFrame], registry: dict[str, T.DataType]
) -> tuple[DataFrame, dict[str, T.DataType], list[str]]:
    """One batch with one type per column: silver's type where silver has the column, else the
    type most rows of the batch have (ties: the smaller type name). A value of another type is
    set to null in its column and kept, as JSON, under its column name in `_rescued_data`; so is
    the value of a column named like one the job fills (``JOB_FILLED_COLUMNS``), under its own.
    Names compare case-insensitively, as Spark, Glue and Athena resolve them: ``Tire`` in one
    file is the column ``tire`` of another, spelled as silver spells it, else as the batch's
    groups do (the smallest spelling; a merged read keeps its first file's).

    Returns the batch, the types of every column now known, and the columns with rescued values.
    """
    known = {**registry, **CONTRACT_FLAT_TYPES}
    names = {name.lower(): name for name in known}
    target = {name.lower(): dtype for name, dtype in known.items()}
    filled = {name.lower() for name in JOB_FILLED_COLUMNS}
    candidates: dict[str, dict[str, list[int]]] = {}
    for i, group in enumerate(groups):
        for f in group.schema.fields:
            key = f.name.lower()
            if key not in target and key not in filled:
                candidates.setdefault(key, {}).setdefault(f.dataType.json(), []).append(i)
                names[key] = min(names.get(key, f.name), f.name)
    rows: list[int] = [0] * len(groups)
    if any(len(by_type) > 1 for by_type in candidates.values()):
        rows = [g.count() for g in groups]  # only when a new column's type is disputed
    for key, by_type in sorted(candidates.items()):
        best = min(by_type.items(), key=lambda kv: (-sum(rows[i] for i in kv[1]), kv[0]))
        target[key] = _type(best[0])
    out: DataFrame | None = None
    rescued_names: set[str] = set()
    for group in groups:
        columns, rescued = [], {}  # rescued: its key in `_rescued_data` -> the group's column
        for f in group.schema.fields:
            key = f.name.lower()
            if key in filled:
                rescued[f.name] = f.name
            elif f.dataType == target[key]:
                columns.append(quoted_col(f.name).alias(names[key]))
            else:
                columns.append(F.lit(None).cast(target[key]).alias(names[key]))
                rescued[names[key]] = f.name
        rescued_names.update(rescued)
        if rescued:
            as_json = F.to_json(F.struct(*[quoted_col(n).alias(k) for k, n in rescued.items()]))
            columns.append(F.when(as_json != "{}", as_json).alias(RESCUED_COL))
        else:
            columns.append(F.lit(None).cast("string").alias(RESCUED_COL))
        out = union_by_name(out, group.select(*columns))
    return out, {names[key]: dtype for key, dtype in target.items()}, sorted(rescued_names)
