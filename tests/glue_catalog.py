"""The Glue catalog side of the job's tests: the two tables as Terraform defines them (in
moto's Glue, in-process or its server), and what the catalog and the lake hold, read
independently of the job (Spark for the Parquet schema, the file system for the folders)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from lake import Lake

DATABASE = "car_telemetry_dev"
SILVER_TABLE = "silver_car_telemetry"
QUARANTINE_TABLE = "silver_car_telemetry_quarantine"
CATALOG_CONFIG = {
    "catalog_database": DATABASE,
    "silver_table": SILVER_TABLE,
    "quarantine_table": QUARANTINE_TABLE,
}
CATALOG_ARGV = [arg for name, value in CATALOG_CONFIG.items() for arg in (f"--{name}", value)]
# What terraform/modules/catalog sets on both tables (test_terraform_contract.py checks it).
TABLE_PARAMETERS = {
    "classification": "parquet",
    "compressionType": "none",
    "partition_filtering.enabled": "true",
}
HIVE_PARQUET = "org.apache.hadoop.hive.ql.io.parquet"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def create_tables(glue, lake: Lake) -> None:
    """The database and the two tables, with no columns, as the first `terraform apply`
    leaves them (partition keys, index, parameters, Parquet storage at the lake's paths)."""
    glue.create_database(DatabaseInput={"Name": DATABASE})
    for name, path, keys in (
        (SILVER_TABLE, lake.silver, ("event_year", "event_month", "event_day")),
        (QUARANTINE_TABLE, lake.quarantine, ("ingest_year", "ingest_month", "ingest_day")),
    ):
        glue.create_table(
            DatabaseName=DATABASE,
            TableInput={
                "Name": name,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": dict(TABLE_PARAMETERS),
                "PartitionKeys": [{"Name": k, "Type": "string"} for k in keys],
                "StorageDescriptor": {
                    "Location": f"{path}/",
                    "InputFormat": f"{HIVE_PARQUET}.MapredParquetInputFormat",
                    "OutputFormat": f"{HIVE_PARQUET}.MapredParquetOutputFormat",
                    "SerdeInfo": {"SerializationLibrary": f"{HIVE_PARQUET}.serde.ParquetHiveSerDe"},
                    "Columns": [],
                },
            },
            PartitionIndexes=[{"Keys": list(keys), "IndexName": "by_day"}],
        )


def catalog_partitions(glue, table: str) -> list[tuple[list[str], str]]:
    """(values, location) of every partition of a catalog table, sorted."""
    found = glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    return sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in found)


def folder_partitions(root: Path) -> list[tuple[list[str], str]]:
    """(values, location) of every partition folder (three levels of name=value) of a table."""
    found = []
    for leaf in sorted(root.glob("*=*/*=*/*=*")):
        if any(p.suffix == ".parquet" for p in leaf.iterdir()):
            values = [part.split("=", 1)[1] for part in leaf.relative_to(root).parts]
            found.append((values, f"{leaf}/"))
    return sorted(found)


def catalog_columns(glue, table: str) -> list[tuple[str, str]]:
    got = glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]
    return [(c["Name"], c["Type"]) for c in got["StorageDescriptor"]["Columns"]]


def parquet_columns(spark, root: Path, partition_cols) -> list[tuple[str, str]]:
    """(name, type) of each data column in the table's merged Parquet schema, as Spark spells
    the types (the Hive spelling for every type silver holds)."""
    schema = spark.read.option("mergeSchema", "true").parquet(str(root)).schema
    return [
        (f.name, f.dataType.simpleString()) for f in schema.fields if f.name not in partition_cols
    ]


@contextlib.contextmanager
def glue_server():
    """moto's server on a free local port, with the environment that points boto3's Glue
    clients at it (this process's and the job processes' it starts): yields that environment."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL_GLUE": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
