"""Silver consolidation: bronze car telemetry (nested Parquet, one file per upload) -> silver
(flat Parquet, exactly one row per car per day), partitioned by the event's UTC day.

This is the entry script: the job's arguments, `main`, and the wiring to Glue. The job itself is
the `silver_job` package beside it (one module per concern; its __init__ has the map). Each run:
  1. reads only the bronze files it has not processed yet (Glue job bookmark, or a local
     state file that plays the bookmark);
  2. flattens every struct, rejects rows that break the data contract (to quarantine, with a
     `reject_reason`), cleanses, types, enriches and derives the partition columns;
  3. reads the existing silver rows of the partitions this batch touches, and only those;
  4. keeps one row per (carChassis, event day): highest currentMileage, ties broken by latest
     event time, latest ingestion time, greatest source file, then the values of every other column;
  5. replaces only the touched partitions through a crash-safe commit, and only then advances
     the bookmark.

On AWS Glue 5.1 (Spark 3.5.6, Python 3.11) Terraform uploads this file as the job's script and
the package as a zip named in `--extra-py-files`; Glue passes
  --JOB_NAME --bronze_path s3://.../car_data/ --silver_path s3://.../car_telemetry/
  --quarantine_path s3://.../quarantine/car_telemetry/ [--full_refresh true] [--source_timezone UTC]
  --catalog_database DB --silver_table T --quarantine_table Q
and the bronze read carries the bookmark's transformation_ctx. With the three catalog arguments
the job keeps those two Glue catalog tables itself (partitions and columns, in its commit).

Locally (no Glue JVM, plain Spark), with local directories or file:// URIs:
  python glue_jobs/silver_consolidation_job.py --bronze_path DIR --silver_path DIR \
      --quarantine_path DIR [--state_path DIR] [--full_refresh true] [--source_timezone UTC]
      [--catalog_database DB --silver_table T --quarantine_table Q]
which takes the local bookmark and Java discovery from scripts/local/local_job.py (on the import
path that `make setup` gives the venv). Importing this file has no side effects.
"""

from __future__ import annotations

import logging
import os
import sys

from pyspark.sql import SparkSession
from silver_job.bookmarks import GlueBookmark
from silver_job.config import JobConfig, configure_session
from silver_job.run import run, stage_logger, summary_logger

logger = logging.getLogger("silver_consolidation")

USAGE = """\
usage: silver_consolidation_job.py --bronze_path PATH --silver_path PATH --quarantine_path PATH
                                   [--full_refresh true|false] [--source_timezone ZONE]
                                   [--state_path DIR] [--debug]

Consolidates new bronze files into silver: one row per car per day (see README).

  --bronze_path PATH      the bronze table (s3:// on Glue; a local folder, which must exist)
  --silver_path PATH      the silver table
  --quarantine_path PATH  where rows the contract rejects go, with their reject_reason
  --full_refresh          true: read every bronze file and rebuild every partition (default: false)
  --source_timezone ZONE  zone of timestamps written without one: a name or +HH:MM (default: UTC)
  --state_path DIR        local runs only: the bookmark's folder (default: _state beside silver)
  --debug                 local runs only: on a failure, show the traceback and Spark's log

The four paths must not overlap. On Glue, Glue's own arguments (--JOB_NAME, bookmarks) are passed
by the job. Exit codes: 0 success; 1 the run failed or another run is live (the bookmark did
not move); 2 a usage error; 130 interrupted (local runs).
"""

# The contract with Terraform's default_arguments.
GLUE_REQUIRED_ARGS = ("JOB_NAME", "bronze_path", "silver_path", "quarantine_path")
GLUE_OPTIONAL_ARGS = (
    "full_refresh",
    "source_timezone",
    "catalog_database",
    "silver_table",
    "quarantine_table",
)
LOCAL_ONLY_ARGS = ("state_path",)
ARG_DEFAULTS = {
    "full_refresh": "false",
    "source_timezone": "UTC",
    "state_path": None,
    "catalog_database": None,
    "silver_table": None,
    "quarantine_table": None,
}


def _given(argv: list[str], name: str) -> bool:
    flag = f"--{name}"
    return any(a == flag or a.startswith(flag + "=") for a in argv[1:])


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """Resolves arguments with Glue's own getResolvedOptions (it also runs locally).

    Optional arguments are asked for only when given, as getResolvedOptions makes every name
    it is asked for required. The result keeps everything Glue resolved (bookmark option, run
    id, TempDir, ...) for `job.init`, plus the defaults of optional arguments not given.
    """
    from awsglue.utils import getResolvedOptions

    names = [n for n in GLUE_REQUIRED_ARGS if n != "JOB_NAME" or _given(argv, n)]
    names += [n for n in (*GLUE_OPTIONAL_ARGS, *LOCAL_ONLY_ARGS) if _given(argv, n)]
    return {**ARG_DEFAULTS, **getResolvedOptions(argv, names)}


def glue_runtime_available(spark: SparkSession) -> bool:
    """True when Glue's JVM classes are on the driver's class path (a real Glue run)."""
    try:
        spark._jvm.java.lang.Class.forName("com.amazonaws.services.glue.GlueContext")
    except Exception:  # py4j wraps ClassNotFoundException
        return False
    return True


def run_on_glue(spark: SparkSession, config: JobConfig, args: dict) -> dict:
    from awsglue.context import GlueContext
    from awsglue.job import Job

    glue_context = GlueContext(spark.sparkContext)
    job = Job(glue_context)
    job.init(config.job_name, args)
    source = GlueBookmark(glue_context, job, config.bronze_path, config.full_refresh)
    return run(spark, config, source)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not summary_logger.handlers:
        bare = logging.StreamHandler(sys.stdout)
        bare.setFormatter(logging.Formatter("%(message)s"))
        summary_logger.addHandler(bare)
    summary_logger.propagate = False


def _say(text: str) -> None:
    """A line for the person at the keyboard, on stderr (the summary alone goes to stdout)."""
    print(f"silver_consolidation_job: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 success; 1 the run failed or another run is live (the bookmark did not
    move); 2 a usage error; 130 interrupted."""
    argv = list(sys.argv if argv is None else argv)
    if {"-h", "--help"} & set(argv[1:]):
        print(USAGE, end="")
        return 0
    debug = "--debug" in argv[1:]
    argv = [a for a in argv if a != "--debug"]
    _configure_logging()
    try:
        args = parse_args(argv)
        config = JobConfig.from_args(args)
    except Exception as exc:  # GlueArgumentError, ValueError: a usage error
        _say(str(exc))
        return 2
    try:  # only on a laptop: Glue gets the entry script and the package, not scripts/local
        import local_job
    except ImportError:
        local_job = None
    if local_job is None:
        spark = SparkSession.builder.appName(config.job_name).getOrCreate()
    else:
        spark = _start_local(config, local_job, debug)
        if isinstance(spark, int):  # refused, failed or interrupted before the run: the code
            return spark
    configure_session(spark)
    if glue_runtime_available(spark):
        run_on_glue(spark, config, args)  # an exception fails the Glue run as it should
        return 0
    if local_job is None:
        _say(
            "not on Glue, and scripts/local is not on the import path"
            " (run `make setup` and use .venv/bin/python)"
        )
        return 2
    return _main_local(spark, config, local_job, debug)


def _start_local(config: JobConfig, local_job, debug: bool) -> SparkSession | int:
    """On a laptop, what can be refused is refused before Spark starts (a missing bronze, a
    live run, a lake on S3 without a local state folder); then the session, or the exit code
    when it does not start. Spark's and py4j's logs stay out of the output."""
    import local_cli  # beside local_job

    bronze = config.bronze_path.removeprefix("file://")
    if "://" not in bronze and not os.path.isdir(bronze):
        _say(f"--bronze_path {config.bronze_path} is not a folder")
        return 2
    try:
        local_job.refuse_if_live(config)
    except local_job.ConcurrentRunError as exc:
        _say(f"refusing to run: {exc}")
        return 1
    except ValueError as exc:  # no local state folder for a lake on S3
        _say(str(exc))
        return 2
    local_cli.quiet_logs(debug)
    local_job.ensure_java()
    try:
        spark = SparkSession.builder.appName(config.job_name).getOrCreate()
        local_cli.plain_interrupts()
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:  # no JVM: a bad Java or PYSPARK_SUBMIT_ARGS, say
        _say(f"failed: Spark did not start: {local_cli.one_line(exc)}")
        return 1
    return spark


def _main_local(spark: SparkSession, config: JobConfig, local_job, debug: bool = False) -> int:
    """The same run on a laptop, with the local bookmark (scripts/local/local_job.py). Every
    error is one line on stderr (`--debug` adds the traceback); stage lines only on a terminal."""
    import local_cli

    if not sys.stderr.isatty():
        stage_logger.setLevel(logging.WARNING)
    try:
        local_job.run_local(spark, config)
    except local_job.ConcurrentRunError as exc:  # a run that started after the check above
        _say(f"refusing to run: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:
        if debug:
            logger.exception("silver consolidation failed")
        _say(
            f"failed: {local_cli.one_line(exc)} (the bookmark did not move; the next run"
            " finishes or discards what this one left)"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
