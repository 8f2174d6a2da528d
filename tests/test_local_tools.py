"""The local tools as a person at the keyboard meets them: make's targets, the demo's folder, the
benchmark baseline's command line, the progress line."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import duckdb
import local_cli
import pyarrow as pa
import pyarrow.parquet as pq
import run_demo

REPO = Path(__file__).resolve().parents[1]


def make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_help_lists_every_target_with_a_description():
    shown = [line.split()[0].removeprefix("\x1b[36m") for line in make("help").splitlines()]
    names = [name.split("\x1b")[0] for name in shown]
    assert "bench-2m" in names
    phony = next(
        line for line in (REPO / "Makefile").read_text().splitlines() if line.startswith(".PHONY")
    )
    assert sorted(phony.split()[1:]) == sorted(names)


def test_make_demo_needs_neither_the_npm_evaluator_nor_checkov():
    # -W: as if the evaluator's and checkov's locks had changed; -n: print, do not run
    planned = make(
        "-n", "-W", "tests/iam_eval/package-lock.json", "-W", "requirements/tools.txt", "demo"
    )
    assert "npm" not in planned
    assert "checkov" not in planned and ".venv-tools" not in planned
    assert "scripts/local/run_demo.py --lake demo-lake" in planned


def test_the_demo_refuses_to_clear_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "lake" / "silver").mkdir(parents=True)
    (tmp_path / "lake" / "silver" / "mine.parquet").write_text("someone's data")

    code = run_demo.main(["--lake", str(tmp_path / "lake")])

    assert (code, capsys.readouterr().err) == (
        2,
        f"run_demo: {tmp_path}/lake is not empty and was not made by the demo (no .demo-lake"
        " inside); refusing to clear it: pass another --lake\n",
    )
    assert (tmp_path / "lake" / "silver" / "mine.parquet").read_text() == "someone's data"


def test_the_demo_reads_silver_from_a_folder_with_a_quote_in_its_name(tmp_path):
    silver = tmp_path / "o'brien demo" / "car_telemetry"
    part = silver / "event_year=2025" / "event_month=10" / "event_day=29"
    part.mkdir(parents=True)
    pq.write_table(pa.table({"carChassis": ["A"]}), part / "part-0.parquet")
    con = duckdb.connect()

    run_demo.silver_view(con, silver)

    table = f"{run_demo.DEMO_DATABASE}.{run_demo.DEMO_TABLE}"
    assert con.execute(f"SELECT carChassis, event_day FROM {table}").fetchall() == [("A", "29")]


def test_the_lean_jobs_help_is_a_usage_text():
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "lean_job.py"), "--help"],
        capture_output=True,
        text=True,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: lean_job.py [-h] bronze_dir silver_dir quarantine_dir")


def test_an_error_while_a_count_is_on_screen_starts_a_line_of_its_own(capsys):
    screen = io.StringIO()
    progress = local_cli.Progress(screen, enabled=True)

    def body() -> int:
        progress.count("landing files converted", 1, 3)
        raise KeyboardInterrupt

    with contextlib.redirect_stderr(screen):
        assert local_cli.run_main("tool", body) == 130
    progress.count("landing files converted", 3, 3)  # a count that ends ends its line itself
    assert screen.getvalue() == (
        "\rlanding files converted: 1 of 3\x1b[K\ntool: interrupted\n"
        "\rlanding files converted: 3 of 3\x1b[K\n"
    )
