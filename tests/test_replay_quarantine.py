"""scripts/ops/replay_quarantine.py: quarantined files and records back through the ingestion,
locally and on moto S3, idempotently; counts taken from the landing files themselves."""

import copy
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import handler
import local_runtime
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import replay_quarantine as replay
from ingest import core, keys
from moto import mock_aws

REPO = Path(__file__).resolve().parents[1]
LANDING_DATA = REPO / "tests" / "data" / "landing"
EVENT_TIME = dt.datetime(2025, 11, 2, 9, 30, tzinfo=dt.UTC)
MIXED = [
    {"carChassis": "A-1", "currentMileage": 100, "driver": "Ana"},
    {"carChassis": "B-2", "currentMileage": 200, "driver": {"name": "Bruno"}},  # type clash
    42,  # not an object
    {"carChassis": "C-3", "currentMileage": "12k"},  # breaks the contract
    {"carChassis": "D-4", "currentMileage": 400},
]


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def bronze_rows(tree: dict[str, bytes]) -> list[tuple[str, float]]:
    rows = []
    for key, body in tree.items():
        if key.endswith(".parquet"):
            table = pq.read_table(pa.BufferReader(body))
            chassis, mileage = table["carChassis"].to_pylist(), table["currentMileage"].to_pylist()
            rows += zip(chassis, mileage, strict=True)
    return sorted(rows)


def old_style_whole_file_item(bronze: Path, source_key: str, body: bytes) -> str:
    """A file quarantined whole by the previous Lambda (one bad record cost the whole file)."""
    store = local_runtime.LocalStore({"b": bronze})
    key = keys.quarantine_key(source_key, "etag-old", EVENT_TIME)
    sidecar = {
        "reason": "field 'driver' holds incompatible types: string and object",
        "source_bucket": "local",
        "source_key": source_key,
        "etag": "etag-old",
        "version_id": None,
        "event_time": "2025-11-02T09:30:00Z",
        "quarantine_key": key,
        "size_bytes": len(body),
    }
    store.put("b", key, body, "application/octet-stream")
    store.put("b", key + ".error.json", json.dumps(sidecar).encode(), "application/json")
    return key


@pytest.fixture
def lake(tmp_path):
    """A local bronze with the three kinds of quarantine item."""
    landing, bronze = tmp_path / "landing", tmp_path / "bronze"
    landing.mkdir()
    (landing / "mixed.json").write_text(json.dumps(MIXED))
    (landing / "broken.json").write_bytes((LANDING_DATA / "malformed.json").read_bytes())
    for name in ("mixed.json", "broken.json"):
        local_runtime.convert_local_file(landing / name, bronze, event_time=EVENT_TIME)
    conflicting = (LANDING_DATA / "conflicting_types.json").read_bytes()
    old = old_style_whole_file_item(bronze, "old/conflicting_types.json", conflicting)
    return bronze, old


def run(bronze: Path, *extra: str) -> dict:
    config = core.Config(local_runtime.LOCAL_BRONZE_BUCKET)
    store = local_runtime.LocalStore({config.bronze_bucket: bronze})
    return replay.replay(store, config, dry_run="--dry-run" in extra)


def test_dry_run_reports_and_writes_nothing(lake):
    bronze, old = lake
    before = files(bronze)

    report = run(bronze, "--dry-run")

    assert files(bronze) == before
    by_item = {item["item"]: item for item in report["items"]}
    assert by_item[old]["status"] == "replayed"
    assert (by_item[old]["rows"], by_item[old]["records_quarantined"]) == (1, 1)
    (broken,) = [i for k, i in by_item.items() if "broken" in k]
    assert broken["status"] == "still_bad"
    assert broken["reason"].startswith("malformed JSON at line 3 column 1")
    (mixed,) = [i for k, i in by_item.items() if "/mixed." in k]
    assert mixed["rows"] == 1  # Bruno's record: alone, its driver type clashes with nothing
    assert mixed["still_bad"] == [
        {"record": 2, "reason": "top-level JSON value is number, not an object or array"},
        {
            "record": 3,
            "reason": "field 'currentMileage' must be a number per the v1 contract, got string "
            '"12k"',
        },
    ]


def test_replay_puts_every_replayable_record_in_bronze_once_and_twice_adds_nothing(lake):
    bronze, old = lake
    conflicting = [
        json.loads(line)
        for line in (LANDING_DATA / "conflicting_types.json").read_text().splitlines()
    ]

    first = run(bronze)
    after_first = files(bronze)
    second = run(bronze)

    assert files(bronze) == after_first  # nothing new, nothing rewritten differently
    assert first["rows_to_bronze"] == 1 + 1 + 1  # Bruno; old file's 1st car, then its 2nd alone
    assert second["rows_to_bronze"] == 0  # this replay wrote nothing: its outcome is the marker's
    # every landing record is in bronze exactly once, or still quarantined with its reason
    expected = sorted(
        [("A-1", 100.0), ("B-2", 200.0), ("D-4", 400.0)]
        + [(r["carChassis"], float(r["currentMileage"])) for r in conflicting]
    )
    assert bronze_rows(after_first) == expected
    markers = {k: json.loads(v) for k, v in after_first.items() if k.endswith(".replayed.json")}
    assert sorted(markers) == sorted(
        [old + ".replayed.json"]
        + [k + ".replayed.json" for k in after_first if k.endswith(".records.jsonl")]
    )
    still_bad = [bad for m in markers.values() for bad in m.get("still_bad", [])]
    assert len(MIXED) + len(conflicting) == len(expected) + len(still_bad)
    statuses = {i["item"]: i["status"] for i in second["items"]}
    assert statuses[old] == "already_replayed"


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("BRONZE_BUCKET", "bronze")
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in ("landing", "bronze"):
            client.create_bucket(Bucket=bucket)
        monkeypatch.setattr(handler, "_STORE", core.S3Store(client))
        yield client


def listing(client) -> dict[str, bytes]:
    contents = client.list_objects_v2(Bucket="bronze").get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket="bronze", Key=o["Key"])["Body"].read() for o in contents
    }


def test_replay_on_s3_after_a_real_shaped_event(s3, lambda_context):
    body = json.dumps(MIXED).encode()
    etag = s3.put_object(Bucket="landing", Key="fleet/mixed.json", Body=body)["ETag"].strip('"')
    event = json.loads((REPO / "tests" / "events" / "s3_put_car_raw.json").read_text())
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = "landing"
    record["s3"]["object"].update(key="fleet/mixed.json", eTag=etag)
    handler.lambda_handler(copy.deepcopy(event), lambda_context)
    before = listing(s3)
    config = core.Config("bronze")
    store = replay.S3Bucket(s3)

    dry = replay.replay(store, config, dry_run=True)
    assert listing(s3) == before
    first = replay.replay(store, config)
    after = listing(s3)
    second = replay.replay(store, config)

    assert listing(s3) == after
    assert [i["status"] for i in dry["items"]] == [i["status"] for i in first["items"]]
    assert [(i["rows"], len(i["still_bad"])) for i in (first["items"][0], second["items"][0])] == [
        (1, 2),
        (0, 2),
    ]
    assert bronze_rows(after) == [("A-1", 100.0), ("B-2", 200.0), ("D-4", 400.0)]
    replayed = keys.bronze_key(
        "fleet/mixed.json", f"{etag}#replayed-records", record_time(event), source_bucket="landing"
    )
    assert sorted(set(after) - set(before)) == sorted(
        [replayed, first["items"][0]["item"] + ".replayed.json"]
    )


def record_time(event: dict) -> dt.datetime:
    return core.parse_event_time(event["Records"][0]["eventTime"])


def test_cli_help_and_a_local_run(lake):
    bronze, _ = lake
    script = REPO / "scripts" / "ops" / "replay_quarantine.py"
    help_text = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--dry-run" in help_text and "--bronze-root" in help_text and "--bucket" in help_text

    before = files(bronze)
    out = subprocess.run(
        [sys.executable, str(script), "--bronze-root", str(bronze), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["dry_run"] is True
    assert files(bronze) == before
    assert replay.main(["--bronze-root", str(bronze / "nope")]) == 2


def test_the_report_has_an_accounting_that_adds_up_and_counts_this_replay_only(lake):
    bronze, _ = lake

    first, second = run(bronze)["accounting"], run(bronze)["accounting"]

    contract = "field 'currentMileage' must be a number per the v1 contract, got string \"12k\""
    scalar = "top-level JSON value is number, not an object or array"
    assert first == {  # the mixed file's records, the broken file, the old file and its records
        "items_seen": 4,
        "items": {"replayed": 3, "still_bad": 1},
        "records_read": 5,
        "records_to_bronze": 3,
        "records_still_bad": {contract: 1, scalar: 1},
        "files_still_unsplittable": 1,  # the broken file
    }
    assert second == {
        "items_seen": 4,
        "items": {"already_replayed": 3, "still_bad": 1},
        "records_read": 0,
        "records_to_bronze": 0,
        "records_still_bad": {},
        "files_still_unsplittable": 1,
    }
    assert replay.accounting_line(first) == (
        "accounting: 4 items seen = 3 replayed + 1 still_bad; 5 records read = 3 to bronze"
        f" + 2 still bad (1: {contract}; 1: {scalar}); 1 files still not splittable into records"
    )


def test_each_record_of_a_type_clash_is_replayed_alone_and_reaches_silver(spark, tmp_path):
    from lake import Lake

    landing, lake = tmp_path / "landing", Lake(tmp_path / "lake")
    landing.mkdir()
    stamp = {"metrics": {"metricTimestamp": "Wed, 29 Oct 2025 11:00:00"}}
    clash = [
        {"carChassis": "A", "currentMileage": 1, "extra": "text", **stamp},
        {"carChassis": "B", "currentMileage": 2, "extra": {"an": "object"}, **stamp},
        {"carChassis": "C", "currentMileage": 3, "extra": 4.5, **stamp},
    ]
    (landing / "clash.json").write_text(json.dumps(clash))
    bronze = tmp_path / "lake" / "bronze"
    outcome = local_runtime.convert_local_file(
        landing / "clash.json", bronze, event_time=EVENT_TIME
    )
    assert outcome["quarantined_records"] == 2

    first, second = run(bronze), run(bronze)

    (item,) = first["items"]
    assert (item["status"], item["rows"], item["still_bad"]) == ("replayed", 2, [])
    assert [alone["record"] for alone in item["replayed_alone"]] == [2]
    assert second["items"] == [{"item": item["item"], "status": "already_replayed"}]
    assert (second["rows_to_bronze"], second["totals"]) == (0, {"already_replayed": 1})
    lake.run(spark)
    assert lake.silver_rows(spark, "carChassis", "currentMileage") == [
        ("A", 1.0),
        ("B", 2.0),
        ("C", 3.0),
    ]


def no_aws_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


SCRIPT = REPO / "scripts" / "ops" / "replay_quarantine.py"


def test_without_credentials_or_on_a_bronze_that_cannot_be_written_is_one_line(lake, tmp_path):
    no_credentials = subprocess.run(
        [sys.executable, str(SCRIPT), "--bucket", "bronze", "--region", "eu-west-1"],
        capture_output=True,
        text=True,
        env=no_aws_env(tmp_path),
    )
    assert (no_credentials.returncode, no_credentials.stdout, no_credentials.stderr) == (
        1,
        "",
        "replay_quarantine: failed: no AWS credentials found: configure them (AWS_PROFILE,"
        " aws configure, ...)\n",
    )

    bronze, _ = lake
    shutil.rmtree(bronze / "car_data")
    (bronze / "car_data").write_text("a file where the bronze table belongs")
    blocked = subprocess.run(
        [sys.executable, str(SCRIPT), "--bronze-root", str(bronze)], capture_output=True, text=True
    )
    assert (blocked.returncode, blocked.stdout) == (1, "")
    assert blocked.stderr.startswith("replay_quarantine: failed: [Errno 20] Not a directory: ")
    assert blocked.stderr.count("\n") == 1


def test_help_says_the_whole_first_sentence_and_takes_a_region():
    help_text = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(help_text.split())
    assert (
        "Put quarantined landing content back through the ingestion, once the producer or the"
        " contract has been fixed." in flat
    )
    assert "--region REGION" in flat
