"""scripts/local/generate_telemetry.py: determinism, counts, rates, the v1 field set, the seed
example.

Expectations are computed here from the files' content (parsed with the standard library), not
with the generator's own helpers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import generate_telemetry as gt
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "local" / "generate_telemetry.py"
PRODUCER_FORMAT = "%a, %d %b %Y %H:%M:%S"  # the C locale's names are the English ones

# DESIGN.md §2, written out: every leaf of a v1 record.
V1_FIELDS = {
    "carChassis",
    "Model",
    "year",
    "ModelYear",
    "Manufacturer",
    "horsePower",
    "gasType",
    "currentMileage",
    "color",
    "fuelCapacityLiters",
    "metrics.engineTempCelsius",
    "metrics.oilTempCelsius",
    "metrics.batteryChargePerc",
    "metrics.fuelAvailableLiters",
    "metrics.coolantCelsius",
    "metrics.trip.tripMileage",
    "metrics.trip.tripTimeMinutes",
    "metrics.trip.tripFuelLiters",
    "metrics.trip.tripMaxSpeedKm",
    "metrics.trip.tripAverageSpeedKm",
    "metrics.trip.tripStartTimestamp",
    "metrics.metricTimestamp",
    "carInsurance.number",
    "carInsurance.provider",
    "carInsurance.validUntil",
    "market.currentPrice",
    "market.currency",
    "market.location",
    "market.dealer",
    "market.warrantyYears",
    "market.evaluator",
}


def leaves(record: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in record.items():
        if isinstance(value, dict):
            paths |= leaves(value, f"{prefix}{key}.")
        else:
            paths.add(prefix + key)
    return paths


def read_records(directory: Path) -> list[dict]:
    """Every record of every *.json file, in file-name order, whatever the file format."""
    records = []
    for path in sorted(directory.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except json.JSONDecodeError:  # JSON Lines
            records.extend(json.loads(line) for line in text.splitlines() if line)
            continue
        records.extend(document if isinstance(document, list) else [document])
    return records


def event_time(record: dict) -> datetime | None:
    try:
        return datetime.strptime(record["metrics"]["metricTimestamp"], PRODUCER_FORMAT)
    except (KeyError, ValueError):
        return None


def classify(record: dict) -> str:
    """How the pipeline would see the record: a reject reason, or "good"."""
    if not record["carChassis"].strip():
        return "blank_chassis"
    if "metricTimestamp" not in record["metrics"]:
        return "missing_metric_timestamp"
    if event_time(record) is None:
        return "unparsable_metric_timestamp"
    if "currentMileage" not in record:
        return "missing_current_mileage"
    if record["currentMileage"] < 0:
        return "negative_current_mileage"
    return "good"


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_byte_identical_files_across_processes(tmp_path):
    options = dict(cars=6, days=3, duplicate_rate=0.1, bad_rate=0.1, seed=7, fmt="array")
    gt.generate(tmp_path / "a", files=4, **options)
    env = {**os.environ, "PYTHONHASHSEED": "123"}  # hash() randomization must not matter
    cli = [sys.executable, str(SCRIPT), "--out", str(tmp_path / "b"), "--cars", "6"]
    cli += ["--days", "3", "--duplicate-rate", "0.1", "--bad-rate", "0.1", "--seed", "7"]
    cli += ["--format", "array", "--files", "4"]
    subprocess.run(cli, check=True, env=env, capture_output=True)

    first, second = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert list(first) == [f"car_telemetry_0000{i}.json" for i in range(1, 5)]
    assert first == second


def test_different_seed_gives_different_files(tmp_path):
    gt.generate(tmp_path / "a", cars=3, days=2, seed=1)
    gt.generate(tmp_path / "b", cars=3, days=2, seed=2)
    first, second = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert list(first) == list(second)
    assert all(first[name] != second[name] for name in first)


def test_writes_one_object_file_per_record_covering_every_car_and_day(tmp_path):
    paths = gt.generate(tmp_path, cars=4, days=3, readings_per_day=2, seed=3)

    assert paths == sorted(paths)
    assert [p.name for p in paths] == [f"car_telemetry_{i:05d}.json" for i in range(1, 25)]
    records = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    assert all(isinstance(r, dict) for r in records)
    per_car_day = Counter((r["carChassis"], event_time(r).date()) for r in records)
    assert len({car for car, _ in per_car_day}) == 4
    assert sorted({day for _, day in per_car_day}) == [
        date(2025, 10, 27),
        date(2025, 10, 28),
        date(2025, 10, 29),
    ]
    assert set(per_car_day.values()) == {2}
    assert len(per_car_day) == 12


def test_every_record_has_exactly_the_v1_fields_and_producer_timestamps(tmp_path):
    gt.generate(tmp_path, cars=5, days=2, readings_per_day=3, seed=11, fmt="jsonl", files=3)
    records = read_records(tmp_path)

    assert len(records) == 30
    for record in records:
        assert leaves(record) == V1_FIELDS
        trip_start = datetime.strptime(
            record["metrics"]["trip"]["tripStartTimestamp"], PRODUCER_FORMAT
        )
        assert trip_start < event_time(record)
        assert record["metrics"]["metricTimestamp"][:3] == event_time(record).strftime("%a")
        date.fromisoformat(record["carInsurance"]["validUntil"])
        assert isinstance(record["year"], int) and isinstance(record["ModelYear"], int)


def test_producer_timestamp_uses_fixed_english_names():
    assert gt.format_producer_timestamp(datetime(2025, 10, 29, 11, 0, 0)) == (
        "Wed, 29 Oct 2025 11:00:00"
    )
    assert gt.format_producer_timestamp(datetime(2024, 2, 4, 9, 5, 7)) == (
        "Sun, 04 Feb 2024 09:05:07"
    )


def test_mileage_grows_with_every_reading_of_a_car(tmp_path):
    gt.generate(tmp_path, cars=3, days=4, readings_per_day=3, seed=5, fmt="array", files=2)
    by_car = defaultdict(list)
    for record in read_records(tmp_path):
        by_car[record["carChassis"]].append((event_time(record), record["currentMileage"]))

    for readings in by_car.values():
        readings.sort()
        mileages = [mileage for _, mileage in readings]
        assert len(mileages) == 12
        assert all(a < b for a, b in zip(mileages, mileages[1:], strict=False))


def test_rates_give_the_expected_duplicates_and_bad_records_of_each_kind(tmp_path):
    # 10 cars x 4 days x 3 readings = 120 records: 10% duplicates = 12, 15% bad = 18, spread
    # over the five reject reasons in turn: 4, 4, 4, 3, 3.
    gt.generate(
        tmp_path,
        cars=10,
        days=4,
        readings_per_day=3,
        duplicate_rate=0.1,
        bad_rate=0.15,
        seed=21,
        fmt="array",
        files=7,
    )
    files = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(tmp_path.glob("*.json"))]
    assert [len(f) for f in files] == [18, 17, 17, 17, 17, 17, 17]
    records = [r for f in files for r in f]
    assert len(records) == 120

    kinds = Counter(classify(r) for r in records)
    assert kinds == {
        "good": 102,
        "blank_chassis": 4,
        "missing_metric_timestamp": 4,
        "unparsable_metric_timestamp": 4,
        "missing_current_mileage": 3,
        "negative_current_mileage": 3,
    }
    # A duplicate repeats the mileage of another good record of the same car and day: either
    # byte-identical or re-sent later with only metricTimestamp changed.
    good = [r for r in records if classify(r) == "good"]
    groups = defaultdict(list)
    for record in good:
        groups[(record["carChassis"], event_time(record).date(), record["currentMileage"])].append(
            record
        )
    assert sum(len(group) - 1 for group in groups.values()) == 12
    identical = resent = 0
    for group in groups.values():
        first, *copies = sorted(group, key=event_time)
        for copy in copies:
            if copy == first:
                identical += 1
            else:
                assert event_time(copy) > event_time(first)
                copy["metrics"]["metricTimestamp"] = first["metrics"]["metricTimestamp"]
                assert copy == first
                resent += 1
    assert (identical, resent) == (6, 6)
    assert len({(r["carChassis"], event_time(r).date()) for r in good}) == 40


def test_iter_records_tags_each_record_with_its_kind():
    items = list(
        gt.iter_records(
            cars=4, days=2, readings_per_day=3, duplicate_rate=0.25, bad_rate=0.25, seed=9
        )
    )
    assert Counter(item.kind for item in items) == {
        "ok": 12,
        "duplicate": 6,
        "blank_chassis": 2,
        "missing_metric_timestamp": 1,
        "unparsable_metric_timestamp": 1,
        "missing_current_mileage": 1,
        "negative_current_mileage": 1,
    }
    assert sorted(item.slot for item in items) == list(range(24))
    for item in items:
        assert (item.kind == "ok") == (classify(item.record) == "good" and item.source_slot is None)


def test_seed_example_is_three_uploads_of_one_car_on_29_october(tmp_path):
    paths = gt.seed_example(tmp_path)

    assert [p.name for p in paths] == ["car_raw_1.json", "car_raw_2.json", "car_raw_3.json"]
    records = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    assert [r["currentMileage"] for r in records] == [4321, 8500, 12000]
    assert len({r["carChassis"] for r in records}) == 1
    assert {event_time(r).date() for r in records} == {date(2025, 10, 29)}
    assert all(leaves(r) == V1_FIELDS for r in records)
    assert records[0]["metrics"]["metricTimestamp"] == "Wed, 29 Oct 2025 11:00:00"


def test_seed_example_car_is_not_one_of_the_generated_cars(tmp_path):
    gt.generate(tmp_path, cars=50, days=1, readings_per_day=1)
    chassis = {r["carChassis"] for r in read_records(tmp_path)}
    assert len(chassis) == 50
    assert gt.SEED_EXAMPLE_CAR_CHASSIS not in chassis


def test_cli_writes_the_files_and_the_seed_example_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "landing"
    code = gt.main(
        [
            "--out",
            str(out),
            "--cars",
            "2",
            "--days",
            "3",
            "--readings-per-day",
            "2",
            "--bad-rate",
            "0.25",
            "--seed-example",
        ]
    )

    assert code == 0
    assert capsys.readouterr().out == (
        "wrote 12 files (12 records: blank_chassis 1, missing_metric_timestamp 1, ok 9, "
        f"unparsable_metric_timestamp 1) to {out}\n"
        "wrote the seed example: car_raw_1.json, car_raw_2.json, car_raw_3.json\n"
    )
    assert len(list(out.glob("*.json"))) == 15


def test_existing_files_need_overwrite_which_replaces_them(tmp_path):
    gt.generate(tmp_path, cars=2, days=2, readings_per_day=2)
    (tmp_path / "keep.txt").write_text("not generated")
    with pytest.raises(FileExistsError, match="overwrite"):
        gt.generate(tmp_path, cars=1, days=1, readings_per_day=2)

    gt.generate(tmp_path, cars=1, days=1, readings_per_day=2, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "car_telemetry_00001.json",
        "car_telemetry_00002.json",
        "keep.txt",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(readings_per_day=1, duplicate_rate=0.1), "raise readings_per_day"),
        (dict(files=3), "one record per file"),
        (dict(fmt="array", files=3, records_per_file=2), "not both"),
        (dict(fmt="array", files=100), "files must be"),
        (dict(bad_rate=1.0), "bad_rate must be"),
        (dict(cars=0), "cars must be"),
    ],
)
def test_rejects_inconsistent_options(tmp_path, options, message):
    arguments = dict(cars=4, days=2, readings_per_day=2) | options
    with pytest.raises(ValueError, match=message):
        gt.generate(tmp_path, **arguments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a_file", "error: cannot write into --out {tmp}/a_file: File exists"),
        ("a_file/sub", "error: cannot write into --out {tmp}/a_file/sub: Not a directory"),
    ],
)
def test_cli_on_an_out_that_cannot_be_a_folder_is_one_line(tmp_path, out, message):
    (tmp_path / "a_file").write_text("in the way")

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / out)], capture_output=True, text=True
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        message.format(tmp=tmp_path) + "\n",
    )
