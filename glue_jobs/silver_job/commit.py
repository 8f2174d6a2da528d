"""The commit protocol: stage, record the intent, replace the partitions, mark done, clean
up; and the recovery that rolls an unfinished intent forward (docs/commit-protocol.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pyspark.sql import types as T

from silver_job.catalog import Catalog, CatalogResult
from silver_job.contract import SCHEMA_REGISTRY
from silver_job.faults import Faults
from silver_job.files import Files, visible


def commit_root(silver_path: str) -> str:
    """`<silver parent>/_commits/<table>`: beside the table, outside every crawled path."""
    parent, _, table = silver_path.rstrip("/").rpartition("/")
    if not table or parent.endswith(":/") or parent.endswith(":"):
        raise ValueError(f"--silver_path must name a table folder, got {silver_path!r}")
    return f"{parent}/_commits/{table}" if parent else f"_commits/{table}"


@dataclass
class Commit:
    """One run's commit: stage, record the intent, replace, mark done, clean up.

    Under `root` (see `commit_root`): `<run>/<table>/...` the staged partitions, `<run>.json`
    the manifest (written last, in one PUT), `<run>.done` the marker that every partition of
    the manifest has been replaced. Replacing a partition copies its staged files in, then
    deletes every other file of the partition; replaying it gives the same partition, so a run
    killed anywhere is finished by the next one (`recover`) before it reads anything. With a
    `catalog`, the tables' catalog entries are then brought up to the staged partitions and
    columns, before the done marker (and so before the bookmark).
    """

    files: Files
    root: str
    run_id: str
    faults: Faults = field(default_factory=Faults)
    catalog: Catalog | None = None
    tables: list[dict] = field(default_factory=list)
    schema: dict[str, str] = field(default_factory=dict)

    def staged(self, table: str) -> str:
        return f"{self.root}/{self.run_id}/{table}"

    def add_table(self, table: str, columns: list[list[str]]) -> None:
        """Records a staged table: each partition folder with the files Spark wrote there, and
        the [name, Hive type] of each data column those files hold (for the catalog)."""
        partitions: dict[str, list[str]] = {}
        for rel in self.files.list_tree(self.staged(table), ".parquet"):
            part, _, name = rel.rpartition("/")
            partitions.setdefault(part, []).append(name)
        self.tables.append({"table": table, "partitions": partitions, "columns": columns})

    def write_manifest(self, bronze: dict, schema: dict[str, T.DataType]) -> None:
        self.schema = {name: dtype.json() for name, dtype in sorted(schema.items())}
        manifest = {
            "version": 1,
            "run_id": self.run_id,
            "bronze": bronze,
            "tables": self.tables,
            "schema": self.schema,
        }
        self.files.write_text(f"{self.root}/{self.run_id}.json", json.dumps(manifest) + "\n")
        self.faults.reached("manifest_written")

    def finish(self, table_paths: dict[str, str]) -> CatalogResult | None:
        """Replaces the partitions, updates the catalog and writes the done marker."""
        result = apply_manifest(
            self.files,
            self.root,
            self.run_id,
            self.tables,
            table_paths,
            self.schema,
            self.faults,
            self.catalog,
        )
        self.files.write_text(f"{self.root}/{self.run_id}.done", "")
        self.faults.reached("marked_done")
        return result

    def clean_up(self) -> None:
        clean_up(self.files, self.root, self.run_id, self.faults)


def apply_manifest(
    files: Files,
    root: str,
    run_id: str,
    tables: list[dict],
    table_paths: dict[str, str],
    schema: dict[str, str] | None,
    faults: Faults,
    catalog: Catalog | None = None,
) -> CatalogResult | None:
    """Copies each staged partition's files into the table, then deletes its other files; then
    records the column types the replaced partitions hold (the schema registry); then, with a
    catalog, registers the partitions and appends the columns the catalog lacks.

    The manifest names tables, not paths: a lake moved with an unfinished commit in it is
    finished where it is now (`table_paths` come from the run's own arguments).
    """
    for table in tables:
        for part, names in sorted(table["partitions"].items()):
            target = f"{table_paths[table['table']]}/{part}"
            for name in names:
                files.copy(f"{root}/{run_id}/{table['table']}/{part}/{name}", f"{target}/{name}")
            faults.reached("partition_copied")
            keep = set(names)
            for name in files.list_files(target):
                if name not in keep:
                    files.delete(f"{target}/{name}")
            faults.reached("partition_replaced")
    if schema is not None:
        files.write_text(f"{root}/{SCHEMA_REGISTRY}", json.dumps(schema, indent=1) + "\n")
    faults.reached("applied")
    result = None if catalog is None else catalog.update(tables, table_paths)
    faults.reached("catalog_updated")
    return result


def clean_up(files: Files, root: str, run_id: str, faults: Faults) -> None:
    """Manifest first: without it nothing is replayed, so the staging may go after it."""
    files.delete(f"{root}/{run_id}.json")
    faults.reached("manifest_deleted")
    files.delete(f"{root}/{run_id}.done")
    files.delete(f"{root}/{run_id}", recursive=True)


def recover(
    files: Files,
    root: str,
    table_paths: dict[str, str],
    faults: Faults,
    catalog: Catalog | None = None,
) -> dict | None:
    """Rolls forward what an earlier, killed run left: an intent not marked done is replayed
    (its catalog step included); what has no intent (staging of a run killed before its
    manifest) is deleted.

    Returns what was recovered (run id, partitions, what the catalog step changed), or None.
    """
    recovered = None
    names = files.list_files(root)
    for name in [n for n in names if n.endswith(".json") and visible(n)]:
        run_id = name[: -len(".json")]
        try:
            manifest = json.loads(files.read_text(f"{root}/{name}"))
        except ValueError:  # a manifest torn by the kill (local disk only): nothing applied yet
            manifest = None
        if manifest is not None and f"{run_id}.done" not in names:
            schema = manifest.get("schema")  # (an intent of an older version of the job has none)
            tables = manifest["tables"]
            result = apply_manifest(
                files, root, run_id, tables, table_paths, schema, faults, catalog
            )
            files.write_text(f"{root}/{run_id}.done", "")
            faults.reached("marked_done")
            recovered = {
                "run_id": run_id,
                "partitions": {t["table"]: sorted(t["partitions"]) for t in tables},
                "catalog": result,
            }
        clean_up(files, root, run_id, faults)
    for name in files.list_files(root):  # done markers whose manifest is already gone
        if name.endswith(".done"):
            files.delete(f"{root}/{name}")
    for name in files.list_dirs(root):  # staging of runs that never wrote a manifest
        files.delete(f"{root}/{name}", recursive=True)
    faults.reached("recovered")
    return recovered
