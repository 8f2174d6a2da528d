"""Consolidation benchmark (``make bench``): the job's speed against a lean Spark job, its
history independence and the cost of a change such as the commit protocol, each measured side
by side in one run, every run a cold process (see docs/benchmarks/consolidation.md).

Sections (``--sections``): ``ratio`` times the job at HEAD, ``bench/lean_job.py``, the job
script of ``--baseline-rev REV`` (``git show``) and any ``--compare NAME=DIR`` copy on the same
bronze per ``--records`` size, checking every run's silver and quarantine row for row against
the job's; ``history`` runs one 20k batch against silver histories of 1/30/365 days, as is and
with the silver read widened to all of silver; ``profile`` runs the job once per size with
Spark's event log and sums it per job stage, with the JVM's JIT and code-generation time.
Results go to ``<out>/consolidation.json``, into the marked tables of the hand-written
``consolidation.md`` / ``job-speed.md``, and ``consolidation.png``.

    .venv/bin/python bench/bench_consolidation.py --out docs/benchmarks
    .venv/bin/python bench/bench_consolidation.py --sections ratio --baseline-rev 38e7425
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import generate_telemetry
import local_runtime

REPO = Path(__file__).resolve().parents[1]
JOB_DIR = "glue_jobs"  # the entry script and, since the package layout, silver_job/
DAY = dt.date(2025, 10, 29)
ARRIVAL = dt.datetime(2025, 10, 29, 22, 30, tzinfo=dt.UTC)
READINGS = 4  # a car per 4 records; the rest of the bronze batch's generator settings:
BATCH = {"days": 1, "start_date": DAY, "readings_per_day": READINGS, "files": 8, "fmt": "jsonl"}
BATCH |= {"duplicate_rate": 0.02, "bad_rate": 0.02, "seed": 20251029, "overwrite": True}
EVENT_TS = "metrics_metricTimestamp"
HISTORY_RECORDS, HISTORY_DAYS, TARGET = 20_000, (1, 30, 365), 1.15
CHILD_CONF = {"spark.driver.memory": "4g"}
RESULT = "BENCH_RESULT "


# --- Child: one cold run ----------------------------------------------------------------------
def child(spec: dict) -> dict:
    """Runs one job in this (fresh) process; returns its timings and JVM counters."""
    started = time.time()
    conf = dict(CHILD_CONF)
    if spec.get("eventlog"):
        conf |= {"spark.eventLog.enabled": "true", "spark.eventLog.dir": spec["eventlog"]}
    spark = local_runtime.spark_session("bench-" + spec["variant"], short_lived=False, conf=conf)
    jvm = spark._jvm
    mx = jvm.java.lang.management.ManagementFactory
    jit0, run_start = mx.getCompilationMXBean().getTotalCompilationTime(), time.time()
    summary: dict = {}
    if spec["variant"] == "lean":
        import lean_job

        lean_job.run(spark, spec["bronze"], spec["silver"], spec["quarantine"])
    else:
        import silver_consolidation_job as entry

        if (Path(entry.__file__).parent / "silver_job").is_dir():  # the package layout
            import local_job
            from silver_job import batch as reader
            from silver_job.config import JobConfig

            run_job = local_job.run_local
        else:  # a revision before the package: one self-contained script
            reader, JobConfig, run_job = entry, entry.JobConfig, entry.run
        config = JobConfig(
            spec["bronze"], spec["silver"], spec["quarantine"], state_path=spec["state"]
        )
        if spec.get("read_all"):  # the naive design: read (and so rewrite) all of silver
            read = reader.read_partitions
            reader.read_partitions = lambda s, table, names, values: read(
                s, table, names, None if table == config.silver_path else values
            )
        summary = run_job(spark, config)
    run_s = time.time() - run_start
    codegen = jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()
    snap = codegen.getSnapshot()
    counters = {
        "session_s": round(run_start - started, 2),
        "run_s": round(run_s, 2),
        "jit_ms_session": jit0,
        "jit_ms_run": mx.getCompilationMXBean().getTotalCompilationTime() - jit0,
        "gc_ms": sum(b.getCollectionTime() for b in mx.getGarbageCollectorMXBeans()),
        "codegen_classes": codegen.getCount(),
        "codegen_ms": round(sum(snap.getValues()), 1),
        "run_start_epoch": run_start,
        "stages_s": summary.get("seconds", {}),
    }
    proc = spark.sparkContext._gateway.proc
    spark.stop()
    proc.stdin.close()  # the gateway JVM exits on EOF; waiting makes it count in ru_maxrss
    proc.wait()
    return counters


def cold_run(spec: dict, pythonpath: str | None = None) -> dict:
    """One child process: wall time from spawn to exit, peak RSS and CPU of the whole tree."""
    env = {**os.environ, "TZ": "UTC"}
    if pythonpath:  # a copy of the job shadows glue_jobs/ (the .pth comes after PYTHONPATH)
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)], stdout=out, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read(), err.read()
    lines = [ln for ln in text.splitlines() if ln.startswith(RESULT)]
    if proc.returncode or not lines:
        raise RuntimeError(f"{spec['variant']} run failed ({proc.returncode}):\n{errors[-3000:]}")
    return {
        **json.JSONDecoder().raw_decode(lines[-1][len(RESULT) :])[0],
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "load1": round(load, 2),
    }


# --- Data -------------------------------------------------------------------------------------
def build_bronze(work: Path, records: int) -> Path:
    """Landing JSON Lines (seeded) -> bronze Parquet through the Lambda's own code; cached."""
    root = work / f"bronze_{records}"
    if (root / "car_data").exists():
        return root / "car_data"
    # In a process of its own: Linux carries a parent's peak RSS into the ru_maxrss of every
    # child it starts later, so a bench that converted 2M records itself would report their
    # memory for every run after.
    builder = multiprocessing.get_context("spawn").Process(target=_build, args=(work, records))
    builder.start()
    builder.join()
    if builder.exitcode:
        raise RuntimeError(f"building the bronze of {records} records failed")
    return root / "car_data"


def _build(work: Path, records: int) -> None:
    root = work / f"bronze_{records}"
    landing = generate_telemetry.generate(work / "landing", cars=records // READINGS, **BATCH)
    for path in landing:
        outcome = local_runtime.convert_local_file(path, root, event_time=ARRIVAL)
        if outcome["status"] != "processed":
            raise RuntimeError(f"ingestion of {path} failed: {outcome}")
    shutil.rmtree(work / "landing")


def table_rows(root: Path):
    """Every row of a partitioned Parquet table (None when there is no table)."""
    import pyarrow.dataset as ds

    if root.exists():
        return ds.dataset(root, format="parquet", partitioning="hive").to_table()
    return None


def same_rows(left: Path, right: Path) -> bool:
    """The same rows in the columns both tables have; a column only one has must be all null
    (the job's rescued-data column, which the lean job does not write)."""
    a, b = table_rows(left), table_rows(right)
    if a is None or b is None:
        return a is b
    common = sorted(set(a.column_names) & set(b.column_names))
    for t in (a, b):
        if any(t[c].null_count != len(t) for c in set(t.column_names) - set(common)):
            return False
    a, b = (t.select(common).sort_by([(c, "ascending") for c in common]) for t in (a, b))
    return a.equals(b)


def build_history(template_dir: Path, target: Path, days: int) -> dict[str, float]:
    """Silver of `days` days ending on the batch's day, made of the job's own output for the
    batch (shifted back a day per partition); returns the expected mileage per car on the
    batch's day (the existing row wins for every other car, the batch's row for the rest)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    [template_file] = template_dir.glob("event_year=*/event_month=*/event_day=*/*.parquet")
    meta = pq.ParquetFile(template_file).schema_arrow.metadata
    base = pq.read_table(template_file).sort_by("carChassis")
    winner = base["currentMileage"].to_pylist()
    existing = [m + 7 if i % 2 == 0 else m - 7 for i, m in enumerate(winner)]
    expected = dict(zip(base["carChassis"].to_pylist(), map(max, existing, winner), strict=True))
    for k in range(days):
        day, table = DAY - dt.timedelta(days=k), base
        columns = {
            "currentMileage": pa.array([m * (1 - 0.002 * k) for m in existing], pa.float64()),
            "source_file": pa.array([f"history/{day}.json"] * len(table)),
        }
        for name in (EVENT_TS, "metrics_trip_tripStartTimestamp", "ingestion_timestamp"):
            shift = pa.scalar(dt.timedelta(days=k), pa.duration(table[name].type.unit))
            columns[name] = pc.subtract(table[name], shift)
        for name, values in columns.items():
            table = table.set_column(table.schema.get_field_index(name), name, values)
        folder = day_dir(target, day)
        folder.mkdir(parents=True)
        pq.write_table(
            table.replace_schema_metadata(meta),
            folder / "part-00000-history.c000.snappy.parquet",
            use_deprecated_int96_timestamps=True,  # as Spark writes timestamps
        )
    return expected


def day_dir(root: Path, day: dt.date) -> Path:
    return root / f"event_year={day:%Y}" / f"event_month={day:%m}" / f"event_day={day:%d}"


def day_mileage(silver: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    table = pq.ParquetDataset(day_dir(silver, DAY)).read(columns=["carChassis", "currentMileage"])
    pairs = table.to_pylist()
    found = {r["carChassis"]: r["currentMileage"] for r in pairs}
    return found if len(found) == len(pairs) else {}  # a duplicate car fails the check


# --- Sections ---------------------------------------------------------------------------------
def variants(args: argparse.Namespace, scratch: Path) -> dict[str, str | None]:
    """Variant name -> PYTHONPATH that selects its job script (None: the job at HEAD)."""
    found: dict[str, str | None] = {"job": None, "lean": None}
    if args.baseline_rev:
        folder = scratch / "baseline"
        folder.mkdir(parents=True)
        tree = subprocess.check_output(["git", "archive", args.baseline_rev, JOB_DIR], cwd=REPO)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=tree, check=True)
        found[f"rev {args.baseline_rev}"] = str(folder / JOB_DIR)
    for item in args.compare:
        name, _, folder = item.partition("=")
        found[name] = str(Path(folder).resolve())
    return found


def run_cell(spec: dict, path: str | None, scratch: Path, tag: str) -> tuple[dict, Path]:
    """One cold run into a fresh lake folder (silver from `history` when given)."""
    out = scratch / tag
    shutil.rmtree(out, ignore_errors=True)
    spec = spec | {t: str(out / t) for t in ("silver", "quarantine", "state")}
    if spec.get("history"):
        shutil.copytree(spec.pop("history"), out / "silver")
        # The column-type registry the job keeps beside silver, as its earlier runs left it
        # (without it the first run reads the schema of all of silver once, see job-speed.md).
        registry = out / "_commits" / "silver" / "_schema.json"
        registry.parent.mkdir(parents=True)
        shutil.copy(spec.pop("registry"), registry)
    os.sync()  # a copied history is on disk before the clock starts
    return cold_run(spec, path), out


def section_ratio(args, work: Path, scratch: Path, log) -> dict:
    """Each size: every variant once per round, rounds = repeats; outputs checked."""
    names = variants(args, scratch)
    results: dict = {}
    for records in args.records:
        bronze = build_bronze(work, records)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        reference = scratch / f"reference_{records}"
        for rep in range(args.repeats):
            for name, path in names.items():
                variant = "lean" if name == "lean" else "job"
                spec = {"variant": variant, "bronze": str(bronze)}
                result, out = run_cell(spec, path, scratch, f"{records}_{name}")
                if not reference.exists():
                    shutil.copytree(out, reference)  # the job at HEAD runs first
                result["same_rows"] = all(
                    same_rows(out / t, reference / t) for t in ("silver", "quarantine")
                )
                runs[name].append(result)
                log(f"{records:,} {name} run {rep + 1}", result, "same_rows")
        if records == HISTORY_RECORDS:
            save_template(reference, work)
        results[str(records)] = runs
    return results


def save_template(lake: Path, work: Path) -> None:
    """A lake's silver and its column-type registry, the template of every history."""
    shutil.rmtree(work / "history_template", ignore_errors=True)
    shutil.copytree(lake / "silver", work / "history_template")
    shutil.copy(
        lake / "_commits" / "silver" / "_schema.json", work / "history_template.schema.json"
    )


def section_history(args, work: Path, scratch: Path, log) -> dict:
    template = work / "history_template"
    bronze = build_bronze(work, HISTORY_RECORDS)
    if not (work / "history_template.schema.json").exists():  # the job's own output, empty silver
        _, out = run_cell({"variant": "job", "bronze": str(bronze)}, None, scratch, "tpl")
        save_template(out, work)
    results: dict = {}
    for days in HISTORY_DAYS:
        history = scratch / f"history_{days}"
        expected = build_history(template, history, days)
        for mode in ("incremental", "read_all"):
            for rep in range(args.repeats if mode == "incremental" else 1):
                spec = {"variant": "job", "bronze": str(bronze), "read_all": mode == "read_all"}
                spec["history"] = str(history)
                spec["registry"] = str(work / "history_template.schema.json")
                result, out = run_cell(spec, None, scratch, f"h{days}_{mode}")
                result["as_expected"] = day_mileage(out / "silver") == expected
                results.setdefault(mode, {}).setdefault(str(days), []).append(result)
                log(f"history {days} d {mode} run {rep + 1}", result, "as_expected")
        shutil.rmtree(history)
    return results


def section_profile(args, work: Path, scratch: Path, log) -> dict:
    results: dict = {}
    for records in args.records:
        for name, path in variants(args, scratch / str(records)).items():
            if name == "lean":
                continue
            events = scratch / f"events_{records}_{name}"
            events.mkdir()
            spec = {"variant": "job", "bronze": str(build_bronze(work, records))}
            spec["eventlog"] = str(events)
            result, _ = run_cell(spec, path, scratch, f"p{records}")
            [log_file] = events.iterdir()
            result["executions"] = summarize_event_log(log_file, result)
            results[f"{records:,} {name}"] = result
            log(f"profile {records:,} {name}", result, "wall_s")
    return results


def summarize_event_log(path: Path, result: dict) -> dict[str, dict]:
    """Per job stage (attributed by time): SQL executions and their plan nodes (Parquet scans,
    cache scans, exchanges), Spark jobs, tasks, task and CPU time, bytes read, shuffle rows."""
    laps, t = [], result["run_start_epoch"] * 1000
    for stage, seconds in result["stages_s"].items():
        t += seconds * 1000
        laps.append((t, stage))
    rows: dict[str, dict] = {}
    job_of_stage: dict[int, str] = {}
    plans: dict[int, tuple[str, list[str]]] = {}

    def row_at(ms: float) -> tuple[str, dict]:
        name = next((name for end, name in laps if ms <= end), "after run")
        return name, rows.setdefault(name, dict.fromkeys(PROFILE_KEYS, 0))

    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # the last line of a log whose JVM exited mid-write
            continue
        kind = event["Event"].rsplit(".", 1)[-1]
        if kind == "SparkListenerSQLExecutionStart":
            name, row = row_at(event["time"])
            row["executions"] += 1
            plans[event["executionId"]] = (name, plan_nodes(event["sparkPlanInfo"]))
        elif kind == "SparkListenerSQLAdaptiveExecutionUpdate":  # the final plan counts
            name = plans[event["executionId"]][0]
            plans[event["executionId"]] = (name, plan_nodes(event["sparkPlanInfo"]))
        elif kind == "SparkListenerJobStart":
            name, row = row_at(event["Submission Time"])
            row["jobs"] += 1
            job_of_stage |= {info["Stage ID"]: name for info in event["Stage Infos"]}
        elif kind == "SparkListenerTaskEnd" and event.get("Task Metrics"):
            m, row = event["Task Metrics"], rows[job_of_stage[event["Stage ID"]]]
            row["tasks"] += 1
            row["task_s"] += m["Executor Run Time"] / 1000
            row["cpu_s"] += m["Executor CPU Time"] / 1e9
            row["read_mb"] += m["Input Metrics"]["Bytes Read"] / 2**20
            row["shuffled_rows"] += m["Shuffle Write Metrics"]["Shuffle Records Written"]
    for name, nodes in plans.values():
        for key, node in (("parquet_scans", "Scan parquet"), ("cache_scans", "InMemoryTableScan")):
            rows[name][key] += nodes.count(node)
        rows[name]["exchanges"] += sum(n.startswith("Exchange") for n in nodes)
    return {name: {k: round(v, 2) for k, v in row.items()} for name, row in rows.items()}


PROFILE_KEYS = ("executions", "jobs", "tasks", "task_s", "cpu_s", "read_mb", "shuffled_rows")
PROFILE_KEYS += ("parquet_scans", "cache_scans", "exchanges")


def plan_nodes(info: dict) -> list[str]:
    """Names of every node of a plan, the cached plans under InMemoryTableScan included."""
    name = "Scan parquet" if info["nodeName"].startswith("Scan parquet") else info["nodeName"]
    return [name] + [n for child in info.get("children", []) for n in plan_nodes(child)]


# --- Report -----------------------------------------------------------------------------------
def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


def md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def load_span(runs) -> str:
    loads = [r["load1"] for r in runs]
    return f"{min(loads):.1f}-{max(loads):.1f}"


def ratio_tables(results: dict) -> str:
    names = list(next(iter(results.values())))
    others = [n for n in names if n not in ("job", "lean")]
    header = ["records", "project job s", "lean job s", "ratio", "CPU ratio"]
    header += [h for n in others for h in (f"{n} s", f"{n} / lean")]
    header += ["runs", "load (1 min)", "rows = job's"]
    rows, stages = [], []
    for records, runs in results.items():
        lean = median(runs["lean"], "wall_s")
        row = [f"{int(records):,}", median(runs["job"], "wall_s"), lean]
        row.append(round(row[1] / lean, 2))
        row.append(round(median(runs["job"], "cpu_s") / median(runs["lean"], "cpu_s"), 2))
        for name in others:
            row += [median(runs[name], "wall_s"), round(median(runs[name], "wall_s") / lean, 2)]
        every = [r for rs in runs.values() for r in rs]
        same = all(r["same_rows"] for r in every)
        rows.append(row + [len(runs["job"]), load_span(every), "yes" if same else "**NO**"])
        for name in ("job", *others):
            laps = [(k, statistics.median(r["stages_s"].get(k, 0) for r in runs[name]))
                    for k in runs[name][0]["stages_s"]]  # fmt: skip
            stages.append([f"{int(records):,}", name, median(runs[name], "session_s")]
                          + [f"{k} {v:.2f}" for k, v in laps])  # fmt: skip
    width = max(len(r) for r in stages)
    stages = [r + [""] * (width - len(r)) for r in stages]
    stage_header = ["records", "variant", "session start s"] + ["stage s"] * (width - 3)
    return md_table(header, rows) + "\n\n" + md_table(stage_header, stages)


def history_table(results: dict) -> str:
    rows, ratios = [], []
    for mode, by_days in results.items():
        for days, runs in by_days.items():
            right = "yes" if all(r["as_expected"] for r in runs) else "NO"
            rows.append([mode, days, f"{int(days) * HISTORY_RECORDS // READINGS:,}"]
                        + [median(runs, k) for k in ("wall_s", "cpu_s", "peak_rss_mb")]
                        + [len(runs), load_span(runs), right])  # fmt: skip
        first, last = by_days[str(HISTORY_DAYS[0])], by_days[str(HISTORY_DAYS[-1])]
        t = median(last, "wall_s") / median(first, "wall_s")
        m = median(last, "peak_rss_mb") / median(first, "peak_rss_mb")
        cpu = median(last, "cpu_s") / median(first, "cpu_s")
        verdict = "PASS" if t <= TARGET and m <= TARGET else "MISS"
        ratios.append([mode, round(t, 2), round(cpu, 2), round(m, 2), verdict])
    header = ["mode", "days", "silver rows", "wall s", "CPU s", "peak RSS MB", "runs", "load"]
    header.append("day right")
    ratio_header = ["mode", "T(365)/T(1)", "CPU(365)/(1)", "peak RSS(365)/(1)", f"<= {TARGET}"]
    return md_table(header, rows) + "\n\n" + md_table(ratio_header, ratios)


def profile_tables(results: dict) -> str:
    jvm = ["records, variant", "wall s", "CPU s", "session s", "run s", "JIT ms (session)"]
    jvm.append("JIT ms (run)")
    jvm += ["codegen classes", "codegen ms", "GC ms", "peak RSS MB", "load"]
    keys = ("cpu_s", "session_s", "run_s", "jit_ms_session", "jit_ms_run", "codegen_classes")
    keys += ("codegen_ms", "gc_ms", "peak_rss_mb", "load1")
    parts = [md_table(jvm, [[n, r["wall_s"], *(r[k] for k in keys)]
                            for n, r in results.items()])]  # fmt: skip
    header = ["records, variant", "job stage", "stage s", *PROFILE_KEYS]
    rows = [
        [records, stage, result["stages_s"].get(stage, "")] + [row.get(k, 0) for k in PROFILE_KEYS]
        for records, result in results.items()
        for stage, row in result["executions"].items()
    ]
    return "\n\n".join([*parts, md_table(header, rows)])


def fill(doc: Path, name: str, text: str) -> None:
    """Replaces what stands between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`."""
    if not doc.exists():
        return
    pattern = re.compile(f"(<!-- bench:{name} -->\n).*?(\n<!-- /bench:{name} -->)", re.S)
    content = doc.read_text(encoding="utf-8")
    if not pattern.search(content):
        raise ValueError(f"{doc} has no <!-- bench:{name} --> markers")
    doc.write_text(pattern.sub(lambda m: m[1] + text + m[2], content), encoding="utf-8")


def plot(history: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for mode, by_days in history.items():
        days = [int(d) for d in by_days]
        for ax, key in zip(axes, ("wall_s", "peak_rss_mb"), strict=True):
            ax.plot(days, [median(r, key) for r in by_days.values()], "o-", label=mode)
    for ax, title in zip(axes, ("cold wall time, s", "peak RSS, MB"), strict=True):
        ax.set(xscale="log", xlabel="silver history, days", title=title, ylim=(0, None))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks")
    parser.add_argument("--sections", default="ratio,history")
    parser.add_argument("--records", default="20000,400000", help="bronze sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline-rev", help="also time the job script of this git revision")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--workdir", type=Path, help="keeps the generated bronze between runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(RESULT + json.dumps(child(json.loads(args.child))), flush=True)
        os._exit(0)  # the JVM is gone: skip py4j's exit handlers (they only log about it)
    args.records = [int(n) for n in args.records.split(",")]
    started = time.perf_counter()

    def log(what: str, result: dict, check: str) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {what}: {result['wall_s']} s, "
              f"{result['peak_rss_mb']} MB, load {result['load1']}, {check} {result[check]}",
              flush=True)  # fmt: skip

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-consolidation-"))
    work.mkdir(parents=True, exist_ok=True)
    report_file = args.out / "consolidation.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    sections = {"ratio": section_ratio, "history": section_history, "profile": section_profile}
    with tempfile.TemporaryDirectory(prefix="bench-runs-", dir=work) as scratch:
        for name in args.sections.split(","):
            load = [round(x, 2) for x in os.getloadavg()]
            results = sections[name](args, work, Path(scratch), log)
            at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            report[name] = {"results": results, "load_at_start": load, "at": at}
            report_file.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    renderers = {"ratio": ratio_tables, "history": history_table, "profile": profile_tables}
    for name in [n for n in renderers if n in report]:  # earlier runs' sections stay filled
        text = renderers[name](report[name]["results"])
        print(f"\n{name}:\n{text}")
        fill(args.out / ("job-speed.md" if name == "profile" else "consolidation.md"), name, text)
    if "history" in report:
        plot(report["history"]["results"], args.out / "consolidation.png")
    if not args.workdir:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
