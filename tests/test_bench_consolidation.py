"""The consolidation benchmark's helpers (no Spark, no timings): the report filler, the
row-for-row check and the event-log summary."""

import json

import bench_consolidation as bench
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def test_fill_replaces_only_the_marked_table(tmp_path):
    doc = tmp_path / "report.md"
    doc.write_text("prose\n<!-- bench:ratio -->\nold\n<!-- /bench:ratio -->\nmore prose\n")
    bench.fill(doc, "ratio", "| a |\n|---:|")
    assert doc.read_text() == (
        "prose\n<!-- bench:ratio -->\n| a |\n|---:|\n<!-- /bench:ratio -->\nmore prose\n"
    )


def test_fill_names_the_missing_markers(tmp_path):
    doc = tmp_path / "report.md"
    doc.write_text("no markers here\n")
    with pytest.raises(ValueError, match="bench:history"):
        bench.fill(doc, "history", "x")


def _table(root, rows):
    folder = root / "event_year=2025" / "event_month=10" / "event_day=29"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")
    return root


def test_same_rows_ignores_row_and_column_order_but_not_values(tmp_path):
    a = _table(tmp_path / "a", [{"carChassis": "A", "m": 1.0}, {"carChassis": "B", "m": 2.0}])
    b = _table(tmp_path / "b", [{"m": 2.0, "carChassis": "B"}, {"m": 1.0, "carChassis": "A"}])
    c = _table(tmp_path / "c", [{"carChassis": "A", "m": 1.0}, {"carChassis": "B", "m": 3.0}])
    assert bench.same_rows(a, b)
    assert not bench.same_rows(a, c)
    assert not bench.same_rows(a, tmp_path / "absent")
    assert bench.same_rows(tmp_path / "absent", tmp_path / "also_absent")


def test_same_rows_accepts_an_extra_column_only_when_it_is_all_null(tmp_path):
    a = _table(tmp_path / "a", [{"carChassis": "A", "m": 1.0}])
    b = _table(tmp_path / "b", [{"carChassis": "A", "m": 1.0, "_rescued_data": None}])
    c = _table(tmp_path / "c", [{"carChassis": "A", "m": 1.0, "_rescued_data": '{"x": 1}'}])
    assert bench.same_rows(a, b)
    assert not bench.same_rows(a, c)


def test_event_log_summary_attributes_jobs_and_tasks_to_job_stages(tmp_path):
    start = 1_000.0  # epoch seconds when run() began; stages: validate 2 s, write 3 s
    result = {"run_start_epoch": start, "stages_s": {"validate": 2.0, "write_silver": 3.0}}
    scan = {"nodeName": "Scan parquet ", "children": []}
    cached = {"nodeName": "InMemoryTableScan", "children": [scan]}
    plan = {"nodeName": "Exchange hashpartitioning", "children": [cached]}
    task = {
        "Executor Run Time": 1500,
        "Executor CPU Time": 500_000_000,
        "Input Metrics": {"Bytes Read": 2**20},
        "Shuffle Write Metrics": {"Shuffle Records Written": 7},
    }
    events = [
        {"Event": "SparkListenerJobStart", "Submission Time": 1_000_500, "Stage Infos": [
            {"Stage ID": 0}]},
        {"Event": "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart",
         "executionId": 0, "time": 1_002_500, "sparkPlanInfo": plan},
        {"Event": "SparkListenerJobStart", "Submission Time": 1_002_600, "Stage Infos": [
            {"Stage ID": 1}, {"Stage ID": 2}]},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 0, "Task Metrics": task},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 2, "Task Metrics": task},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 2, "Task Metrics": task},
    ]  # fmt: skip
    log = tmp_path / "eventlog"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    summary = bench.summarize_event_log(log, result)
    assert summary["validate"] == {
        **dict.fromkeys(bench.PROFILE_KEYS, 0),
        "jobs": 1,
        "tasks": 1,
        "task_s": 1.5,
        "cpu_s": 0.5,
        "read_mb": 1.0,
        "shuffled_rows": 7,
    }
    written = summary["write_silver"]
    assert (written["executions"], written["jobs"], written["tasks"]) == (1, 1, 2)
    assert (written["parquet_scans"], written["cache_scans"], written["exchanges"]) == (1, 1, 1)
