"""S3 request benchmark (``make bench``): the S3 requests of one hourly run of the job, by kind,
and the bytes they carry, on silver histories of 1 and 365 days, under both directory-marker
policies, with the commit's server-side copy and with the Hadoop copy it replaced, side by side
in one process (see docs/benchmarks/s3-requests.md).

The job runs in this process on s3a:// paths against moto's S3 server (tests/s3_server.py via
scripts/local/local_s3.py), which records every request it answers. Each cell starts from a
fresh server: bronze (the 20,000-record batch of bench_consolidation.py, converted by the
Lambda's own code) and a silver history (bench_consolidation.build_history, from the job's own
output for the batch, with the column-type registry beside it) uploaded; then one run of the
job, whose requests alone are counted. ``FileUtil.copy`` is the job's copy before 991506a
(Hadoop's FileUtil.copy: a GET and a PUT through the driver), monkeypatched onto ``Files.copy``
for its cells. Counts are deterministic; times are noisy and secondary.

    .venv/bin/python bench/bench_s3_requests.py --out docs/benchmarks
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import bench_consolidation as consolidation
import local_job
import local_runtime
import local_s3
from silver_job.commit import commit_root
from silver_job.config import JobConfig
from silver_job.contract import SCHEMA_REGISTRY
from silver_job.files import Files

HISTORY_DAYS = (1, 365)
MARKERS = ("keep", "delete")  # Glue 5.1's Hadoop 3.4 default; Hadoop 3.3.4's
COPIES = ("server-side copy", "FileUtil.copy")
RECORDS = consolidation.HISTORY_RECORDS
MB = 2**20


def fileutil_copy(self: Files, source: str, target: str) -> None:
    """`Files.copy` as it was before 991506a: Hadoop reads the file and writes it again."""
    src_fs, src = self._resolve(source)
    dst_fs, dst = self._resolve(target)
    util = self._jvm.org.apache.hadoop.fs.FileUtil
    if not util.copy(src_fs, src, dst_fs, dst, False, True, self._conf):
        raise OSError(f"could not copy {source} to {target}")


# --- Data -------------------------------------------------------------------------------------
def prepare(spark, work: Path) -> tuple[Path, Path, Path]:
    """The batch's bronze, and the job's own output for it on an empty silver (the template of
    every history) with its column-type registry, made on local files."""
    bronze = consolidation.build_bronze(work, RECORDS)
    lake = work / "template"
    shutil.rmtree(lake, ignore_errors=True)
    silver = lake / "silver" / "car_telemetry"
    config = JobConfig(
        str(bronze), str(silver), str(lake / "silver" / "quarantine"), state_path=str(lake / "st")
    )
    summary = local_job.run_local(spark, config)
    if summary["status"] != "ok":
        raise RuntimeError(f"the template run failed: {summary}")
    return bronze, silver, Path(commit_root(str(silver))) / SCHEMA_REGISTRY


# --- One cell ---------------------------------------------------------------------------------
def reset(server) -> None:
    """moto's backends emptied: every bucket and object gone."""
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/moto-api/reset", b""))


def run_cell(spark, server, data: dict, days: int, marker: str, copy: str, scratch: Path) -> dict:
    """A fresh server with bronze and `days` of silver; one run of the job, its requests."""
    reset(server)
    lake = local_s3.S3Lake(server, scratch / "state")
    shutil.rmtree(lake.state, ignore_errors=True)
    config = lake.config()
    lake.upload_tree(data["bronze"], local_s3.BRONZE_BUCKET, local_s3.BRONZE_PREFIX)
    lake.upload_tree(data["history"][days], local_s3.SILVER_BUCKET, local_s3.SILVER_PREFIX)
    registry_key = commit_root(local_s3.SILVER_PREFIX.rstrip("/")) + "/" + SCHEMA_REGISTRY
    server.client().upload_file(str(data["registry"]), local_s3.SILVER_BUCKET, registry_key)
    local_s3.connect(spark, server, marker)
    saved = Files.copy
    if copy == "FileUtil.copy":
        Files.copy = fileutil_copy
    try:
        server.clear()
        started = time.perf_counter()
        summary = local_job.run_local(spark, config)
        seconds = time.perf_counter() - started
        requests = server.requests()
    finally:
        Files.copy = saved
    silver = lake.download(local_s3.SILVER_BUCKET, local_s3.SILVER_PREFIX, scratch / "silver")
    right = consolidation.day_mileage(silver) == data["expected"][days]
    shutil.rmtree(silver)
    objects = server.objects(local_s3.SILVER_BUCKET)
    return {
        "days": days,
        "markers": marker,
        "copy": copy,
        "status": summary["status"],
        "rows_right": right,
        "partitions_written": summary["partitions_written"],
        "counts": local_s3.kind_counts(requests),
        "bytes": transferred(requests),
        "areas": areas(requests),
        "requests": dict(sorted(Counter(normalized(r) for r in requests).items())),
        # the silver bucket's data objects after the run (by ETag: the same bytes whichever copy)
        "silver_etags": sorted(
            etag
            for key, etag in objects.items()
            if key.endswith(".parquet") and "_commits/" not in key
        ),
        "run_s": round(seconds, 1),
    }


# --- Classifying the requests -----------------------------------------------------------------
STAGING = commit_root(local_s3.SILVER_PREFIX.rstrip("/")) + "/"
COPIES_IN = {"PUT", "MULTIPART"}


def transferred(requests) -> dict[str, int]:
    """Bytes of the data objects (Parquet): read by Spark's tasks (GET of bronze and silver),
    written by them (PUT into the run's staging), and moved by the driver's commit copy (GET of
    a staged file, PUT into a table); and every other byte (listings, manifest, registry)."""
    out = Counter()
    for r in requests:
        data, staged = r.key.endswith(".parquet"), r.key.startswith(STAGING)
        if data and r.kind == "GET":
            out["copy_get" if staged else "task_get"] += r.response_length
        elif data and r.kind in COPIES_IN:
            out["task_put" if staged else "copy_put"] += r.length
        else:
            out["other"] += r.length + r.response_length
    return {k: out[k] for k in ("task_get", "task_put", "copy_get", "copy_put", "other")}


def area(r) -> str:
    """Which part of the lake a request is about (by its key, a listing's prefix, or the keys a
    DeleteObjects names)."""
    path = r.key or r.params.get("prefix", "") or (r.deleted[0] if r.deleted else "")
    path = path.rstrip("/") + "/"
    if r.bucket == local_s3.BRONZE_BUCKET:
        return "bronze"
    if path.startswith(STAGING):  # a run's folder, or the root's own files and listing
        first = path[len(STAGING) :].split("/")[0]
        folder = first and not first.endswith((".json", ".done"))
        return "the run's staging (Spark's write)" if folder else "commit root (manifest, registry)"
    if path.startswith(local_s3.SILVER_PREFIX):
        return "silver table"
    if path.startswith(local_s3.QUARANTINE_PREFIX):
        return "quarantine table"
    return "other"


def areas(requests) -> dict[str, dict[str, int]]:
    found: dict[str, list] = {}
    for r in requests:
        found.setdefault(area(r), []).append(r)
    return {name: local_s3.kind_counts(rs) for name, rs in sorted(found.items())}


PATTERNS = (
    (re.compile(r"local-\d{8}T\d+-\d+"), "<run>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"(attempt|task|job)_\d+(_\d+)*(_m(_\d+)+)?"), r"<\1>"),
)


def normalized(r) -> str:
    """A request with the run's own names (run id, Spark's UUIDs) blanked, to compare runs."""
    query = "&".join(f"{k}={v}" if k == "prefix" else k for k, v in r.query)
    text = f"{r.kind} {r.bucket}/{r.key}" + (f"?{query}" if query else "")
    text += f" ({len(r.deleted)} keys)" if r.deleted else ""
    for pattern, blank in PATTERNS:
        text = pattern.sub(blank, text)
    return text


def growth(first: dict, last: dict) -> list[str]:
    """The requests one run sends more (+) or fewer (-) on the longer history."""
    a, b = Counter(first["requests"]), Counter(last["requests"])
    return [f"+{n} {req}" for req, n in sorted((b - a).items())] + [
        f"-{n} {req}" for req, n in sorted((a - b).items())
    ]


# --- Report -----------------------------------------------------------------------------------
def mb(n: int) -> str:
    return f"{n / MB:.2f}"


def counts_table(cells: list[dict]) -> str:
    header = ["history days", "markers", "copy", *local_s3.KINDS, "other", "total"]
    header += ["task GET MB", "task PUT MB", "through the driver MB", "rows right"]
    rows = []
    for c in cells:
        b = c["bytes"]
        rows.append(
            [c["days"], c["markers"], c["copy"], *c["counts"].values()]
            + [mb(b["task_get"]), mb(b["task_put"]), mb(b["copy_get"] + b["copy_put"])]
            + ["yes" if c["rows_right"] and c["status"] == "ok" else "**NO**"]
        )
    return consolidation.md_table(header, rows)


def growth_table(cells: list[dict]) -> str:
    header = ["markers", "copy", "total (1 d)", "total (365 d)", "requests that differ"]
    rows = []
    for marker in MARKERS:
        for copy in COPIES:
            pair = [c for c in cells if c["markers"] == marker and c["copy"] == copy]
            first, last = min(pair, key=lambda c: c["days"]), max(pair, key=lambda c: c["days"])
            diff = growth(first, last)
            rows.append(
                [marker, copy, first["counts"]["total"], last["counts"]["total"]]
                + ["none" if not diff else "<br>".join(f"`{d}`" for d in diff[:12])]
            )
    return consolidation.md_table(header, rows)


def areas_table(cells: list[dict]) -> str:
    header = ["markers", "copy", "where", *local_s3.KINDS, "other", "total"]
    rows = []
    for c in cells:
        if c["days"] != HISTORY_DAYS[-1]:
            continue
        for name, counts in c["areas"].items():
            rows.append([c["markers"], c["copy"], name, *counts.values()])
    return consolidation.md_table(header, rows)


def render(cells: list[dict], out: Path) -> None:
    """The tables, printed and filled into the marked sections of s3-requests.md."""
    tables = {"counts": counts_table, "growth": growth_table, "areas": areas_table}
    for name, table in tables.items():
        text = table(cells)
        print(f"\n{name}:\n{text}")
        consolidation.fill(out / "s3-requests.md", f"s3-{name}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=consolidation.REPO / "docs" / "benchmarks")
    parser.add_argument("--workdir", type=Path, help="keeps the generated bronze between runs")
    parser.add_argument("--days", default="1,365", help="two silver histories, comma-separated")
    parser.add_argument("--render", action="store_true", help="only the tables, from the JSON")
    args = parser.parse_args(argv)
    global HISTORY_DAYS
    HISTORY_DAYS = tuple(int(d) for d in args.days.split(","))
    if args.render:
        render(json.loads((args.out / "s3-requests.json").read_text())["cells"], args.out)
        return 0
    os.environ["TZ"] = "UTC"
    time.tzset()
    started = time.perf_counter()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-s3-"))
    work.mkdir(parents=True, exist_ok=True)
    spark = local_runtime.spark_session("bench-s3-requests", conf=consolidation.CHILD_CONF)
    server = local_s3.S3Server().start()
    load = [round(x, 2) for x in os.getloadavg()]
    cells: list[dict] = []
    try:
        bronze, template, registry = prepare(spark, work)
        data = {"bronze": bronze, "registry": registry, "history": {}, "expected": {}}
        with tempfile.TemporaryDirectory(prefix="runs-", dir=work) as scratch:
            for days in HISTORY_DAYS:
                history = Path(scratch) / f"history_{days}"
                data["expected"][days] = consolidation.build_history(template, history, days)
                data["history"][days] = history
            for days in HISTORY_DAYS:
                for marker in MARKERS:
                    for copy in COPIES:  # side by side: the two copies on the same state
                        cell = run_cell(spark, server, data, days, marker, copy, Path(scratch))
                        cells.append(cell)
                        print(
                            f"[{time.perf_counter() - started:5.0f} s] {days} d, markers "
                            f"{marker}, {copy}: {cell['counts']}, rows right {cell['rows_right']}",
                            flush=True,
                        )
    finally:
        server.stop()
        spark.stop()
    for days in HISTORY_DAYS:  # the same silver objects whichever copy made them
        for marker in MARKERS:
            pair = [c["silver_etags"] for c in cells if (c["days"], c["markers"]) == (days, marker)]
            if pair[0] != pair[1]:
                raise RuntimeError(f"the two copies left different silver ({days} d, {marker})")
    report = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_at_start": load,
        "records": RECORDS,
        "cells": [{k: v for k, v in c.items() if k != "silver_etags"} for c in cells],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "s3-requests.json").write_text(json.dumps(report, indent=1) + "\n")
    render(report["cells"], args.out)
    if not args.workdir:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
