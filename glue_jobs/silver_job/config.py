"""The job's arguments as a typed configuration, and the Spark session settings it needs."""

from __future__ import annotations

import os
import re
import zoneinfo
from dataclasses import dataclass

from pyspark.sql import SparkSession

from silver_job.commit import commit_root

DEFAULT_JOB_NAME = "silver_consolidation"
OFFSET_RE = re.compile(r"^[+-]\d{2}:\d{2}$")
CATALOG_ARGS = ("catalog_database", "silver_table", "quarantine_table")

# Session settings the job cannot run safely without.
REQUIRED_SESSION_CONF = {
    # Static overwrite while reading the same table would delete every other partition.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # Inference reads event_month=06 as the integer 6 and writes it back as event_month=6.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    # Partition values and naive timestamps are defined in UTC.
    "spark.sql.session.timeZone": "UTC",
    # Names resolve as in Glue's catalog and Athena: `conform` makes letter-case twins one column.
    "spark.sql.caseSensitive": "false",
}
# Speed only (docs/benchmarks/job-speed.md): the batch is cached once and read three times;
# uncompressed, the cache is built and read faster (it spills to disk, as any cache, when
# memory is short). HotSpot never JIT-compiles a method of more than 8,000 bytes of bytecode:
# a wider stage than that runs without whole-stage code generation, compiled, rather than
# interpreted (Spark's own advice for HotSpot).
SPEED_SESSION_CONF = {
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    "spark.sql.codegen.hugeMethodLimit": "8000",
}


@dataclass(frozen=True)
class JobConfig:
    bronze_path: str
    silver_path: str
    quarantine_path: str
    full_refresh: bool = False
    source_timezone: str = "UTC"
    state_path: str | None = None
    job_name: str = DEFAULT_JOB_NAME
    run_id: str | None = None  # Glue's JOB_RUN_ID; locally a new one per run
    # The Glue catalog entries the job keeps (all three, or none: no catalog step).
    catalog_database: str | None = None
    silver_table: str | None = None
    quarantine_table: str | None = None

    @property
    def catalog_tables(self) -> dict[str, str]:
        """The manifest's table names -> catalog table names; empty without a catalog."""
        if not self.catalog_database:
            return {}
        return {"silver": self.silver_table, "quarantine": self.quarantine_table}

    @classmethod
    def from_args(cls, args: dict[str, str | None]) -> JobConfig:
        """Validates resolved arguments; raises ValueError naming the bad one."""
        flag = (args.get("full_refresh") or "false").strip().lower()
        if flag not in ("true", "false"):
            raise ValueError(f"--full_refresh must be true or false, got {flag!r}")
        tz = (args.get("source_timezone") or "UTC").strip()
        if not OFFSET_RE.match(tz):
            try:
                zoneinfo.ZoneInfo(tz)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"--source_timezone {tz!r} is not a known time zone") from exc
        for name in ("bronze_path", "silver_path", "quarantine_path"):
            if not (args.get(name) or "").strip():
                raise ValueError(f"--{name} must not be empty")
        commit_root(args["silver_path"])  # raises for a path with no table folder
        _refuse_overlaps(args)
        catalog = {n: (args.get(n) or "").strip() or None for n in CATALOG_ARGS}
        if any(catalog.values()) and not all(catalog.values()):
            given = sorted(f"--{n}" for n, v in catalog.items() if v)
            raise ValueError(
                "the catalog needs all of "
                + ", ".join(f"--{n}" for n in CATALOG_ARGS)
                + f" (given: {', '.join(given)})"
            )
        return cls(
            bronze_path=_strip_slash(args["bronze_path"]),
            silver_path=_strip_slash(args["silver_path"]),
            quarantine_path=_strip_slash(args["quarantine_path"]),
            full_refresh=flag == "true",
            source_timezone=tz,
            state_path=args.get("state_path"),
            job_name=args.get("JOB_NAME") or DEFAULT_JOB_NAME,
            run_id=args.get("JOB_RUN_ID"),
            **catalog,
        )


def _strip_slash(path: str) -> str:
    return path.rstrip("/") if path.rstrip("/") else path


def _where(path: str) -> str:
    """A path compared by location: a local one absolute, a URI as written."""
    path = path.strip()
    if path.startswith("file://"):
        path = path[len("file://") :]
    if "://" not in path:
        path = os.path.abspath(path)
    return path.rstrip("/") + "/"


def _refuse_overlaps(args: dict[str, str | None]) -> None:
    """Bronze, silver, quarantine (and the local state) must be apart: silver written into
    bronze is read back as bronze, and a table inside another is read as part of it."""
    names = ["bronze_path", "silver_path", "quarantine_path"]
    names += ["state_path"] if args.get("state_path") else []
    for i, one in enumerate(names):
        for other in names[i + 1 :]:
            a, b = _where(args[one]), _where(args[other])
            if a.startswith(b) or b.startswith(a):
                raise ValueError(
                    f"--{one} {args[one]} and --{other} {args[other]} overlap"
                    " (one is or holds the other); give each its own folder"
                )


# --- Checks -----------------------------------------------------------------------------------
def configure_session(spark: SparkSession) -> None:
    """Applies the settings the job needs (all are runtime SQL settings)."""
    for key, value in REQUIRED_SESSION_CONF.items():
        spark.conf.set(key, value)


def require_safe_session(spark: SparkSession) -> None:
    """Refuses to run on a session where an overwrite could delete or corrupt silver."""
    wrong = {
        key: spark.conf.get(key, None)
        for key, value in REQUIRED_SESSION_CONF.items()
        if str(spark.conf.get(key, None)).lower() != value.lower()
    }
    if wrong:
        raise RuntimeError(
            "refusing to run: the Spark session must have "
            + ", ".join(f"{k}={REQUIRED_SESSION_CONF[k]}" for k in wrong)
            + f" (it has {wrong})"
        )
