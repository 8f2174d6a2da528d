"""The job's entry point: on Glue (GlueContext and Job stubbed, arguments parsed by the real
getResolvedOptions) and as a local command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import awsglue.context
import awsglue.job
import pyarrow.parquet as pq
import pytest
import silver_consolidation_job as job
from bronze_factory import record, write_bronze
from silver_job import run as silver_run

pytestmark = pytest.mark.spark

SCRIPT = Path(job.__file__)
D29 = "Wed, 29 Oct 2025 11:00:00"


# The optional arguments of the job when none is given, as the entry script must fill them in.
OPTIONAL_UNSET = {
    "full_refresh": "false",
    "source_timezone": "UTC",
    "state_path": None,
    "catalog_database": None,
    "silver_table": None,
    "quarantine_table": None,
}
# What Glue's getResolvedOptions adds to the arguments it was asked for, with no value given.
GLUE_KEYS = {
    "job_bookmark_option": "job-bookmark-disable",
    "job_bookmark_from": None,
    "job_bookmark_to": None,
    "JOB_ID": None,
    "JOB_RUN_ID": None,
    "SECURITY_CONFIGURATION": None,
    "encryption_type": None,
    "enable_data_lineage": None,
    "RedshiftTempDir": None,
    "TempDir": None,
}


def silver_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


class FakeGlue:
    """Records every use of GlueContext and Job made by the script."""

    def __init__(self, spark):
        self.spark = spark
        self.calls: list[tuple] = []
        self.silver: Path | None = None
        fake = self

        class DynamicFrame:
            def __init__(self, df):
                self._df = df

            def toDF(self):  # noqa: N802  (Glue's name)
                return self._df

        class Reader:
            def from_options(self, **kwargs):
                fake.calls.append(("create_dynamic_frame.from_options", kwargs))
                path = kwargs["connection_options"]["paths"][0]
                # Glue's reader stands in as a plain recursive read (input_file_name() works)
                read = fake.spark.read.option("recursiveFileLookup", "true")
                return DynamicFrame(read.option("mergeSchema", "true").parquet(path))

        class GlueContext:
            def __init__(self, sc):
                fake.calls.append(("GlueContext", sc is fake.spark.sparkContext))
                self.create_dynamic_frame = Reader()

            def __getattr__(self, name):
                fake.calls.append(("GlueContext." + name,))
                raise AttributeError(name)

        class Job:
            def __init__(self, glue_context):
                fake.calls.append(("Job", isinstance(glue_context, GlueContext)))

            def init(self, name, args):
                fake.calls.append(("job.init", name, args))

            def commit(self):
                fake.calls.append(("job.commit", silver_files(fake.silver)))

        self.GlueContext, self.Job = GlueContext, Job


@pytest.fixture
def glue(spark, monkeypatch):
    fake = FakeGlue(spark)
    monkeypatch.setattr(awsglue.context, "GlueContext", fake.GlueContext)
    monkeypatch.setattr(awsglue.job, "Job", fake.Job)
    monkeypatch.setattr(job, "glue_runtime_available", lambda spark: True)
    return fake


def glue_argv(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "silver_consolidation_job.py",
        "--JOB_NAME",
        "car-telemetry-dev-silver",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--TempDir",
        "s3://glue-temp/tmp/",
        "--bronze_path",
        str(tmp_path / "bronze"),
        "--silver_path",
        str(tmp_path / "silver"),
        "--quarantine_path",
        str(tmp_path / "quarantine"),
        "--full_refresh",
        "false",
        "--source_timezone",
        "UTC",
        *extra,
    ]


def test_glue_run_bookmarks_the_bronze_read_only_and_commits_after_the_write(glue, tmp_path):
    write_bronze(tmp_path / "bronze", "f", [record("A", 1.0, D29), record("", 2.0, D29)])
    glue.silver = tmp_path / "silver"

    assert job.main(glue_argv(tmp_path)) == 0

    written = silver_files(tmp_path / "silver")
    assert len(written) == 1 and written[0].startswith(
        "event_year=2025/event_month=10/event_day=29/"
    )
    assert glue.calls == [
        ("GlueContext", True),
        ("Job", True),
        (
            "job.init",
            "car-telemetry-dev-silver",
            {
                **GLUE_KEYS,
                "job_bookmark_option": "job-bookmark-enable",
                "RedshiftTempDir": "s3://glue-temp/tmp/",
                "TempDir": "s3://glue-temp/tmp/",
                "JOB_NAME": "car-telemetry-dev-silver",
                "bronze_path": str(tmp_path / "bronze"),
                "silver_path": str(tmp_path / "silver"),
                "quarantine_path": str(tmp_path / "quarantine"),
                **OPTIONAL_UNSET,
            },
        ),
        (
            "create_dynamic_frame.from_options",
            {
                "connection_type": "s3",
                "connection_options": {"paths": [f"{tmp_path / 'bronze'}/"], "recurse": True},
                "format": "parquet",
                "transformation_ctx": "bronze_read",
            },
        ),
        ("job.commit", written),
    ]
    assert not (tmp_path / "_state").exists()  # on Glue the bookmark is Glue's, not a file


def test_glue_run_does_not_commit_when_the_write_fails(glue, tmp_path, monkeypatch):
    write_bronze(tmp_path / "bronze", "f", [record("A", 1.0, D29)])
    glue.silver = tmp_path / "silver"

    def failing_write(*args, **kwargs):
        raise OSError("S3 said 503 Slow Down")

    monkeypatch.setattr(silver_run, "write_staged", failing_write)
    with pytest.raises(OSError, match="Slow Down"):
        job.main(glue_argv(tmp_path))
    assert [c[0] for c in glue.calls] == [
        "GlueContext",
        "Job",
        "job.init",
        "create_dynamic_frame.from_options",
    ]


def test_glue_full_refresh_reads_all_bronze_without_the_bookmark_context(glue, tmp_path):
    write_bronze(tmp_path / "bronze", "f", [record("A", 1.0, D29)])
    glue.silver = tmp_path / "silver"
    argv = glue_argv(tmp_path)
    argv[argv.index("--full_refresh") + 1] = "true"
    assert job.main(argv) == 0
    assert [c[0] for c in glue.calls] == ["GlueContext", "Job", "job.init", "job.commit"]
    assert len(silver_files(tmp_path / "silver")) == 1


def test_glue_arguments_missing_a_path_is_a_usage_error(glue, tmp_path, capsys):
    argv = glue_argv(tmp_path)
    i = argv.index("--silver_path")
    assert job.main(argv[:i] + argv[i + 2 :]) == 2
    assert "--silver_path" in capsys.readouterr().err
    assert glue.calls == []


def test_local_main_returns_1_and_commits_nothing_when_the_run_fails(spark, tmp_path):
    bronze = tmp_path / "bronze" / "ingest_year=2025" / "ingest_month=10" / "ingest_day=29"
    bronze.mkdir(parents=True)
    (bronze / "broken.parquet").write_bytes(b"this is not parquet")
    argv = [
        "job",
        "--bronze_path",
        str(tmp_path / "bronze"),
        "--silver_path",
        str(tmp_path / "silver" / "t"),
        "--quarantine_path",
        str(tmp_path / "q"),
    ]
    assert job.main(argv) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bronze"]


def test_local_command_runs_the_job_and_rejects_bad_usage(tmp_path):
    write_bronze(tmp_path / "bronze", "a", [record("A", 4321.0, D29), record("A", 8500.0, D29)])
    write_bronze(tmp_path / "bronze", "b", [record("A", 12000.0, D29), record("B", -1.0, D29)])
    base = [
        sys.executable,
        str(SCRIPT),
        "--bronze_path",
        f"file://{tmp_path / 'bronze'}",
        "--silver_path",
        str(tmp_path / "silver" / "car_telemetry"),
        "--quarantine_path",
        str(tmp_path / "silver" / "quarantine" / "car_telemetry"),
    ]
    # A short-lived JVM: C1 only, as in the session fixture (the job itself sets no JVM flags).
    env = {**os.environ, "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    ok = subprocess.run(
        [*base, "--state_path", str(tmp_path / "state")], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr
    # The summary: one line of bare JSON on stdout (what CloudWatch metric filters read).
    summary_lines = [line for line in ok.stdout.splitlines() if "silver_run_summary" in line]
    assert len(summary_lines) == 1
    summary = json.loads(summary_lines[0])
    assert summary["rows_rejected"] == {"negative_currentMileage": 1}
    assert (summary["rows_rejected_total"], summary["bronze_records_read"]) == (1, 4)
    assert summary["partitions_written"] == ["2025-10-29"]
    assert (summary["partitions_written_count"], summary["rows_after_dedup"]) == (1, 1)
    table = pq.read_table(tmp_path / "silver" / "car_telemetry", partitioning="hive")
    assert table.select(["carChassis", "currentMileage"]).to_pylist() == [
        {"carChassis": "A", "currentMileage": 12000.0}
    ]
    assert [p.name for p in (tmp_path / "state").iterdir()] == [
        "silver_consolidation__car_telemetry.json"
    ]

    for bad, message in [
        (base[:-2], "--quarantine_path"),
        ([*base, "--full_refresh", "maybe"], "--full_refresh must be true or false"),
        ([*base, "--source_timezone", "Nowhere/Land"], "not a known time zone"),
    ]:
        result = subprocess.run(bad, capture_output=True, text=True)
        assert result.returncode == 2
        assert message in result.stderr


def test_importing_the_script_has_no_side_effects(tmp_path):
    probe = (
        "import logging;"
        "import silver_consolidation_job;"
        "from pyspark import SparkContext;"
        "assert SparkContext._active_spark_context is None, 'a SparkContext was started';"
        "assert logging.getLogger().handlers == [], 'logging was configured';"
        "print('clean')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "clean"), result.stderr
    assert list(tmp_path.iterdir()) == []


def test_parse_args_uses_glue_resolver_with_optional_arguments():
    from awsglue.utils import GlueArgumentError

    argv = ["job.py", "--bronze_path", "b", "--silver_path", "s", "--quarantine_path", "q"]
    assert job.parse_args(argv) == {
        **GLUE_KEYS,
        "bronze_path": "b",
        "silver_path": "s",
        "quarantine_path": "q",
        **OPTIONAL_UNSET,
    }
    glue_argv = [
        *argv,
        "--JOB_NAME",
        "j",
        "--full_refresh=true",
        "--catalog_database",
        "db",
        "--silver_table",
        "st",
        "--quarantine_table",
        "qt",
        "--job-bookmark-option",
        "job-bookmark-enable",
        "--TempDir",
        "s3://t/",
    ]
    assert job.parse_args(glue_argv) == {
        **GLUE_KEYS,
        "job_bookmark_option": "job-bookmark-enable",
        "RedshiftTempDir": "s3://t/",
        "TempDir": "s3://t/",
        "JOB_NAME": "j",
        "bronze_path": "b",
        "silver_path": "s",
        "quarantine_path": "q",
        "full_refresh": "true",
        "source_timezone": "UTC",
        "state_path": None,
        "catalog_database": "db",
        "silver_table": "st",
        "quarantine_table": "qt",
    }
    with pytest.raises(GlueArgumentError, match="--quarantine_path"):
        job.parse_args(argv[:-2])


def job_command(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(SCRIPT), "--bronze_path", str(tmp_path / "bronze")]
    argv += ["--silver_path", str(tmp_path / "silver" / "car_telemetry")]
    argv += ["--quarantine_path", str(tmp_path / "silver" / "quarantine" / "car_telemetry")]
    env = {**os.environ, "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    result = subprocess.run([*argv, *extra], capture_output=True, text=True, env=env)
    # (the JVM itself says that it picked JAVA_TOOL_OPTIONS up)
    lines = [x for x in result.stderr.splitlines() if not x.startswith("Picked up JAVA_TOOL")]
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout, lines)


def test_help_lists_every_argument():
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (0, "")
    for flag in ("--bronze_path", "--silver_path", "--quarantine_path", "--full_refresh"):
        assert f"  {flag} " in result.stdout
    for flag in ("--source_timezone", "--state_path", "--debug"):
        assert f"  {flag} " in result.stdout


def test_silver_in_bronze_and_a_missing_bronze_are_usage_errors(tmp_path):
    into_bronze = job_command(tmp_path, "--silver_path", str(tmp_path / "bronze" / "t"))
    assert (into_bronze.returncode, into_bronze.stderr) == (
        2,
        [
            f"silver_consolidation_job: --bronze_path {tmp_path}/bronze and --silver_path"
            f" {tmp_path}/bronze/t overlap (one is or holds the other); give each its own folder"
        ],
    )
    missing = job_command(tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        [f"silver_consolidation_job: --bronze_path {tmp_path}/bronze is not a folder"],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_concurrent_run_and_a_failed_run_are_one_line_each(tmp_path):
    import local_job
    from silver_job.config import JobConfig

    write_bronze(tmp_path / "bronze", "a", [record("A", 4321.0, D29)])
    config = JobConfig(
        str(tmp_path / "bronze"),
        str(tmp_path / "silver" / "car_telemetry"),
        str(tmp_path / "silver" / "quarantine" / "car_telemetry"),
    )
    bookmark = local_job.LocalBookmark(config.bronze_path, local_job.default_state_file(config))
    with bookmark.lock():
        live = job_command(tmp_path)
    assert live.returncode == 1
    assert len(live.stderr) == 1, live.stderr
    assert live.stderr[0].startswith(
        f"silver_consolidation_job: refusing to run: another run of this job is live on"
        f" {tmp_path}/bronze (lock "
    )

    (tmp_path / "silver").mkdir()
    (tmp_path / "silver" / "_commits").write_text("a file where the commit folder belongs")
    failed = job_command(tmp_path)
    assert failed.returncode == 1
    assert len(failed.stderr) == 1, failed.stderr
    assert failed.stderr[0].startswith("silver_consolidation_job: failed: ")
    assert failed.stderr[0].endswith(
        "(the bookmark did not move; the next run finishes or discards what this one left)"
    )


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "silver_consolidation_job: interrupted"),
        (
            RuntimeError("Java gateway process exited before sending its port number."),
            1,
            "silver_consolidation_job: failed: Spark did not start: RuntimeError: Java gateway"
            " process exited before sending its port number.",
        ),
    ],
)
def test_a_ctrl_c_or_a_failure_while_spark_starts_is_one_line(
    tmp_path, monkeypatch, capsys, raised, code, line
):
    class Builder:
        def appName(self, name: str) -> Builder:
            return self

        def getOrCreate(self):
            raise raised

    monkeypatch.setattr(job, "SparkSession", type("Session", (), {"builder": Builder()}))
    (tmp_path / "bronze").mkdir()
    argv = ["job", "--bronze_path", str(tmp_path / "bronze")]
    argv += ["--silver_path", str(tmp_path / "s"), "--quarantine_path", str(tmp_path / "q")]

    assert job.main(argv) == code
    assert capsys.readouterr().err == line + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bronze"]


def test_a_lake_on_s3_without_a_local_state_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "bronze").mkdir()
    argv = ["job", "--bronze_path", str(tmp_path / "bronze")]
    argv += ["--silver_path", "s3a://lake/silver/t", "--quarantine_path", "s3a://lake/q/t"]

    assert job.main(argv) == 2
    assert capsys.readouterr().err == (
        "silver_consolidation_job: --state_path (a local folder) is needed for"
        " s3a://lake/silver/t\n"
    )
