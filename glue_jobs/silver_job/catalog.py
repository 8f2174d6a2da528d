"""The job keeps its own Glue Data Catalog entries: a step of the commit protocol, after the
partitions are replaced and before the bookmark moves (docs/commit-protocol.md).

For each table of the intent (silver, quarantine) it registers the partitions the run wrote
that the catalog lacks, and appends the columns the run's Parquet has and the table lacks, with
their Hive types. It never drops or retypes a column, and writes nothing when nothing changed,
so replaying the step after a kill gives the same catalog. Glue APIs only: GetTable,
UpdateTable, BatchCreatePartition, GetPartitions. boto3 is imported only when a catalog is
configured (Glue ships it; a local run without a catalog needs none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote

from pyspark.sql import types as T

logger = logging.getLogger("silver_consolidation")

# What TableInput accepts of a GetTable answer (botocore's TableInput shape); the rest of the
# Table (CatalogId, CreateTime, DatabaseName, UpdateTime, VersionId, ...) is read-only and
# boto3 refuses it. UpdateTable replaces the table whole, so every one of these goes back.
TABLE_INPUT_KEYS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
    "ViewDefinition",
)
BATCH_CREATE_MAX = 100  # BatchCreatePartition's PartitionInputList limit
EXPRESSION_MAX = 2048  # GetPartitions' Expression limit

_SCALARS = {
    T.StringType: "string",
    T.BooleanType: "boolean",
    T.ByteType: "tinyint",
    T.ShortType: "smallint",
    T.IntegerType: "int",
    T.LongType: "bigint",
    T.FloatType: "float",
    T.DoubleType: "double",
    T.DateType: "date",
    T.TimestampType: "timestamp",
    T.TimestampNTZType: "timestamp",
    T.BinaryType: "binary",
}


def hive_type(dtype: T.DataType) -> str:
    """The Hive/Athena type of a Spark type, as Glue stores it (`array<struct<a:double>>`).

    Raises ValueError for a type Parquet or Athena cannot hold (void, intervals).
    """
    for spark_type, name in _SCALARS.items():
        if type(dtype) is spark_type:
            return name
    if isinstance(dtype, T.DecimalType):
        return f"decimal({dtype.precision},{dtype.scale})"
    if isinstance(dtype, T.CharType):
        return f"char({dtype.length})"
    if isinstance(dtype, T.VarcharType):
        return f"varchar({dtype.length})"
    if isinstance(dtype, T.ArrayType):
        return f"array<{hive_type(dtype.elementType)}>"
    if isinstance(dtype, T.MapType):
        return f"map<{hive_type(dtype.keyType)},{hive_type(dtype.valueType)}>"
    if isinstance(dtype, T.StructType):
        fields = ",".join(f"{f.name}:{hive_type(f.dataType)}" for f in dtype.fields)
        return f"struct<{fields}>"
    raise ValueError(f"no Hive type for the Spark type {dtype.simpleString()}")


def table_columns(schema: T.StructType, partition_cols: tuple[str, ...]) -> list[list[str]]:
    """[name, Hive type] of each data column of a written table, in its schema's order."""
    skip = {c.lower() for c in partition_cols}
    return [[f.name, hive_type(f.dataType)] for f in schema.fields if f.name.lower() not in skip]


def partition_values(part: str, keys: list[str]) -> list[str]:
    """`event_year=2025/event_month=10/event_day=29` -> ["2025", "10", "29"], in the order of
    the table's partition keys (which must be the folder's)."""
    pairs = [segment.split("=", 1) for segment in part.split("/")]
    names = [unquote(name) for name, _ in pairs]
    if [n.lower() for n in names] != [k.lower() for k in keys]:
        raise ValueError(f"partition folder {part!r} does not match the partition keys {keys}")
    return [unquote(value) for _, value in pairs]


def _same_location(a: str, b: str) -> bool:
    def norm(path: str) -> str:
        path = path.rstrip("/")
        for prefix in ("s3a://", "s3n://"):
            if path.startswith(prefix):
                path = "s3://" + path[len(prefix) :]
        return path.removeprefix("file://")

    return norm(a) == norm(b)


@dataclass
class CatalogResult:
    """What one catalog update changed, per table (logical name: silver, quarantine)."""

    partitions_registered: dict[str, list[str]]
    columns_added: dict[str, list[str]]


class Catalog:
    """The job's catalog entries: one database, a catalog table per logical table.

    `tables` maps the manifest's table names (silver, quarantine) to catalog table names.
    """

    def __init__(self, client, database: str, tables: dict[str, str]) -> None:
        self.client, self.database, self.tables = client, database, tables

    @classmethod
    def connect(cls, database: str, tables: dict[str, str]) -> Catalog:
        """A Glue client with the default credentials and region (the job role's on Glue;
        locally AWS_* variables, AWS_ENDPOINT_URL_GLUE for a local Glue API)."""
        import boto3  # lazily: only a run with a catalog needs it

        return cls(boto3.client("glue"), database, tables)

    def update(self, tables: list[dict], table_paths: dict[str, str]) -> CatalogResult:
        """Brings each of the intent's tables up to what it staged: columns, then partitions
        (so that new partitions get the table's new columns)."""
        result = CatalogResult({}, {})
        for entry in tables:
            logical = entry["table"]
            if logical not in self.tables:
                continue
            name = self.tables[logical]
            table = self._get_table(name)
            location = table.get("StorageDescriptor", {}).get("Location", "")
            if not _same_location(location, table_paths[logical]):
                raise ValueError(
                    f"catalog table {self.database}.{name} is at {location!r}, but the job writes"
                    f" {logical} to {table_paths[logical]!r}; fix the table or the job's paths"
                )
            added = self._add_columns(table, entry.get("columns") or [])
            if added:
                table = self._get_table(name)
                result.columns_added[logical] = added
            registered = self._register(table, sorted(entry["partitions"]))
            if registered:
                result.partitions_registered[logical] = registered
        return result

    def _get_table(self, name: str) -> dict:
        try:
            return self.client.get_table(DatabaseName=self.database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException as exc:
            raise ValueError(
                f"catalog table {self.database}.{name} does not exist (Terraform creates it)"
            ) from exc

    def _add_columns(self, table: dict, columns: list[list[str]]) -> list[str]:
        """Appends the columns the table lacks (names compare case-insensitively, as Glue and
        Athena resolve them); an existing column keeps its type, even when it differs."""
        descriptor = table.get("StorageDescriptor", {})
        existing = {c["Name"].lower(): c.get("Type") for c in descriptor.get("Columns", [])}
        existing |= {c["Name"].lower(): c.get("Type") for c in table.get("PartitionKeys", [])}
        new = []
        for name, dtype in columns:
            known = existing.get(name.lower())
            if known is None and name.lower() not in existing:
                new.append({"Name": name, "Type": dtype})
                existing[name.lower()] = dtype
            elif known != dtype:
                logger.warning(
                    "catalog column %s.%s is %s, the run wrote %s; the catalog keeps its type",
                    table["Name"],
                    name,
                    known,
                    dtype,
                )
        if not new:
            return []
        table_input = {key: table[key] for key in TABLE_INPUT_KEYS if key in table}
        table_input["StorageDescriptor"] = {
            **descriptor,
            "Columns": [*descriptor.get("Columns", []), *new],
        }
        params = {"DatabaseName": self.database, "TableInput": table_input, "SkipArchive": True}
        if table.get("VersionId"):  # refused if the table changed since GetTable
            params["VersionId"] = table["VersionId"]
        self.client.update_table(**params)
        return [c["Name"] for c in new]

    def _existing(self, table: dict, values: list[list[str]]) -> set[tuple[str, ...]]:
        """Which of these partitions the table has: GetPartitions with an expression naming
        them, in as few calls as the expression's length allows."""
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        found: set[tuple[str, ...]] = set()
        clauses = [
            "(" + " AND ".join(f"{k} = '{v}'" for k, v in zip(keys, vs, strict=True)) + ")"
            for vs in values
        ]
        batch: list[str] = []
        for clause in [*clauses, None]:
            if clause is not None and len(" OR ".join([*batch, clause])) <= EXPRESSION_MAX:
                batch.append(clause)
                continue
            if batch:
                pages = self.client.get_paginator("get_partitions").paginate(
                    DatabaseName=self.database,
                    TableName=table["Name"],
                    Expression=" OR ".join(batch),
                    ExcludeColumnSchema=True,
                )
                found |= {tuple(p["Values"]) for page in pages for p in page["Partitions"]}
            batch = [clause]
        return found

    def _register(self, table: dict, parts: list[str]) -> list[str]:
        """Creates the partitions the table lacks, each at its folder under the table's
        location with the table's storage descriptor; AlreadyExists (a crawler, or an earlier
        attempt of this step) counts as registered."""
        keys = [k["Name"] for k in table.get("PartitionKeys", [])]
        values = {part: partition_values(part, keys) for part in parts}
        have = self._existing(table, list(values.values()))
        missing = [part for part in parts if tuple(values[part]) not in have]
        descriptor = table.get("StorageDescriptor", {})
        root = descriptor.get("Location", "").rstrip("/")
        registered = []
        for start in range(0, len(missing), BATCH_CREATE_MAX):
            chunk = missing[start : start + BATCH_CREATE_MAX]
            inputs = [
                {
                    "Values": values[part],
                    "StorageDescriptor": {**descriptor, "Location": f"{root}/{part}/"},
                }
                for part in chunk
            ]
            answer = self.client.batch_create_partition(
                DatabaseName=self.database, TableName=table["Name"], PartitionInputList=inputs
            )
            failed = [
                e
                for e in answer.get("Errors", [])
                if e.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException"
            ]
            if failed:
                detail = failed[0]["ErrorDetail"]
                raise RuntimeError(
                    f"could not register {len(failed)} partition(s) of {table['Name']}, e.g."
                    f" {failed[0]['PartitionValues']}: {detail.get('ErrorCode')}:"
                    f" {detail.get('ErrorMessage')}"
                )
            registered += chunk
        return registered
