"""Crash safety on S3: the real job process, on s3a:// paths against a local S3 API (moto's
server, tests/s3_server.py), SIGKILLed at each step of its commit protocol; the next ordinary
run must leave silver, quarantine, the bookmark and _commits/ exactly as a clean run would.

`make test` kills at every fault point once, with Hadoop 3.4's marker retention (`keep`, as
Glue 5.1's S3A): the steps of the replace while a run recovers an earlier one (the same code),
the others in a run's own commit. `make test-faults` (and `make test-s3`) runs the matrix, every
point in a run's own commit: both marker policies, both modes, the later partitions of a replace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fetch_jars
import local_job
import local_runtime
import pytest
import silver_consolidation_job as entry
from bronze_factory import record, write_bronze
from s3_server import S3Server
from silver_job import faults
from silver_job.config import JobConfig

pytestmark = pytest.mark.spark

BUCKET = "lake"
SCRIPT = Path(entry.__file__)
D29, D30, D31 = (f"Wed, {d} Oct 2025 11:00:00" for d in (29, 30, 31))
INGESTED = dt.datetime(2025, 10, 29, 12, 0, tzinfo=dt.UTC)
# Points after the intent is durable and before it is marked done: the next run replays it.
REPLAYED = {"manifest_written", "partition_copied", "partition_replaced", "applied"}
REPLAYED |= {"catalog_updated"}
STATE = "silver_consolidation__car_telemetry.json"


class S3FaultLake:
    """One case's lake under `s3a://lake/<name>/`, its bookmark state in a local folder."""

    def __init__(self, server: S3Server, name: str, state_root: Path, retention: str) -> None:
        self.server, self.name, self.retention = server, name, retention
        self.root = f"s3a://{BUCKET}/{name}"
        self.state = state_root / name
        self.commits = f"{name}/silver/_commits/car_telemetry/"

    def config(self, full_refresh: bool = False) -> JobConfig:
        return JobConfig(
            bronze_path=f"{self.root}/bronze/car_data",
            silver_path=f"{self.root}/silver/car_telemetry",
            quarantine_path=f"{self.root}/silver/quarantine/car_telemetry",
            state_path=str(self.state),
            full_refresh=full_refresh,
        )

    def run(self, spark, full_refresh: bool = False) -> dict:
        return local_job.run_local(spark, self.config(full_refresh))

    def upload_bronze(self, folder: Path, name: str, rows: list[dict]) -> None:
        written = write_bronze(folder / self.name, name, rows, ingested=INGESTED)
        key = f"{self.name}/bronze/car_data/{written.relative_to(folder / self.name).as_posix()}"
        self.server.client().put_object(Bucket=BUCKET, Key=key, Body=written.read_bytes())

    def add_batch(self, folder: Path) -> None:
        """A new winner on day 29, a new car, a new day 31 and a rejected row."""
        rows = [record("C0", 500.0, D29), record("C10", 7.0, D29), record("C3", 900.0, D31)]
        self.upload_bronze(folder, "b1", [*rows, record("BAD-TS", 5.0, "not a time")])

    def copy_to(self, name: str) -> S3FaultLake:
        """The lake under another name, its bookmark moved to the copies' modification times."""
        other = S3FaultLake(self.server, name, self.state.parent, self.retention)
        client = self.server.client()
        for key in self.server.objects(BUCKET):
            if key.startswith(f"{self.name}/"):
                source = {"Bucket": BUCKET, "Key": key}
                client.copy_object(
                    Bucket=BUCKET, Key=f"{name}/{key[len(self.name) + 1 :]}", CopySource=source
                )
        state = json.loads((self.state / STATE).read_text())
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{name}/bronze/car_data/")
        times = {
            o["Key"][len(f"{name}/bronze/car_data/") :]: int(o["LastModified"].timestamp() * 1000)
            for o in listed.get("Contents", [])
        }
        state["files"] = {rel: times[rel] * 1_000_000 for rel in state["files"]}
        other.state.mkdir(parents=True)
        (other.state / STATE).write_text(json.dumps(state))
        return other

    def run_killed_at(self, point: str, full_refresh: bool = False) -> None:
        """The job's command line in a process group of its own, on S3A, killed at `point`."""
        config = self.config(full_refresh)
        argv = [sys.executable, str(SCRIPT), "--bronze_path", config.bronze_path]
        argv += ["--silver_path", config.silver_path, "--quarantine_path", config.quarantine_path]
        argv += ["--state_path", str(self.state), "--full_refresh", str(full_refresh).lower()]
        conf = local_runtime.s3a_endpoint_conf(self.server.endpoint, self.retention)
        submit = ["--master", "local[2]", "--conf", "spark.ui.enabled=false"]
        submit += ["--conf", "spark.sql.shuffle.partitions=2"]
        submit += ["--driver-class-path", os.pathsep.join(map(str, fetch_jars.jar_paths()))]
        submit += ["--driver-java-options", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"]
        for key, value in conf.items():
            submit += ["--conf", f"spark.hadoop.{key}={value}"]
        env = {**os.environ, faults.FAULT_ENV: point}
        env["PYSPARK_SUBMIT_ARGS"] = shlex.join([*submit, "pyspark-shell"])
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, start_new_session=True, timeout=300
        )
        assert done.returncode == -signal.SIGKILL, (point, done.returncode, done.stderr[-3000:])

    def table(self, spark, path: str) -> list[tuple]:
        df = spark.read.option("mergeSchema", "true").parquet(path)
        columns = sorted(df.columns)
        return sorted((tuple(str(r[c]) for c in columns) for r in df.collect()), key=str)

    def outcome(self, spark) -> dict:
        """Whole rows, the bookmark's files, and what is left under _commits/."""
        config = self.config()
        left = [k for k in self.server.objects(BUCKET) if k.startswith(self.commits)]
        return {
            "silver": self.table(spark, config.silver_path),
            "quarantine": self.table(spark, config.quarantine_path),
            "bookmark": sorted(json.loads((self.state / STATE).read_text())["files"]),
            "commit_leftovers": sorted(k[len(self.commits) :] for k in left if not k.endswith("/")),
        }


def start_server(spark, retention: str) -> S3Server:
    server = S3Server().start()
    server.client().create_bucket(Bucket=BUCKET)
    local_runtime.use_s3_endpoint(
        spark, local_runtime.s3a_endpoint_conf(server.endpoint, retention)
    )
    return server


def base_lake(spark, server, retention, folder: Path, state: Path) -> S3FaultLake:
    """Silver after earlier runs: 10 cars on day 29, 3 on day 30, two rejected rows."""
    lake = S3FaultLake(server, "base", state, retention)
    history = [record(f"C{i}", 100.0 + i, D29) for i in range(10)]
    history += [record(f"C{i}", 50.0 + i, D30) for i in range(3)]
    history += [record("  ", 1.0, D29), record("NEG", -3.0, D29)]
    lake.upload_bronze(folder, "a1", history)
    assert lake.run(spark)["status"] == "ok"
    return lake


def clean_outcome(spark, base: S3FaultLake, folder: Path, full_refresh: bool) -> dict:
    lake = base.copy_to(f"clean-{full_refresh}")
    lake.add_batch(folder)
    assert lake.run(spark, full_refresh)["recovered_run"] is None
    return lake.outcome(spark)


def heal_and_check(spark, lake, expected, full_refresh: bool, replayed: bool) -> None:
    summary = lake.run(spark, full_refresh)
    assert (summary["recovered_run"] is not None) == replayed, summary
    assert lake.outcome(spark) == expected


# `make test` kills each fault point once. A run's own commit dies before its replace (staging,
# intent) and after it (bookmark): a whole run of the job each. The steps of the replace itself
# (copy, delete, column types, catalog, done marker, clean-up, the end of recovery) die in the
# recovery of a run killed right after its intent: the same code (`apply_manifest`, `clean_up`)
# sending the same requests, in a JVM that dies within seconds of its start. The matrix kills
# every point in a run's own commit too.
OWN_RUN = ("manifest_written", "staged_silver", "staged_quarantine", "bookmark_committed")
IN_RECOVERY = tuple(p for p in faults.FAULT_POINTS if p not in OWN_RUN)


@pytest.fixture(scope="module")
def kills(spark, tmp_path_factory):
    """Each case's lake as its kill left it (three JVMs at a time, `keep`), and the clean run's
    outcome: `own:<point>` killed in its own commit, `recovery:<point>` killed while recovering
    a run killed after its manifest."""
    folder, state = tmp_path_factory.mktemp("bronze"), tmp_path_factory.mktemp("state")
    server = start_server(spark, "keep")
    base = base_lake(spark, server, "keep", folder, state)
    expected = clean_outcome(spark, base, folder, False)
    lakes = {f"own:{p}": base.copy_to(f"own-{p}") for p in OWN_RUN}
    for lake in lakes.values():
        lake.add_batch(folder)
    with ThreadPoolExecutor(max_workers=3) as pool:
        killing = {p: pool.submit(lakes[f"own:{p}"].run_killed_at, p) for p in OWN_RUN}
        killing["manifest_written"].result()  # the intent the recoveries die in
        for point in IN_RECOVERY:
            lake = lakes[f"recovery:{point}"] = lakes["own:manifest_written"].copy_to(point)
            killing[f"recovery:{point}"] = pool.submit(lake.run_killed_at, point)
        for future in killing.values():
            future.result()
    yield lakes, expected
    spark._jvm.org.apache.hadoop.fs.FileSystem.closeAll()
    server.stop()


def test_the_clean_run_on_s3_is_the_expected_silver(kills):
    _, expected = kills
    assert len(expected["silver"]) == 10 + 1 + 3 + 1
    assert len(expected["quarantine"]) == 3
    assert expected["commit_leftovers"] == ["_schema.json"]


def heal_killed(spark, lake: S3FaultLake, expected: dict, point: str) -> None:
    lock = lake.state / STATE.replace(".json", ".lock")
    assert lock.exists()  # the killed run's lock file stays behind: it must not block

    heal_and_check(spark, lake, expected, False, replayed=point in REPLAYED)
    assert not lock.exists()


@pytest.mark.parametrize("point", OWN_RUN)
def test_a_kill_in_a_runs_own_commit_on_s3_is_healed_by_the_next_run(spark, kills, point):
    lakes, expected = kills
    heal_killed(spark, lakes[f"own:{point}"], expected, point)


@pytest.mark.parametrize("point", IN_RECOVERY)
def test_a_kill_at_each_step_of_a_replace_on_s3_is_healed_by_the_next_run(spark, kills, point):
    lakes, expected = kills
    lake = lakes[f"recovery:{point}"]
    day29 = f"{lake.name}/silver/car_telemetry/event_year=2025/event_month=10/event_day=29/"
    objects = [k for k in lake.server.objects(BUCKET) if k.endswith(".parquet")]
    in_day29 = [k for k in objects if k.startswith(day29)]
    if point == "partition_copied":  # the torn state is real: old and new files side by side
        assert len(in_day29) == 2, in_day29
    if point == "partition_replaced":  # day 29 replaced, day 31 not there yet
        assert len(in_day29) == 1, in_day29
        day31 = day29.replace("event_day=29", "event_day=31")
        assert not [k for k in objects if k.startswith(day31)]

    heal_killed(spark, lake, expected, point)


MATRIX = [
    (retention, full_refresh, point)
    for retention in ("delete", "keep")
    for full_refresh in (False, True)
    for point in (*faults.FAULT_POINTS, "partition_copied:2", "partition_replaced:2")
]


@pytest.mark.faults
@pytest.mark.parametrize(("retention", "full_refresh", "point"), MATRIX)
def test_matrix_a_kill_on_s3_in_either_mode_and_marker_policy_is_healed(
    spark, tmp_path, retention, full_refresh, point
):
    server = start_server(spark, retention)
    try:
        base = base_lake(spark, server, retention, tmp_path / "bronze", tmp_path / "state")
        expected = clean_outcome(spark, base, tmp_path / "bronze", full_refresh)
        lake = base.copy_to("killed")
        lake.add_batch(tmp_path / "bronze")
        lake.run_killed_at(point, full_refresh)
        heal_and_check(spark, lake, expected, full_refresh, point.split(":")[0] in REPLAYED)
    finally:
        spark._jvm.org.apache.hadoop.fs.FileSystem.closeAll()
        server.stop()
