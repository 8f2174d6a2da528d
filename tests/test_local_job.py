"""The job's local stand-ins for Glue (scripts/local/local_job.py): the local bookmark, which
goes by each bronze file's path and modification time and moves only after a run's write, and
where it keeps its state."""

from __future__ import annotations

import json

import local_job
import pytest
from bronze_factory import record, write_bronze
from lake import Lake
from silver_job import run as silver_run
from silver_job.config import JobConfig

pytestmark = pytest.mark.spark

D29 = "Wed, 29 Oct 2025 11:00:00"


@pytest.fixture
def lake(tmp_path):
    return Lake(tmp_path)


def test_local_bookmark_goes_by_path_and_mtime_and_advances_only_after_the_write(
    spark, lake, monkeypatch
):
    f = write_bronze(lake.bronze, "f", [record("A", 1.0, D29)], mtime=1_700_000_000)
    lake.run(spark)
    state_file = lake.state / "silver_consolidation__car_telemetry.json"
    rel = str(f.relative_to(lake.bronze))  # relative: a moved lake is not re-read
    assert json.loads(state_file.read_text()) == {
        "version": 2,
        "files": {rel: 1_700_000_000 * 10**9},
    }
    # Rewritten file (new content and mtime) is new again.
    write_bronze(lake.bronze, "f", [record("A", 2.0, D29)], mtime=1_700_000_100)

    def failing_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(silver_run, "write_staged", failing_write)
    with pytest.raises(OSError, match="disk full"):
        lake.run(spark)
    assert json.loads(state_file.read_text())["files"] == {rel: 1_700_000_000 * 10**9}
    monkeypatch.undo()

    summary = lake.run(spark)
    assert summary["bronze_files_read"] == 1
    assert lake.silver_rows(spark, "carChassis", "currentMileage") == [("A", 2.0)]
    assert json.loads(state_file.read_text())["files"] == {rel: 1_700_000_100 * 10**9}


def test_default_state_lives_beside_silver_not_inside_it(spark, tmp_path):
    bronze, silver = tmp_path / "bronze", tmp_path / "silver" / "car_telemetry"
    write_bronze(bronze, "f", [record("A", 1.0, D29)])
    config = JobConfig(f"file://{bronze}", f"file://{silver}", str(tmp_path / "q"))
    local_job.run_local(spark, config)
    assert sorted(p.name for p in (tmp_path / "silver").iterdir()) == [
        "_commits",  # the commit protocol's staging and manifests, empty between runs
        "_state",
        "car_telemetry",
    ]
    commits = tmp_path / "silver" / "_commits" / "car_telemetry"
    assert [p.name for p in commits.iterdir()] == ["_schema.json"]  # the column types so far
    assert [p.name for p in (tmp_path / "silver" / "_state").iterdir()] == [
        "silver_consolidation__car_telemetry.json"
    ]
