"""Benchmark of the ingestion Lambda's conversion core (``make bench``).

Generates v1 landing files in a temporary folder (deterministic, seeded): ~1 KB (one
pretty-printed object), ~1 MB (JSON Lines) and ~50 MB (a JSON array of ~100k records): clean,
with 1 % bad records, with every record bad (a producer release sending ``currentMileage`` as
``"12k"``), and with 1 % of records whose unknown field changes type. Each file is converted
in a fresh Python process through ``convert_local_file`` -- the same ``process_object`` code
path as the Lambda handler -- measuring:

- wall time of the conversion (module import excluded, reported separately); for 1 KB the
  median of warm runs in the same process (the first, cold run is reported too);
- peak RSS of the child process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), which includes
  the interpreter and the pyarrow import.

It also times the parse of the clean 50 MB file (``Payload.items``) with and without the
duplicate-key check. ``--baseline-rev REV`` converts every file with the Lambda code of a git
revision too (its ``lambdas/ingestion`` and ``local_runtime.py``), in turn with the
current code, for a before/after table.

Writes ``<out>/ingestion.md`` and ``<out>/ingestion.json`` and prints the table.

    .venv/bin/python bench/bench_ingestion.py --out docs/benchmarks [--baseline-rev faef9de]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

SEED = 20251029
WARM_RUNS = 25
TARGET_RSS_MB_50MB = 400
TARGET_SECONDS_50MB = 5.0
TARGET_WARM_MS_1KB = 50.0
# The CPU share of a Lambda function is proportional to its memory: at 1,769 MB it has the
# equivalent of one vCPU (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html);
# the ingestion function has 512 MB and a 120 s timeout (terraform/modules/ingestion).
LAMBDA_MEMORY_MB, LAMBDA_MB_PER_VCPU, LAMBDA_TIMEOUT_S = 512, 1769, 120

SIZES = (
    # label, layout, records, share of bad records, what makes a record bad
    ("1 KB", "object", 1, 0.0, "bad"),
    ("1 MB", "lines", 2_000, 0.0, "bad"),
    ("50 MB", "array", 100_000, 0.0, "bad"),
    ("50 MB, 1 % bad", "array", 100_000, 0.01, "bad"),
    ("50 MB, all bad", "array", 100_000, 1.0, "mileage"),
    ("50 MB, 1 % drifting type", "array", 100_000, 0.01, "drift"),
)
# The 50 MB files are converted this many times each, in turn, so that all see the same load
# on a shared machine; medians are compared.
REPEATS_50MB = 5
TARGET_BAD_OVERHEAD = 0.10
# An all-bad file's peak RSS over the clean file's (issue 24)
TARGET_ALL_BAD_RSS = 0.15
PARSE_REPEATS = 5
CURRENT = "current"  # the code of this checkout (a baseline revision is named "rev <REV>")


def _deep(levels: int) -> dict:
    value: object = 1
    for _ in range(levels):
        value = {"a": value}
    return value


# Every bad-record kind of the Lambda, in turn: each costs only its own record.
BAD_KINDS = (
    lambda r: {**r, "currentMileage": "12k"},
    lambda r: {**r, "horsePower": "high"},
    lambda r: {**r, "year": 2024.5},
    lambda r: {**r, "metrics": "n/a"},
    lambda r: 42,
    lambda r: {**r, "currentMileage": float("inf")},  # written as Infinity
    lambda r: {**r, "color": "Blue", "Color": "blue"},
    lambda r: {**r, "x": _deep(70)},
)

# An unknown field whose type drifts: every record of the file names its driver (a string);
# in every 100th one the name is some other kind of value, each kind in turn. The first record
# to give the field a type fixes it: only the drifting records are quarantined.
DRIVERS = ("Ana", "Bruno", "Carla", "Davi", "Elisa")
DRIFT_KINDS = (
    lambda r: {**r, "driver": {"name": r["driver"]}},
    lambda r: {**r, "driver": 7},
    lambda r: {**r, "driver": [r["driver"]]},
    lambda r: {**r, "driver": True},
)
KINDS = {"bad": BAD_KINDS, "drift": DRIFT_KINDS}
KINDS["mileage"] = BAD_KINDS[:1]  # one bad producer release: mileage as text in every record

MODELS = (
    ("Hyundai", "HB20 Sedan"),
    ("Volkswagen", "Polo"),
    ("Fiat", "Argo"),
    ("Chevrolet", "Onix"),
    ("Toyota", "Corolla Cross"),
    ("Renault", "Kwid"),
)
CITIES = ("Recife, PE", "São Paulo, SP", "Curitiba, PR", "Belo Horizonte, MG", "Manaus, AM")
COLORS = ("Blue", "white", "Silver ", "black", "Red", "GRAY")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def make_record(rng: random.Random, i: int) -> dict:
    """One v1 landing record; numbers are a mix of JSON integers and floats, as producers send.

    Every 4th record of a car stream is a full v1 record (static vehicle data, insurance,
    market); the others carry the telemetry only (carChassis, currentMileage, metrics), the
    missing optional fields being null in bronze.
    """
    record = _full_record(rng, i)
    if i % 4:
        record = {k: record[k] for k in ("carChassis", "currentMileage", "metrics")}
    return record


def _full_record(rng: random.Random, i: int) -> dict:
    manufacturer, model = rng.choice(MODELS)
    day = 1 + i % 28
    hour = rng.randrange(24)
    stamp = f"{DAYS[day % 7]}, {day:02d} Oct 2025 {hour:02d}:{rng.randrange(60):02d}:00"
    trip_start = f"{DAYS[day % 7]}, {day:02d} Oct 2025 {max(hour - 1, 0):02d}:12:35"
    return {
        "carChassis": f"CH{i % 5000:06d}{rng.getrandbits(64):016x}",
        "Model": model,
        "year": rng.randrange(2015, 2026),
        "ModelYear": rng.randrange(2016, 2027),
        "Manufacturer": manufacturer.lower() if i % 3 else manufacturer,
        "horsePower": rng.choice((75, 90, 120, 150, 177.5)),
        "gasType": rng.choice(("Flex", "Gasoline", "Diesel", "Electric")),
        "currentMileage": rng.randrange(0, 250_000) if i % 4 else round(rng.uniform(0, 9e4), 1),
        "color": rng.choice(COLORS),
        "fuelCapacityLiters": rng.choice((40, 44, 50, 55.5)),
        "metrics": {
            "engineTempCelsius": rng.randrange(70, 120),
            "oilTempCelsius": round(rng.uniform(80, 130), 1),
            "batteryChargePerc": rng.randrange(0, 101),
            "fuelAvailableLiters": round(rng.uniform(0, 50), 2),
            "coolantCelsius": rng.randrange(70, 110),
            "trip": {
                "tripMileage": round(rng.uniform(0, 400), 1),
                "tripTimeMinutes": rng.randrange(1, 300),
                "tripFuelLiters": round(rng.uniform(0, 40), 2),
                "tripMaxSpeedKm": rng.randrange(20, 190),
                "tripAverageSpeedKm": rng.randrange(10, 110),
                "tripStartTimestamp": trip_start,
            },
            "metricTimestamp": stamp,
        },
        "carInsurance": {
            "number": f"INS-{rng.randrange(10**8, 10**9)}",
            "provider": rng.choice(("SafeAuto", "Porto Seguro", "Bradesco Seguros")),
            "validUntil": f"{rng.randrange(2025, 2028)}-{rng.randrange(1, 13):02d}-15",
        },
        "market": {
            "currentPrice": rng.randrange(40_000, 250_000),
            "currency": "BRL",
            "location": rng.choice(CITIES),
            "dealer": f"Dealer {rng.randrange(100)}",
            "warrantyYears": rng.choice((1, 2, 3, 5)),
            "evaluator": "Tabela Fipe",
        },
    }


def write_landing(
    path: Path,
    layout: str,
    records: int,
    bad_rate: float = 0.0,
    seed: int = SEED,
    kind: str = "bad",
) -> None:
    """The clean file's records (the same with any ``kind``), every ``1 / bad_rate``-th made bad
    by each of ``KINDS[kind]`` in turn; with "drift", every record has a driver."""
    rng = random.Random(seed)
    every = round(1 / bad_rate) if bad_rate else 0
    kinds = KINDS[kind]

    def record(i: int):
        good = make_record(rng, i)
        if kind == "drift":
            good["driver"] = DRIVERS[i % len(DRIVERS)]
        bad = every and i % every == 7 % every
        return kinds[(i // every) % len(kinds)](good) if bad else good

    with path.open("w", encoding="utf-8") as handle:
        if layout == "object":
            json.dump(make_record(rng, 0), handle, indent=2, ensure_ascii=False)
        elif layout == "lines":
            for i in range(records):
                handle.write(json.dumps(record(i), ensure_ascii=False) + "\n")
        else:
            handle.write("[\n")
            for i in range(records):
                text = json.dumps(record(i), ensure_ascii=False, separators=(",", ":"))
                handle.write(("" if i == 0 else ",\n") + text)
            handle.write("\n]\n")


def child(landing: Path, bronze: Path, runs: int, code: str | None) -> None:
    """Runs in the fresh subprocess: import (the code under ``code`` first, if given), convert
    ``runs`` times, report JSON on stdout."""
    if code:
        # both layouts: scripts/ before the package layout, scripts/local/ since
        folders = ("scripts/local", "scripts", "lambdas/ingestion", "glue_jobs")
        sys.path[:0] = [str(Path(code, folder)) for folder in folders]
    started = time.perf_counter()
    import local_runtime  # the Lambda's code and its local stand-ins, by module name

    import_s = time.perf_counter() - started
    times, cpu_times, outcome = [], [], None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        outcome = local_runtime.convert_local_file(landing, bronze)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    lines = reasons = 0  # the quarantine file's lines, and those with a reason (after the peak)
    if "quarantine_key" in outcome:
        with (bronze / outcome["quarantine_key"]).open(encoding="utf-8") as handle:
            for line in handle:
                lines, reasons = lines + 1, reasons + bool(json.loads(line)["reason"])
    result = {
        "import_s": import_s,
        "times_s": times,
        "cold_cpu_s": cpu_times[0],
        "peak_rss_mb": peak_kb / 1024,
        "status": outcome["status"],
        "rows": outcome.get("rows"),
        "quarantined_records": outcome.get("quarantined_records", 0),
        "quarantine_lines": lines,
        "quarantine_lines_with_reason": reasons,
        "parquet_bytes": outcome.get("bytes"),
    }
    print(json.dumps(result))


def run_child(*args: object) -> tuple[dict, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def baseline_code(rev: str, folder: Path) -> Path:
    """The Lambda code of git revision ``rev`` (``lambdas/ingestion``, and ``local_runtime`` with
    what it imports from ``scripts`` and ``glue_jobs``), extracted under ``folder``."""
    paths = ["lambdas/ingestion", "scripts", "glue_jobs"]
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, *paths],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    tar_path = folder / "baseline.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder / "baseline", filter="data")
    return folder / "baseline"


def run_sizes(workdir: Path, codes: dict[str, Path | None]) -> list[dict]:
    """Every small size once per code (the 1 KB file warm too); the 50 MB files REPEATS_50MB
    times each, every file and code in turn, reporting the run with the median CPU time of the
    conversion."""
    runs: dict[tuple[str, str], list[tuple[dict, float]]] = {}
    order, big, files = [], [], {}
    for label, layout, records, bad_rate, kind in SIZES:
        slug = label.replace(" ", "").replace(",", "").replace("%", "pc").lower()
        files[label] = landing = workdir / f"landing_{slug}.json"
        write_landing(landing, layout, records, bad_rate, kind=kind)
        (big if records == 100_000 else order).append((label, records, landing, slug))
    for label, records, landing, slug in order + big * REPEATS_50MB:
        for name, code in codes.items():
            bronze = workdir / f"bronze_{slug}_{list(codes).index(name)}"
            warm = 1 + WARM_RUNS if records == 1 else 1
            args = ["--child", landing, bronze, warm] + (["--code", code] if code else [])
            runs.setdefault((name, label), []).append(run_child(*args))
    rows = []
    for name in codes:
        for label, layout, records, *_ in SIZES:
            results = sorted(runs[name, label], key=lambda r: r[0]["cold_cpu_s"])
            result, process_s = results[len(results) // 2]
            times = result.pop("times_s")
            row = {
                "code": name,
                "size": label,
                "layout": layout,
                "file_bytes": files[label].stat().st_size,
                "records": records,
                **result,
                "cold_s": times[0],
                "process_s": process_s,
                "repeats": len(results),
            }
            if len(times) > 1:
                row["warm_median_s"] = statistics.median(times[1:])
                row["warm_runs"] = len(times) - 1
            rows.append(row)
    return rows


def parse_child(landing: Path, repeats: int) -> None:
    """Times ``Payload.items`` over ``landing`` with the duplicate-key check (the payload's
    decoder) and without it (json's plain decoder), in turn; reports JSON on stdout."""
    import gc

    from ingest.payload import Payload

    raw = landing.read_bytes()
    gc.disable()  # as in the conversion
    times: dict[str, list[float]] = {"with the check": [], "without": []}
    for _ in range(repeats):
        for name in times:
            payload = Payload(raw)
            if name == "without":
                payload._decode = json.JSONDecoder().raw_decode
            started = time.process_time()
            records = sum(1 for _ in payload.items())
            times[name].append(time.process_time() - started)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(json.dumps({"records": records, "cpu_s": medians, "repeats": repeats}))


def evaluate(rows: list[dict], parse: dict) -> list[dict]:
    by_size = {row["size"]: row for row in rows if row["code"] == CURRENT}
    small, large, bad = by_size["1 KB"], by_size["50 MB"], by_size["50 MB, 1 % bad"]
    drift, all_bad = by_size["50 MB, 1 % drifting type"], by_size["50 MB, all bad"]
    counts = [all_bad[k] for k in ("quarantined_records", "quarantine_lines")]
    counts.append(all_bad["quarantine_lines_with_reason"])
    all_bad_rss = all_bad["peak_rss_mb"] / large["peak_rss_mb"] - 1
    check_cost = parse["cpu_s"]["with the check"] - parse["cpu_s"]["without"]
    lambda_s = drift["cold_cpu_s"] * LAMBDA_MB_PER_VCPU / LAMBDA_MEMORY_MB
    wall_overhead = bad["cold_s"] / large["cold_s"] - 1
    overhead = bad["cold_cpu_s"] / large["cold_cpu_s"] - 1
    return [
        {
            "target": "1 KB warm conversion <= 50 ms",
            "measured": f"{small['warm_median_s'] * 1000:.1f} ms",
            "met": small["warm_median_s"] * 1000 <= TARGET_WARM_MS_1KB,
        },
        {
            "target": "50 MB conversion <= 5 s",
            "measured": f"{large['cold_s']:.2f} s",
            "met": large["cold_s"] <= TARGET_SECONDS_50MB,
        },
        {
            "target": "50 MB peak RSS <= 400 MB",
            "measured": f"{large['peak_rss_mb']:.0f} MB",
            "met": large["peak_rss_mb"] <= TARGET_RSS_MB_50MB,
        },
        {
            "target": "50 MB with 1 % bad records <= 5 s and <= 400 MB peak RSS",
            "measured": f"{bad['cold_s']:.2f} s, {bad['peak_rss_mb']:.0f} MB",
            "met": bad["cold_s"] <= TARGET_SECONDS_50MB
            and bad["peak_rss_mb"] <= TARGET_RSS_MB_50MB,
        },
        {
            "target": "50 MB with 1 % drifting types <= 5 s and <= 400 MB peak RSS",
            "measured": f"{drift['cold_s']:.2f} s, {drift['peak_rss_mb']:.0f} MB",
            "met": drift["cold_s"] <= TARGET_SECONDS_50MB
            and drift["peak_rss_mb"] <= TARGET_RSS_MB_50MB,
        },
        {
            "target": (
                f"the same on a {LAMBDA_MEMORY_MB} MB Lambda (CPU x {LAMBDA_MB_PER_VCPU}"
                f"/{LAMBDA_MEMORY_MB}) <= 1/4 of its {LAMBDA_TIMEOUT_S} s timeout"
            ),
            "measured": f"~{lambda_s:.1f} s",
            "met": lambda_s <= LAMBDA_TIMEOUT_S / 4,
        },
        {
            "target": "1 % bad records cost <= 10 % over the clean 50 MB file",
            "measured": f"CPU {overhead * 100:+.1f} % (wall {wall_overhead * 100:+.1f} %)",
            "met": overhead <= TARGET_BAD_OVERHEAD,
        },
        {
            "target": "50 MB, all bad: every record quarantined, one line each with its reason",
            "measured": " / ".join(f"{count:,}" for count in counts) + " of "
            f"{all_bad['records']:,} (records / lines / with a reason)",
            "met": counts == [all_bad["records"]] * 3 and all_bad["rows"] is None,
        },
        {
            "target": "50 MB, all bad: peak RSS <= the clean 50 MB file's + 15 %",
            "measured": f"{all_bad['peak_rss_mb']:.0f} MB ({all_bad_rss * 100:+.1f} %)",
            "met": all_bad_rss <= TARGET_ALL_BAD_RSS,
        },
        {
            "target": f"50 MB, all bad: peak RSS + 40 MB (boto3) within the {LAMBDA_MEMORY_MB} MB"
            " function",
            "measured": f"{all_bad['peak_rss_mb'] + 40:.0f} MB",
            "met": all_bad["peak_rss_mb"] + 40 <= LAMBDA_MEMORY_MB,
        },
        {
            "target": "the duplicate-key check costs <= 10 % of the clean 50 MB conversion",
            "measured": f"{check_cost * 1000:+.0f} ms CPU "
            f"({check_cost / large['cold_cpu_s'] * 100:+.1f} %)",
            "met": check_cost <= 0.10 * large["cold_cpu_s"],
        },
    ]


def render(rows: list[dict], checks: list[dict], machine: dict, parse: dict) -> str:
    lines = [
        "# Ingestion benchmark",
        "",
        "Generated by `bench/bench_ingestion.py` (`make bench`): each landing file is converted",
        "in a fresh process through `convert_local_file`, the same `process_object` code path as",
        "the Lambda handler (local store instead of S3). Conversion time excludes the module",
        "import (shown apart); peak RSS is the child's `ru_maxrss` and includes the interpreter",
        "and pyarrow (whose first `pa.array` call also imports pandas: ~0.35 s and ~45 MB, part",
        "of the cold conversion). The Lambda additionally imports boto3 (about +40 MB RSS).",
        "",
        "Wall times depend on what else runs on the machine (see the load average below); the",
        "CPU time of the conversion (user + system, all threads) is less sensitive to it.",
        "",
        "Data (seeded, generated by the script): 1 KB = one pretty-printed full v1 record;",
        "1 MB = JSON Lines; 50 MB = one JSON array. Numbers mix JSON integers and floats; one",
        "record in four is a full v1 record, the others carry carChassis, currentMileage and",
        "metrics only (the missing fields are null in bronze); some strings are non-ASCII.",
        "The file with 1 % bad records is the clean 50 MB file with every 100th record made bad,",
        "each bad-record kind of the Lambda in turn (a contract field of the wrong type, a",
        "fractional year, a non-object element, a non-finite number, names that differ only in",
        "case, nesting deeper than 64 levels); its bad records go to quarantine one line each.",
        "The file with 1 % drifting types is the clean 50 MB file with a field outside the",
        "contract, `driver`, a string in every record but every 100th, where it is an object,",
        "a number, an array or a boolean in turn: the first record fixes the field's type, the",
        "drifting records are quarantined, each rejected in the walk that judges every record",
        "before pyarrow converts the others (no conversion is repeated).",
        'The all-bad file is the clean 50 MB file with `currentMileage` sent as `"12k"` in every',
        "record (one bad producer release): every record goes to quarantine, one line each with",
        "its reason (the child counts the lines of the quarantine file after its peak is taken).",
        f"The four 50 MB files are converted {REPEATS_50MB} times each, in turn (the machine is",
        "shared); the table shows the run with the median CPU time of each, and the overhead",
        "of the bad records is the ratio of those CPU times (wall times follow the load).",
        "",
        "On Lambda the CPU share is proportional to the memory (one vCPU at "
        f"{LAMBDA_MB_PER_VCPU:,} MB, AWS",
        f"docs): the function's {LAMBDA_MEMORY_MB} MB get {LAMBDA_MEMORY_MB}/{LAMBDA_MB_PER_VCPU} "
        "of a vCPU, so a conversion takes about",
        f"{LAMBDA_MB_PER_VCPU / LAMBDA_MEMORY_MB:.2f} times its local CPU time there if a core "
        "there is as fast as one here",
        f"(an estimate, not a measurement). The 5 s target keeps a 50 MB file at "
        f"~{5 * LAMBDA_MB_PER_VCPU / LAMBDA_MEMORY_MB:.0f} s,",
        f"inside a quarter of the {LAMBDA_TIMEOUT_S} s timeout, leaving the rest to the S3 "
        "reads and writes, a cold",
        "start and a slower core: a timeout would be retried, and time out again, on the same",
        "file.",
        "",
        f"Machine: {machine['cpus']} CPUs, Python {machine['python']}, "
        f"pyarrow {machine['pyarrow']}, {machine['platform']}; load average "
        f"{machine['load_average_1m_at_start']} when the run started (other work on the machine "
        "slows the figures down).",
        "",
        "| size | layout | file | records | import | conversion (cold) "
        "| CPU of the cold conversion | conversion (warm median) | child process | peak RSS "
        "| Parquet | quarantined |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (row for row in rows if row["code"] == CURRENT):
        warm = (
            f"{row['warm_median_s'] * 1000:.1f} ms ({row['warm_runs']} runs)"
            if "warm_median_s" in row
            else "-"
        )
        parquet = f"{row['parquet_bytes'] / 1e6:.3f} MB" if row["parquet_bytes"] else "-"
        lines.append(
            f"| {row['size']} | {row['layout']} | {row['file_bytes'] / 1e6:.3f} MB "
            f"| {row['records']:,} | {row['import_s'] * 1000:.0f} ms "
            f"| {row['cold_s'] * 1000:.1f} ms | {row['cold_cpu_s'] * 1000:.1f} ms | {warm} "
            f"| {row['process_s']:.2f} s "
            f"| {row['peak_rss_mb']:.0f} MB | {parquet} "
            f"| {row['quarantined_records']:,} |"
        )
    cpu = parse["cpu_s"]
    lines += [
        "",
        f"Parse of the clean 50 MB file ({parse['records']:,} records, `Payload.items`, CPU, "
        f"median of {parse['repeats']} runs",
        "in turn): with the duplicate-key check (json's `object_pairs_hook`) "
        f"{cpu['with the check']:.2f} s, without it",
        f"(json's plain decoder) {cpu['without']:.2f} s: "
        f"{(cpu['with the check'] / cpu['without'] - 1) * 100:+.0f} % on the parse.",
    ]
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for check in checks:
        lines.append(
            f"| {check['target']} | {check['measured']} | {'yes' if check['met'] else 'NO'} |"
        )
    if len({row["code"] for row in rows}) > 1:
        lines += before_after(rows)
    return "\n".join(lines) + "\n"


def before_after(rows: list[dict]) -> list[str]:
    """The baseline revision's figures beside the current code's, file by file."""
    before = {row["size"]: row for row in rows if row["code"] != CURRENT}
    name = next(iter(before.values()))["code"]
    lines = [
        "",
        f"## Before and after: {name} and the current code",
        "",
        f"Each file converted by the code of {name} and by the current code in turn, in the same",
        "run (the 50 MB files as above, median CPU run of each). Quarantined: records /",
        "quarantine lines.",
        "",
        "| file | conversion before | after | CPU before | after | peak RSS before | after "
        "| quarantined before | after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in (row for row in rows if row["code"] == CURRENT):
        old = before[row["size"]]
        figures = [f"{r['cold_s']:.2f} s" for r in (old, row)]
        figures += [f"{r['cold_cpu_s']:.2f} s" for r in (old, row)]
        figures += [f"{r['peak_rss_mb']:.0f} MB" for r in (old, row)]
        figures += [f"{r['quarantined_records']:,} / {r['quarantine_lines']:,}" for r in (old, row)]
        lines.append(f"| {row['size']} | " + " | ".join(figures) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks")
    parser.add_argument(
        "--baseline-rev", help="also convert every file with the Lambda code of this git revision"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("LANDING", "BRONZE", "RUNS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--parse", nargs=2, metavar=("LANDING", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]), args.code)
        return 0
    if args.parse:
        parse_child(Path(args.parse[0]), int(args.parse[1]))
        return 0

    import pyarrow  # only for the report's machine line

    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "platform": platform.platform(terse=True),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="bench_ingestion_") as tmp:
        codes: dict[str, Path | None] = {CURRENT: None}
        if args.baseline_rev:
            codes = {f"rev {args.baseline_rev}": baseline_code(args.baseline_rev, Path(tmp))}
            codes[CURRENT] = None
        rows = run_sizes(Path(tmp), codes)
        clean = Path(tmp, "landing_50mb.json")
        parse = run_child("--parse", clean, PARSE_REPEATS)[0]
    checks = evaluate(rows, parse)
    report = render(rows, checks, machine, parse)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingestion.md").write_text(report, encoding="utf-8")
    payload = {"machine": machine, "seed": SEED, "results": rows, "parse": parse}
    payload["targets"] = checks
    (args.out / "ingestion.json").write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
