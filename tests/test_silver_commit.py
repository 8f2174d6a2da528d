"""Crash safety: the real job process is killed (SIGKILL) at each step of its commit protocol,
then the next ordinary run must leave silver and quarantine exactly as a clean run would.

The kill is the job's own fault point (SILVER_JOB_FAULT=<point>[:<n>]), which SIGKILLs the
job's whole process group, JVM included, as a Glue timeout or a lost driver would. The writes
inside the JVM (Spark's write into the staging folder, a copy cut off mid-file) cannot be
stopped at an exact byte from outside, so the states they leave are built by hand and healed
the same way. `make test` kills a run at each protocol step once on S3 (tests/test_s3_commit.py)
and here once right after its intent and once while a recovery replaces a partition; `make
test-faults` runs the whole matrix on local files (both modes, every point, every partition,
kills at every step of a recovery, a kill inside Spark's own write).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import local_job
import pytest
import silver_consolidation_job as job
from bronze_factory import record, write_bronze
from glue_catalog import (
    CATALOG_ARGV,
    CATALOG_CONFIG,
    QUARANTINE_TABLE,
    SILVER_TABLE,
    catalog_columns,
    catalog_partitions,
    create_tables,
    glue_server,
    parquet_columns,
)
from lake import Lake
from silver_job import faults

SCRIPT = Path(job.__file__)
D29, D30, D31 = (f"Wed, {d} Oct 2025 11:00:00" for d in (29, 30, 31))
INGESTED = dt.datetime(2025, 10, 29, 12, 0, tzinfo=dt.UTC)
SILVER_PARTS = [
    "event_year=2025/event_month=10/event_day=29",
    "event_year=2025/event_month=10/event_day=31",
]
QUARANTINE_PARTS = ["ingest_year=2025/ingest_month=10/ingest_day=29"]
# Points after the intent is durable and before it is marked done: the next run replays it.
REPLAYED = {"manifest_written", "partition_copied", "partition_replaced", "applied"}
REPLAYED |= {"catalog_updated"}
# A small, quick local JVM for the killed process (the job's own command line, unchanged).
SUBMIT_ARGS = (
    "--master local[2] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=2"
    " --driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' pyspark-shell"
)


class FaultLake(Lake):
    """The shared lake, with what the kill tests add: a killed run, the batch, the outcome."""

    def run_killed_at(self, point: str, full_refresh: bool = False, extra: tuple = ()) -> None:
        """The job's command line in a process group of its own, killed at `point`."""
        argv = [sys.executable, str(SCRIPT), "--bronze_path", str(self.bronze)]
        argv += ["--silver_path", str(self.silver), "--quarantine_path", str(self.quarantine)]
        argv += ["--state_path", str(self.state), "--full_refresh", str(full_refresh).lower()]
        argv += list(extra)
        env = {**os.environ, faults.FAULT_ENV: point, "PYSPARK_SUBMIT_ARGS": SUBMIT_ARGS}
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, start_new_session=True, timeout=300
        )
        assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr[-3000:])

    def add_batch(self) -> None:
        """The hourly batch under test: a new winner on day 29, a new car, a new day 31 and a
        rejected row in the quarantine partition that earlier runs already fill."""
        rows = [
            record("C0", 500.0, D29),
            record("C10", 7.0, D29),
            record("C3", 900.0, D31),
            record("BAD-TS", 5.0, "not a time"),
        ]
        write_bronze(self.bronze, "b1", rows, ingested=INGESTED, mtime=1_700_000_500)

    def table(self, spark, path: Path) -> list[tuple]:
        df = spark.read.option("mergeSchema", "true").parquet(str(path))
        columns = sorted(df.columns)
        return sorted((tuple(str(r[c]) for c in columns) for r in df.collect()), key=str)

    def outcome(self, spark) -> dict:
        """Everything a reader or the next run sees: whole rows, the bookmark, leftovers."""
        return {
            "silver": self.table(spark, self.silver),
            "quarantine": self.table(spark, self.quarantine),
            "bookmark": json.loads(
                (self.state / "silver_consolidation__car_telemetry.json").read_text()
            ),
            "commit_leftovers": sorted(p.name for p in self.commits.iterdir()),
        }


def parquet_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".parquet")


@pytest.fixture(scope="module")
def base(spark, tmp_path_factory) -> Lake:
    """Silver after earlier runs: 10 cars on day 29, 3 on day 30, two rejected rows."""
    lake = FaultLake(tmp_path_factory.mktemp("base"))
    history = [record(f"C{i}", 100.0 + i, D29) for i in range(10)]
    history += [record(f"C{i}", 50.0 + i, D30) for i in range(3)]
    history += [record("  ", 1.0, D29), record("NEG", -3.0, D29)]
    write_bronze(lake.bronze, "a1", history, ingested=INGESTED, mtime=1_700_000_000)
    lake.run(spark)
    return lake


def copy_of(base: Lake, root: Path) -> Lake:
    """A copy elsewhere (times kept): the relative bookmark must not re-read a1."""
    shutil.copytree(base.root, root, copy_function=shutil.copy2)
    return FaultLake(root)


class CleanOutcomes(dict):
    """What a clean run of the batch gives, per mode, each run the first time it is asked for
    (`make test` asks for the ordinary mode only)."""

    def __init__(self, spark, base: Lake, root: Path) -> None:
        super().__init__()
        self.spark, self.base, self.root = spark, base, root

    def __missing__(self, mode: bool) -> dict:
        lake = copy_of(self.base, self.root / f"clean-{mode}")
        lake.add_batch()
        summary = lake.run(self.spark, full_refresh=mode)
        assert summary["recovered_run"] is None
        out = self[mode] = lake.outcome(self.spark)
        c0 = self.spark.read.parquet(str(lake.silver)).where("carChassis = 'C0'")
        # day 29: the batch's 500 km replaced the 100 km of history; day 30 untouched
        assert sorted(tuple(r) for r in c0.select("event_day", "currentMileage").collect()) == [
            ("29", 500.0),
            ("30", 50.0),
        ]
        if not mode:
            assert len(out["silver"]) == 10 + 1 + 3 + 1
            assert len(out["quarantine"]) == 3
            assert out["commit_leftovers"] == ["_schema.json"]  # the column types, nothing else
        return out


@pytest.fixture(scope="module")
def expected(spark, base, tmp_path_factory) -> CleanOutcomes:
    return CleanOutcomes(spark, base, tmp_path_factory.mktemp("clean"))


def heal_and_check(spark, lake: Lake, expected: dict, full_refresh: bool, replayed: bool):
    """The next ordinary run: it must finish what the killed one left, and end as a clean run."""
    bookmarked = lake.state / "silver_consolidation__car_telemetry.json"
    before = json.loads(bookmarked.read_text())["files"]
    summary = lake.run(spark, full_refresh=full_refresh)
    # The batch is read again unless the killed run had already committed the bookmark.
    batch_done = "ingest_year=2025/ingest_month=10/ingest_day=29/b1.parquet" in before
    assert summary["status"] == ("no_new_data" if batch_done and not full_refresh else "ok")
    if replayed:
        assert summary["recovered_run"].startswith("local-")
        assert summary["recovered_partitions"] == {
            "silver": sorted(SILVER_PARTS + [DAY30]) if full_refresh else SILVER_PARTS,
            "quarantine": QUARANTINE_PARTS,
        }
    else:
        assert (summary["recovered_run"], summary["recovered_partitions"]) == (None, {})
    assert lake.outcome(spark) == expected[full_refresh]


DAY30 = "event_year=2025/event_month=10/event_day=30"
# make test: a kill at each fault point once is tests/test_s3_commit.py's (on S3, as on Glue;
# here in the matrix of make test-faults). Here: a kill right after the intent, and a kill
# inside the recovery of that run, at the torn replace (the other recovery steps in make
# test-faults, with their own checks of the state the kill leaves).
OWN_RUN = ("manifest_written",)
RECOVERY_POINTS = (
    "partition_copied",
    "partition_replaced",
    "applied",
    "marked_done",
    "manifest_deleted",
)
IN_RECOVERY = [RECOVERY_POINTS[0]] + [
    pytest.param(p, marks=pytest.mark.faults) for p in RECOVERY_POINTS[1:]
]


class KilledLakes(dict):
    """Each case's lake as its kill left it, made the first time a test asks for it: copies of
    one run killed right after its manifest (never healed itself), some killed again while
    recovering it."""

    def __init__(self, base: Lake, root: Path) -> None:
        super().__init__()
        self.base, self.root = base, root

    @functools.cached_property
    def after_manifest(self) -> Lake:
        lake = copy_of(self.base, self.root / "after-manifest")
        lake.add_batch()
        lake.run_killed_at("manifest_written")
        return lake

    def __missing__(self, name: str) -> Lake:
        lake = self[name] = copy_of(self.after_manifest, self.root / name.replace(":", "-"))
        if name.startswith("recovery:"):
            lake.run_killed_at(name.split(":")[1])
        return lake


@pytest.fixture(scope="module")
def killed(base, tmp_path_factory) -> KilledLakes:
    return KilledLakes(base, tmp_path_factory.mktemp("killed"))


@pytest.mark.parametrize("point", OWN_RUN)
def test_a_kill_in_the_runs_own_commit_is_healed_by_the_next_run(spark, killed, expected, point):
    lake = killed[point]
    lock = lake.state / "silver_consolidation__car_telemetry.lock"
    assert lock.exists()  # the killed run's lock file stays behind: it must not block

    heal_and_check(spark, lake, expected, False, replayed=point == "manifest_written")
    assert not lock.exists()


@pytest.mark.parametrize("point", IN_RECOVERY)
def test_a_kill_while_recovering_an_earlier_run_is_recovered_the_same_way(
    spark, killed, expected, point
):
    lake = killed[f"recovery:{point}"]
    if point == "partition_copied":  # the torn state is real: old and new files side by side
        assert len(parquet_files(lake.silver / SILVER_PARTS[0])) == 2
    if point == "partition_replaced":  # day 29 is replaced, day 31 does not exist yet
        assert len(parquet_files(lake.silver / SILVER_PARTS[0])) == 1
        assert not (lake.silver / SILVER_PARTS[1]).exists()

    heal_and_check(spark, lake, expected, False, replayed=point in REPLAYED)


MATRIX = [
    (point, mode)
    for mode in (False, True)
    for point in (*faults.FAULT_POINTS, "partition_copied:2", "partition_replaced:2")
    + ("partition_copied:3", "partition_replaced:3")
]


@pytest.mark.faults
@pytest.mark.parametrize(("point", "full_refresh"), MATRIX)
def test_matrix_a_kill_at_any_point_in_either_mode_is_healed(
    spark, base, expected, tmp_path, point, full_refresh
):
    lake = copy_of(base, tmp_path / "lake")
    lake.add_batch()

    lake.run_killed_at(point, full_refresh)

    replayed = point.split(":")[0] in REPLAYED
    heal_and_check(spark, lake, expected, full_refresh, replayed)


@pytest.mark.faults
@pytest.mark.parametrize("second", [*RECOVERY_POINTS, "recovered"])
@pytest.mark.parametrize("first", ["manifest_written", "partition_copied", "applied"])
def test_matrix_a_kill_during_recovery_after_any_torn_replace(
    spark, base, expected, tmp_path, first, second
):
    lake = copy_of(base, tmp_path / "lake")
    lake.add_batch()
    lake.run_killed_at(first)

    lake.run_killed_at(second)  # the next run dies while rolling the first one forward

    heal_and_check(spark, lake, expected, False, replayed=second in REPLAYED)


@pytest.mark.parametrize(
    "in_recovery", [True, pytest.param(False, marks=pytest.mark.faults)], ids=["recovery", "own"]
)
def test_a_run_killed_between_its_data_and_its_catalog_step_is_registered_by_the_next(
    spark, base, killed, expected, tmp_path, in_recovery
):
    """On moto's Glue server (the killed job is a process of its own). In `make test` the run
    dies while it recovers a run killed after its intent (the same steps, a JVM that dies
    seconds after it starts); `make test-faults` also kills a run in its own commit there."""
    with glue_server():
        glue = boto3.client("glue")
        if in_recovery:
            lake = copy_of(killed.after_manifest, tmp_path / "lake")
        else:
            lake = copy_of(base, tmp_path / "lake")
            lake.add_batch()
        create_tables(glue, lake)

        lake.run_killed_at("applied", extra=CATALOG_ARGV)

        assert (lake.silver / SILVER_PARTS[1]).is_dir()  # day 31's data is in the table ...
        assert catalog_partitions(glue, SILVER_TABLE) == []  # ... not in the catalog
        summary = lake.run(spark, **CATALOG_CONFIG)

        assert summary["recovered_run"].startswith("local-")
        assert summary["partitions_registered"] == {
            "silver": SILVER_PARTS,
            "quarantine": QUARANTINE_PARTS,
        }
        for table, root, parts in (
            (SILVER_TABLE, lake.silver, SILVER_PARTS),
            (QUARANTINE_TABLE, lake.quarantine, QUARANTINE_PARTS),
        ):
            assert catalog_partitions(glue, table) == [
                ([kv.split("=")[1] for kv in part.split("/")], f"{root}/{part}/") for part in parts
            ]
        keys = ("event_year", "event_month", "event_day")
        assert sorted(catalog_columns(glue, SILVER_TABLE)) == sorted(
            parquet_columns(spark, lake.silver, keys)
        )
        assert lake.outcome(spark) == expected[False]


def test_a_copy_cut_off_mid_file_after_its_partition_lost_its_old_file_is_healed(
    spark, killed, expected
):
    lake = killed["torn_copy"]
    (run_dir,) = [p for p in lake.commits.iterdir() if p.is_dir()]
    staged = run_dir / "silver" / SILVER_PARTS[0]
    target = lake.silver / SILVER_PARTS[0]
    for old in target.iterdir():
        old.unlink()  # the old rows are gone from the table: only the staged copy has them
    (name,) = parquet_files(staged)
    (target / name).write_bytes((staged / name).read_bytes()[:100])  # a torn copy

    heal_and_check(spark, lake, expected, False, replayed=True)


def test_a_torn_manifest_is_an_intent_that_never_started_and_is_discarded(spark, killed, expected):
    lake = killed["torn_manifest"]
    (manifest,) = lake.commits.glob("local-*.json")
    manifest.write_text(manifest.read_text()[:40])  # as a kill inside a local write leaves it

    # Discarded, nothing replayed; the run itself then does the batch from scratch.
    heal_and_check(spark, lake, expected, False, replayed=False)


def test_what_a_kill_inside_sparks_staging_write_leaves_is_discarded(
    spark, base, expected, tmp_path
):
    lake = copy_of(base, tmp_path / "lake")
    lake.add_batch()
    attempt = "_temporary/0/_temporary/attempt_202512010000_0001_m_000000_1"
    partial = lake.commits / "local-killed" / "silver" / attempt / SILVER_PARTS[0]
    partial.mkdir(parents=True)
    (partial / "part-00000-dead.c000.snappy.parquet").write_bytes(b"PAR1 torn")
    (lake.commits / "local-killed" / "quarantine").mkdir()

    heal_and_check(spark, lake, expected, False, replayed=False)


@pytest.mark.faults
def test_a_real_kill_while_spark_writes_the_staging_is_healed(spark, base, expected, tmp_path):
    """No fault point: the job is killed from outside as soon as Spark's task output appears."""
    lake = copy_of(base, tmp_path / "lake")
    lake.add_batch()
    argv = [sys.executable, str(SCRIPT), "--bronze_path", str(lake.bronze)]
    argv += ["--silver_path", str(lake.silver), "--quarantine_path", str(lake.quarantine)]
    argv += ["--state_path", str(lake.state)]
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": SUBMIT_ARGS}
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if any("_temporary" in p.parts for p in lake.commits.rglob("*.parquet")):
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before its staging write was seen"

    heal_and_check(spark, lake, expected, False, replayed=False)


def test_a_second_run_while_one_is_live_refuses_with_a_clear_message(spark, base, tmp_path):
    lake = copy_of(base, tmp_path / "lake")
    lake.add_batch()
    source = local_job.LocalBookmark(str(lake.bronze), local_job.default_state_file(lake.config()))
    with (
        source.lock(),
        pytest.raises(local_job.ConcurrentRunError, match="another run of this job"),
    ):
        lake.run(spark)
    assert [p.name for p in lake.commits.iterdir()] == ["_schema.json"]  # untouched by it

    assert lake.run(spark)["status"] == "ok"  # once the first run has ended
