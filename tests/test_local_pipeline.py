"""scripts/local/run_local_pipeline.py end to end: generated landing files -> bronze -> silver, over
several runs, against an expected result computed here from the landing JSON itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import generate_telemetry as gen
import local_cli
import pytest
import run_local_pipeline as pipeline

pytestmark = pytest.mark.spark
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local" / "run_local_pipeline.py"


def landing_records(landing: Path) -> list[dict]:
    records = []
    for path in sorted(landing.rglob("*.json")):
        text = path.read_text(encoding="utf-8-sig")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            try:  # JSON Lines
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError:
                continue  # unreadable upload: the Lambda quarantines the file
        records.extend(data if isinstance(data, list) else [data])
    return records


def expected_outcome(landing: Path) -> tuple[dict[tuple[str, str], float], int]:
    """(car, UTC day) -> highest valid mileage, and the number of records to reject."""
    best: dict[tuple[str, str], float] = {}
    rejected = 0
    for rec in landing_records(landing):
        chassis = (rec.get("carChassis") or "").strip()
        mileage = rec.get("currentMileage")
        stamp = (rec.get("metrics") or {}).get("metricTimestamp")
        try:
            when = dt.datetime.strptime(stamp.strip(), "%a, %d %b %Y %H:%M:%S")
        except (AttributeError, ValueError):
            when = None
        if not chassis or when is None or mileage is None or mileage < 0:
            rejected += 1
            continue
        key = (chassis, when.strftime("%Y-%m-%d"))
        best[key] = max(best.get(key, mileage), float(mileage))
    return best, rejected


def silver_snapshot(silver: Path) -> dict[str, str]:
    return {
        str(p.relative_to(silver)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(silver.rglob("*.parquet"))
    }


def silver_table(spark, lake: Path) -> dict[tuple[str, str], float]:
    df = spark.read.parquet(str(lake / "silver" / "car_telemetry"))
    rows = df.select("carChassis", "event_year", "event_month", "event_day", "currentMileage")
    out = {}
    for r in rows.collect():
        key = (r.carChassis, f"{r.event_year}-{r.event_month}-{r.event_day}")
        assert key not in out, f"two silver rows for {key}"
        out[key] = r.currentMileage
    return out


def quarantined_rows(spark, lake: Path) -> int:
    path = lake / "silver" / "quarantine" / "car_telemetry"
    return spark.read.parquet(str(path)).count() if path.exists() else 0


def test_pipeline_over_several_runs_matches_an_independent_expectation(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    common = {"cars": 5, "readings_per_day": 3, "duplicate_rate": 0.1, "bad_rate": 0.08}
    start = dt.date(2025, 10, 27)
    gen.generate(landing / "b1", days=2, start_date=start, seed=11, fmt="array", files=3, **common)
    gen.seed_example(landing / "seed")
    (landing / "broken.json").write_text("[{")

    first = pipeline.run_pipeline(landing, lake, spark=spark)
    best, rejected = expected_outcome(landing)
    assert silver_table(spark, lake) == best
    assert quarantined_rows(spark, lake) == rejected > 0
    assert first["landing_files_quarantined"] == ["broken.json"]
    assert first["landing_files_ingested"] == 3 + 3
    assert best[(gen.SEED_EXAMPLE_CAR_CHASSIS, "2025-10-29")] == 12000.0
    records_in = len(landing_records(landing))
    assert first["bronze_records_read"] == records_in
    assert first["silver_rows"] == len(best)

    # Run 2: the same fleet re-sent (identical days 1-2) plus day 3, and a late higher reading.
    gen.generate(landing / "b2", days=3, start_date=start, seed=11, fmt="jsonl", files=2, **common)
    reading = dataclasses.replace(gen.SEED_EXAMPLE_READINGS[0], current_mileage=12345)
    late = gen.make_record(gen.SEED_EXAMPLE_CAR, reading)
    (landing / "late.json").write_text(json.dumps(late))
    second = pipeline.run_pipeline(landing, lake, spark=spark)
    best, rejected = expected_outcome(landing)
    assert best[(gen.SEED_EXAMPLE_CAR_CHASSIS, "2025-10-29")] == 12345.0
    assert silver_table(spark, lake) == best
    assert quarantined_rows(spark, lake) == rejected
    assert second["landing_files_ingested"] == 3
    assert second["partitions_written"] == ["2025-10-27", "2025-10-28", "2025-10-29"]

    # Run 3: nothing new changes no silver file.
    before = silver_snapshot(lake / "silver" / "car_telemetry")
    third = pipeline.run_pipeline(landing, lake, spark=spark)
    assert third["job_status"] == "no_new_data"
    assert third["landing_files_ingested"] == 0
    assert silver_snapshot(lake / "silver" / "car_telemetry") == before

    # Run 4: a full refresh rebuilds the same table.
    pipeline.run_pipeline(landing, lake, full_refresh=True, spark=spark)
    assert silver_table(spark, lake) == best
    assert quarantined_rows(spark, lake) == rejected
    counts = Counter(k[1] for k in best)
    assert sorted(counts) == ["2025-10-27", "2025-10-28", "2025-10-29"]


def test_misuse_exits_2_with_a_clear_message(tmp_path, capsys):
    assert pipeline.main(["--landing", str(tmp_path / "nope"), "--lake", str(tmp_path)]) == 2
    assert "landing folder" in capsys.readouterr().err
    (tmp_path / "landing").mkdir()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert pipeline.main(["--landing", str(tmp_path / "landing"), "--lake", str(not_a_dir)]) == 2
    assert "not writable" in capsys.readouterr().err


def reading(chassis: str, mileage, day: int = 29, **extra) -> dict:
    stamp = f"Wed, {day} Oct 2025 11:00:00"
    metrics = {"metricTimestamp": stamp}
    return {"carChassis": chassis, "currentMileage": mileage, "metrics": metrics, **extra}


def test_the_summary_accounts_for_every_record_and_every_skipped_file(spark, tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    # car A: 100 km kept, its 200 km reading breaks the contract (quarantined by the Lambda)
    (landing / "a.json").write_text(json.dumps([reading("A", 100), reading("A", "200 km")]))
    # car B: a re-sent reading (removed by the dedup) and a type clash (quarantined alone)
    lines = [reading("B", 5, extra="x"), reading("B", 5, extra="x"), reading("B", 7, extra={})]
    (landing / "b.json").write_text("\n".join(json.dumps(r) for r in lines))
    (landing / "c.json").write_text(json.dumps(reading("C", -1)))  # rejected by the job
    (landing / "d.jsonl").write_text(json.dumps(reading("D", 1)))  # not what S3 notifies
    (landing / "notes.txt").write_text("not telemetry")
    (landing / "broken.json").write_text("[{")
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(reading("E", 1)))
    (landing / "link.json").symlink_to(outside)  # a link out of the folder: skipped, listed
    progress = io.StringIO()

    first = pipeline.run_pipeline(
        landing, lake, spark=spark, progress=local_cli.Progress(progress, enabled=True)
    )

    assert pipeline.format_summary(first).splitlines() == [
        "landing files:      7 seen = 4 ingested + 3 skipped"
        " (outside_landing 1: link.json; suffix 2: d.jsonl, notes.txt)",
        "  ingested:         3 to bronze, 0 with every record quarantined,"
        " 1 quarantined whole (not splittable into records) (broken.json)",
        "landing records:    6 read = 4 to bronze + 2 quarantined (contract 1, type_clash 1)",
        "job:                4 bronze records (3 files) = 2 added to silver"
        " + 1 removed by the dedup + 1 rejected (negative_currentMileage 1)",
        "rows in silver:     2 (before the run: 0)",
        "partitions written: 1 (2025-10-29)",
        "job status:         ok",
        "accounting: 6 landing records + 0 other bronze records = 2 added to silver"
        " + 1 removed by the dedup + 2 quarantined + 1 rejected: adds up",
    ]
    assert silver_table(spark, lake) == {("A", "2025-10-29"): 100.0, ("B", "2025-10-29"): 5.0}
    shown = progress.getvalue()
    assert "landing files converted: 4 of 4" in shown
    job_lines = [line for line in shown.splitlines() if line.startswith("job: ")]
    assert job_lines[0] == "job: recover started"
    assert job_lines[-1].startswith("job: commit ended (")

    # A higher reading of A replaces its row: one row removed by the dedup, none added.
    (landing / "a2.json").write_text(json.dumps(reading("A", 300)))
    second = pipeline.run_pipeline(landing, lake, spark=spark)
    assert pipeline.accounting(second) == (
        "accounting: 1 landing records + 0 other bronze records = 0 added to silver"
        " + 1 removed by the dedup + 0 quarantined + 0 rejected: adds up",
        True,
    )
    assert second["landing_files_skipped"] == {
        "outside_landing": ["link.json"],
        "suffix": ["d.jsonl", "notes.txt"],
        "unchanged": ["a.json", "b.json", "broken.json", "c.json"],
    }


def test_the_landing_suffix_is_the_s3_notifications():
    from hcl_eval import INGESTION, blocks

    notification = blocks(INGESTION.doc, "resource", "aws_s3_bucket_notification")["landing"]
    (target,) = notification["lambda_function"]
    assert INGESTION.value(target["filter_suffix"]) == pipeline.landing_suffix() == ".json"


@pytest.mark.parametrize(
    ("landing", "lake", "message"),
    [
        (
            "in",
            "in/lake",
            "run_local_pipeline: lake {tmp}/in/lake is inside the landing folder {tmp}/in: every"
            " run would ingest the lake's own files; put the lake elsewhere",
        ),
        (
            "in",
            "in",
            "run_local_pipeline: lake {tmp}/in is inside the landing folder {tmp}/in: every"
            " run would ingest the lake's own files; put the lake elsewhere",
        ),
        (
            "lake/bronze/in",
            "lake",
            "run_local_pipeline: landing folder {tmp}/lake/bronze/in is inside the lake's bronze"
            " folder {tmp}/lake/bronze; put the landing files elsewhere",
        ),
        (
            "lake/state",
            "lake",
            "run_local_pipeline: landing folder {tmp}/lake/state is inside the lake's state"
            " folder {tmp}/lake/state; put the landing files elsewhere",
        ),
    ],
)
def test_overlapping_landing_and_lake_are_refused(tmp_path, capsys, landing, lake, message):
    (tmp_path / landing).mkdir(parents=True)
    (tmp_path / landing / "car.json").write_text(json.dumps(reading("A", 1)))

    code = pipeline.main(["--landing", str(tmp_path / landing), "--lake", str(tmp_path / lake)])

    assert (code, capsys.readouterr().err) == (2, message.format(tmp=tmp_path) + "\n")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == sorted(
        {landing, f"{landing}/car.json", *[p.as_posix() for p in Path(landing).parents][:-1]}
    )


def test_ctrl_c_stops_with_one_line(spark, tmp_path, capsys, monkeypatch):
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "car.json").write_text(json.dumps(reading("A", 1)))

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.local_runtime, "spark_session", lambda *a, **k: spark)
    monkeypatch.setattr(pipeline, "consolidate", interrupted)
    code = pipeline.main(["--landing", str(tmp_path / "landing"), "--lake", str(tmp_path / "l")])

    assert (code, capsys.readouterr().err) == (130, "run_local_pipeline: interrupted\n")


def test_a_spark_failure_is_one_line_without_spark_noise(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / "car.json").write_text(json.dumps(reading("A", 1)))
    lake.mkdir()
    (lake / "silver").write_text("a file where the silver folder belongs")

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--landing", str(landing), "--lake", str(lake)],
        capture_output=True,
        text=True,
        env={**os.environ, "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"},
    )

    assert (result.returncode, result.stdout) == (1, "")
    # (the JVM itself says that it picked JAVA_TOOL_OPTIONS up)
    lines = [x for x in result.stderr.splitlines() if not x.startswith("Picked up JAVA_TOOL")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("run_local_pipeline: failed: ")


def on_a_terminal_interrupted_after(tmp_path: Path, marker: bytes) -> tuple[int, list[str]]:
    """The pipeline with a pty as its terminal, sent SIGINT (what Ctrl-C sends: the whole
    foreground process group, Spark's JVM included) once `marker` is on the screen. The exit
    code and the screen's lines, each as it was left after its carriage returns."""
    import pty
    import select
    import signal
    import time

    landing = tmp_path / "landing"
    landing.mkdir()
    for i in range(3):
        (landing / f"car{i}.json").write_text(json.dumps(reading(f"A{i}", i + 1)))
    primary, secondary = pty.openpty()
    argv = [sys.executable, str(SCRIPT), "--landing", str(landing), "--lake", str(tmp_path / "l")]
    env = {**os.environ, "JAVA_TOOL_OPTIONS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
    proc = subprocess.Popen(
        argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env, start_new_session=True
    )
    os.close(secondary)
    screen, deadline, sent = b"", time.monotonic() + 180, False
    while True:
        if not sent and marker in screen:
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: every process holding the terminal has ended
                chunk = b""
            if not chunk:
                break
            screen += chunk
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"no end after SIGINT: {screen!r}")
    os.close(primary)
    code = proc.wait(timeout=60)
    assert sent, screen
    lines = screen.decode().replace("\r\n", "\n").split("\n")
    return code, [line.rsplit("\r", 1)[-1].replace("\x1b[K", "") for line in lines if line]


def test_on_a_terminal_the_jobs_stages_show_and_ctrl_c_during_the_job_is_one_line(tmp_path):
    code, lines = on_a_terminal_interrupted_after(tmp_path, b"job: read_bronze started")
    lines = [x for x in lines if not x.startswith("Picked up JAVA_TOOL")]
    assert code == 130, lines
    assert lines[:2] == ["landing files converted: 3 of 3", "job: recover started"], lines
    assert lines[-1] == "run_local_pipeline: interrupted"
    # between them, only the job's stage lines as they start and end: no trace, no Spark log
    assert all(x.startswith("job: ") and x.endswith((" started", ")")) for x in lines[2:-1]), lines
