"""The local runtime's Lambda stand-ins: the same `process_object` on local folders."""

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import local_runtime
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest import core, keys

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "scripts" / "local" / "local_runtime.py"
LANDING_DATA = REPO / "tests" / "data" / "landing"
MTIME = dt.datetime(2025, 11, 3, 21, 0, 3, 250000, tzinfo=dt.UTC)


def landing_copy(root: Path, relative: str, sample: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((LANDING_DATA / sample).read_bytes())
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    return path


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_converts_into_the_bronze_layout_with_md5_etag_and_mtime(tmp_path):
    landing = tmp_path / "landing"
    path = landing_copy(landing, "fleet/2025/v1_array.json", "v1_array.json")
    md5 = hashlib.md5(path.read_bytes()).hexdigest()

    outcome = local_runtime.convert_local_file(path, tmp_path / "bronze", landing_root=landing)

    key = keys.bronze_key("fleet/2025/v1_array.json", md5, MTIME, source_bucket="local")
    assert key.startswith("car_data/ingest_year=2025/ingest_month=11/ingest_day=03/v1_array-")
    assert outcome == {
        "status": "processed",
        "source_bucket": "local",
        "source_key": "fleet/2025/v1_array.json",
        "target_bucket": "local-bronze",
        "target_key": key,
        "rows": 3,
        "bytes": (tmp_path / "bronze" / key).stat().st_size,
        "target_path": str(tmp_path / "bronze" / key),
    }
    assert files_under(tmp_path / "bronze") == [key]  # no temporary file left behind
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "bronze" / key).stat().st_mode & 0o777 == 0o666 & ~umask
    table = pq.read_table(pa.BufferReader((tmp_path / "bronze" / key).read_bytes()))
    assert (
        table.select(["source_bucket", "source_file", "ingestion_timestamp"]).to_pylist()
        == [
            {
                "source_bucket": "local",
                "source_file": "fleet/2025/v1_array.json",
                "ingestion_timestamp": MTIME,
            }
        ]
        * 3
    )


def test_source_file_defaults_to_the_file_name(tmp_path):
    path = landing_copy(tmp_path / "in", "deep/dir/v1_car.json", "v1_car.json")

    outcome = local_runtime.convert_local_file(path, tmp_path / "bronze")

    assert outcome["source_key"] == "v1_car.json"


def test_bad_content_is_quarantined_locally_with_its_sidecar(tmp_path):
    landing = tmp_path / "landing"
    path = landing_copy(landing, "cars/malformed.json", "malformed.json")

    outcome = local_runtime.convert_local_file(
        path, tmp_path / "bronze", landing_root=landing, quarantine_prefix="rejected"
    )

    # no eTag locally: the copy is named by the MD5 of the content (what S3's ETag would be)
    short = hashlib.sha256(hashlib.md5(path.read_bytes()).hexdigest().encode()).hexdigest()[:8]
    copy_key = f"rejected/2025-11-03/cars/malformed.{short}.json"
    reason = "malformed JSON at line 3 column 1: Expecting property name enclosed in double quotes"
    assert outcome == {
        "status": "quarantined",
        "source_bucket": "local",
        "source_key": "cars/malformed.json",
        "target_bucket": "local-bronze",
        "target_key": copy_key,
        "error_key": f"{copy_key}.error.json",
        "reason": reason,
        "target_path": str(tmp_path / "bronze" / copy_key),
        "error_path": str(tmp_path / "bronze" / f"{copy_key}.error.json"),
    }
    assert files_under(tmp_path / "bronze") == [copy_key, f"{copy_key}.error.json"]
    assert (tmp_path / "bronze" / copy_key).read_bytes() == path.read_bytes()
    sidecar = json.loads((tmp_path / "bronze" / f"{copy_key}.error.json").read_text())
    assert sidecar == {
        "reason": reason,
        "source_bucket": "local",
        "source_key": "cars/malformed.json",
        "etag": hashlib.md5(path.read_bytes()).hexdigest(),
        "version_id": None,
        "event_time": "2025-11-03T21:00:03.250000Z",
        "quarantine_key": copy_key,
        "size_bytes": path.stat().st_size,
    }


def test_non_json_files_are_skipped_without_output(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not telemetry")

    outcome = local_runtime.convert_local_file(path, tmp_path / "bronze")

    assert outcome == {
        "status": "skipped",
        "source_bucket": "local",
        "source_key": "notes.txt",
        "reason": "not a .json key",
    }
    assert not (tmp_path / "bronze").exists()


def test_local_store_refuses_keys_that_escape_its_root(tmp_path):
    store = local_runtime.LocalStore({"b": tmp_path})

    for key in ("../outside.json", "a//b.json", "/abs.json", "a/./b.json"):
        with pytest.raises(ValueError, match="cannot be mapped safely"):
            store.put("b", key, b"{}", "application/json")
    assert files_under(tmp_path) == []


def test_cli_gives_the_same_bytes_in_a_fresh_process(tmp_path):
    landing = tmp_path / "landing"
    car = landing_copy(landing, "a/v1_car.json", "v1_car.json")
    bad = landing_copy(landing, "a/empty.json", "empty.json")
    in_process = local_runtime.convert_local_file(
        car, tmp_path / "in_process", landing_root=landing
    )

    cli = subprocess.run(
        [sys.executable, str(CLI), str(car), str(bad), "--bronze", str(tmp_path / "cli")]
        + ["--landing-root", str(landing)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )

    summary = json.loads(cli.stdout)
    assert [p["target_key"] for p in summary["processed"]] == [in_process["target_key"]]
    assert [(q["source_key"], q["reason"]) for q in summary["quarantined"]] == [
        ("a/empty.json", "empty file (0 bytes)")
    ]
    expected = Path(in_process["target_path"]).read_bytes()
    assert (tmp_path / "cli" / in_process["target_key"]).read_bytes() == expected


def test_importing_the_handler_by_module_name_creates_no_client(tmp_path):
    probe = (
        "import sys, handler; assert 'boto3' not in sys.modules, 'boto3 imported'; print('clean')"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )

    assert (result.returncode, result.stdout.strip()) == (0, "clean"), result.stderr


def test_deeply_nested_file_is_quarantined_not_an_abort_of_the_run(tmp_path):
    landing = tmp_path / "landing"
    deep = landing / "deep.json"
    deep.parent.mkdir(parents=True)
    deep.write_bytes(b'{"a": ' * 900 + b"1" + b"}" * 900)  # a RecursionError on every run before
    car = landing_copy(landing, "v1_car.json", "v1_car.json")

    outcomes = [
        local_runtime.convert_local_file(path, tmp_path / "bronze", landing_root=landing)
        for path in (deep, car)
    ]

    # the file's one record is too deep: it is quarantined alone, as one JSON line
    assert [o["status"] for o in outcomes] == ["quarantined", "processed"]
    assert outcomes[0]["reason"].startswith("nested deeper than 64 levels (at field 'a.a.a.")
    assert outcomes[0]["quarantined_records"] == 1
    (line,) = Path(outcomes[0]["target_path"]).read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["text"].encode() == deep.read_bytes()


def test_local_store_checks_if_match_against_the_md5_of_the_file(tmp_path):
    (tmp_path / "car.json").write_bytes(b'{"a": 1}')
    store = local_runtime.LocalStore({"b": tmp_path})
    md5 = hashlib.md5(b'{"a": 1}').hexdigest()

    assert store.get("b", "car.json", if_match=f'"{md5}"') == b'{"a": 1}'
    assert store.get("b", "car.json") == b'{"a": 1}'
    with pytest.raises(core.SourceChanged):
        store.get("b", "car.json", if_match="0" * 32)


def test_an_event_whose_upload_was_replaced_leaves_a_superseded_record(tmp_path):
    landing = tmp_path / "landing"
    landing_copy(landing, "cars/car.json", "v1_car.json")
    store = local_runtime.LocalStore({"landing": landing, "bronze": tmp_path / "bronze"})
    stale = core.SourceObject("landing", "cars/car.json", MTIME, etag="0" * 32)

    outcome = core.process_object(store, stale, core.Config("bronze"))

    key = keys.superseded_key("cars/car.json", "0" * 32, MTIME)
    assert outcome["status"] == "skipped"
    assert outcome["error_key"] == key
    assert files_under(tmp_path / "bronze") == [key]
    record = json.loads((tmp_path / "bronze" / key).read_text())
    assert record["reason"] == core.SUPERSEDED_REASON
    assert record["etag"] == "0" * 32


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("landing", "local_runtime: {tmp}/landing is a folder: give landing files"),
        (
            "landing/nope.json",
            "local_runtime: {tmp}/landing/nope.json is not a file: give landing files",
        ),
    ],
)
def test_cli_refuses_a_folder_or_a_missing_file_in_one_line(tmp_path, given, message):
    (tmp_path / "landing").mkdir()

    result = subprocess.run(
        [sys.executable, str(CLI), str(tmp_path / given), "--bronze", str(tmp_path / "bronze")],
        capture_output=True,
        text=True,
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        message.format(tmp=tmp_path) + "\n",
    )


def test_cli_on_a_bronze_that_cannot_be_written_is_one_line(tmp_path):
    car = landing_copy(tmp_path / "landing", "v1_car.json", "v1_car.json")
    (tmp_path / "bronze").mkdir()
    (tmp_path / "bronze" / "car_data").write_text("a file where the bronze table belongs")

    result = subprocess.run(
        [sys.executable, str(CLI), str(car), "--bronze", str(tmp_path / "bronze")],
        capture_output=True,
        text=True,
    )

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("local_runtime: failed: [Errno 20] Not a directory: ")
    assert result.stderr.count("\n") == 1


def test_a_local_session_leaves_ctrl_c_to_python(spark):
    """PySpark's own SIGINT handler cancels jobs through py4j, which fails with a traceback when
    the signal lands inside another py4j call; the local session restores Python's default."""
    import signal

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
