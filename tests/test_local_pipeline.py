"""scripts/local/run_local_pipeline.py end to end: generated landing files -> bronze -> silver, over
several runs, against an expected result computed here from the landing JSON itself."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections import Counter
from pathlib import Path

import generate_telemetry as gen
import pytest
import run_local_pipeline as pipeline

pytestmark = pytest.mark.spark


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
