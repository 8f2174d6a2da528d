"""Benchmark of the silver consolidation job (``make bench``): does an hourly run stay flat as
silver grows?

(a) One hourly batch (default 20,000 records: 5,000 cars x 4 readings on the latest day) is
    consolidated into silver histories of 1, 30 and 365 days (5,000 rows a day), by the job's
    own ``run()`` on local Spark, in two modes side by side:

    - ``incremental``: the job as it is (it reads only the silver partitions the batch touches);
    - ``read_all``: the naive design, emulated without touching the job: ``read_partitions`` is
      wrapped so that the silver read ignores the partition list (``values=None``), so every
      silver partition is read, ranked and rewritten.

    Every measurement runs in a fresh child process (a fresh JVM, so that its VmHWM is the peak
    of that run alone) on a copy of the same prebuilt history. Measured: wall time of
    ``job.run`` (session start-up excluded, shown apart), CPU seconds the JVM spent in it,
    driver JVM peak RSS (``VmHWM`` of the java process), the Python driver's and any Python
    workers' peak RSS.

(b) The same consolidation in DuckDB (single-machine reference): flatten the bronze batch,
    rejects, cleansing, typing, enrichment, partition columns, union with the touched silver
    partition(s), ``QUALIFY row_number() ... = 1``, ``COPY ... PARTITION_BY`` into a fresh
    folder, then a swap of the touched partition folders.

Every run's result for the touched day is checked against the expected (carChassis,
currentMileage) pairs, computed here from the generated data independently of the job; DuckDB's
pairs are compared with the job's. The history is built once per size directly as silver files
(pyarrow, the exact schema and Parquet flavour of a real job run's output: INT96 timestamps,
Spark's schema metadata, snappy), partitioned event_year/event_month/event_day, one file each.

Writes ``<out>/consolidation.md``, ``<out>/consolidation.json`` and ``<out>/consolidation.png``
and prints the tables.

    .venv/bin/python scripts/bench_consolidation.py --out docs/benchmarks
    .venv/bin/python scripts/bench_consolidation.py --out /tmp/bench --quick   # smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import generate_telemetry
import local_runtime
import silver_consolidation_job

REPO_ROOT = Path(__file__).resolve().parents[1]
JOB_FILE = REPO_ROOT / "glue_jobs" / "silver_consolidation_job.py"

LATEST_DAY = dt.date(2025, 10, 29)
BATCH_ARRIVAL = dt.datetime(2025, 10, 29, 22, 30, tzinfo=dt.UTC)  # the hourly batch's event time
SEED = 20251029
BATCH_FILES = 4
TARGET_RATIO = 1.15
PARTITION_COLS = ("event_year", "event_month", "event_day")
MODES = ("incremental", "read_all")
RESULT_PREFIX = "BENCH_RESULT "
HISTORY_FILE_NAME = "part-00000-bench-history.c000.snappy.parquet"

# The tests' SparkSession (tests/conftest.py), with more driver memory for 1.8M-row reads.
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.driver.memory": "4g",
}
SPARK_MASTER = "local[2]"
DUCKDB_THREADS = 2


def load_job() -> Any:
    return silver_consolidation_job


# --- /proc helpers ------------------------------------------------------------------------------
def _status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return text[text.rindex(")") + 2 :].split()  # fields from `state` on


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def jvm_pid(spark: Any) -> int:
    """The driver JVM: the gateway's process if it is java, else its java descendant."""
    pid = spark.sparkContext._gateway.proc.pid
    if _comm(pid) == "java":
        return pid
    for child in _descendants(pid):
        if _comm(child) == "java":
            return child
    raise RuntimeError(f"no java process found under the gateway process {pid}")


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# --- Child: one Spark measurement ---------------------------------------------------------------
def child_spark(spec: dict) -> dict:
    os.environ["TZ"] = "UTC"
    time.tzset()
    job = load_job()
    job.ensure_java()
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    builder = SparkSession.builder.master(SPARK_MASTER).appName("bench-consolidation")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    job.configure_session(spark)
    session_s = time.perf_counter() - started
    jvm = jvm_pid(spark)

    config = job.JobConfig(
        bronze_path=spec["bronze"],
        silver_path=spec["silver"],
        quarantine_path=spec["quarantine"],
        state_path=spec["state"],
    )
    calls: list[dict] = []
    original = job.read_partitions

    def read_partitions(spark_, table_path, names, values):
        if spec["mode"] == "read_all" and table_path == config.silver_path:
            values = None  # the naive design: read (and so rewrite) every silver partition
        t0 = time.perf_counter()
        df = original(spark_, table_path, names, values)
        calls.append(
            {
                "table": "silver" if table_path == config.silver_path else "quarantine",
                "partitions_asked": "all" if values is None else len(values),
                "seconds": round(time.perf_counter() - t0, 3),  # listing + footers (mergeSchema)
                "files": 0 if df is None else len(df.inputFiles()),
            }
        )
        return df

    job.read_partitions = read_partitions
    load_before = load1()
    cpu0 = cpu_seconds(jvm)
    t0 = time.perf_counter()
    summary = job.run(spark, config)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(jvm) - cpu0
    jvm_hwm = _status_kb(jvm, "VmHWM")
    workers = {
        pid: _status_kb(pid, "VmHWM") for pid in _descendants(jvm) if _comm(pid).startswith("py")
    }
    driver_hwm = _status_kb(os.getpid(), "VmHWM")
    spark.stop()
    return {
        "mode": spec["mode"],
        "wall_s": round(wall, 3),
        "jvm_cpu_s": round(cpu, 2),
        "session_start_s": round(session_s, 2),
        "jvm_pid_checked": _comm(jvm),
        "jvm_peak_rss_mb": round(jvm_hwm / 1024, 1),
        "python_driver_peak_rss_mb": round(driver_hwm / 1024, 1),
        "python_workers": len(workers),
        "python_workers_peak_rss_mb": round(sum(v or 0 for v in workers.values()) / 1024, 1),
        "load1_before": load_before,
        "stages_s": summary.get("seconds", {}),
        "read_partitions_calls": calls,
        "rows_before_dedup": summary.get("rows_before_dedup"),
        "rows_after_dedup": summary.get("rows_after_dedup"),
        "partitions_written": len(summary.get("partitions_written", [])),
        "status": summary.get("status"),
    }


# --- Child: the DuckDB reference -----------------------------------------------------------------
def _flat_columns(schema: Any) -> list[tuple[str, str, Any]]:
    """(DuckDB expression, flattened name, Arrow type) of every leaf, structs walked."""
    import pyarrow as pa

    out: list[tuple[str, str, Any]] = []

    def walk(dtype: Any, path: tuple[str, ...]) -> None:
        if pa.types.is_struct(dtype):
            for child in dtype:
                walk(child.type, (*path, child.name))
            return
        out.append(("b." + ".".join(f'"{p}"' for p in path), "_".join(path), dtype))

    for field in schema:
        walk(field.type, (field.name,))
    return out


def _trim_sql(expr: str) -> str:
    """Trimmed text, blank -> NULL; Unicode white space at both ends, as the job's trim_text."""
    edges = r"^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$"
    return f"NULLIF(regexp_replace(CAST({expr} AS VARCHAR), '{edges}', '', 'g'), '')"


def _ts_sql(expr: str) -> str:
    """`Wed, 29 Oct 2025 11:00:00` (weekday optional) or ISO-8601 -> TIMESTAMP (UTC), or NULL."""
    value = _trim_sql(expr)
    return (
        f"coalesce(try_strptime({value}, ['%a, %d %b %Y %H:%M:%S', '%d %b %Y %H:%M:%S']), "
        f"CAST(try_cast({value} AS TIMESTAMPTZ) AS TIMESTAMP))"  # session TimeZone is UTC
    )


def duckdb_consolidate(con: Any, bronze_files: list[str], silver: Path, staging: Path) -> dict:
    """The job's consolidation in DuckDB SQL; returns the seconds of each stage."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    watch: dict[str, float] = {}
    last = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        watch[stage] = round(now - last, 3)
        last = now

    schema = pa.unify_schemas([pq.read_schema(f) for f in bronze_files])
    schema = pa.schema([f for f in schema if not f.name.startswith("ingest_")])
    flat = _flat_columns(schema)
    names = {name for _, name, _ in flat}
    for needed in ("carChassis", "metrics_metricTimestamp", "currentMileage"):
        if needed not in names:
            raise RuntimeError(f"bronze lacks {needed}")
    select = ", ".join(f'{expr} AS "{name}"' for expr, name, _ in flat)
    mileage = 'try_cast("currentMileage" AS DOUBLE)'
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE batch AS
        WITH flat AS (
          SELECT {select}
          FROM read_parquet({bronze_files!r}, hive_partitioning = false, union_by_name = true) b
        )
        SELECT *,
          CASE
            WHEN {_trim_sql('"carChassis"')} IS NULL THEN 'blank_carChassis'
            WHEN {_trim_sql('"metrics_metricTimestamp"')} IS NULL
              THEN 'missing_metricTimestamp'
            WHEN {_ts_sql('"metrics_metricTimestamp"')} IS NULL THEN 'unparsable_metricTimestamp'
            WHEN "currentMileage" IS NULL THEN 'missing_currentMileage'
            WHEN {mileage} IS NULL OR isnan({mileage}) OR isinf({mileage})
              THEN 'invalid_currentMileage'
            WHEN {mileage} < 0 THEN 'negative_currentMileage'
          END AS reject_reason
        FROM flat
        """
    )
    rejected = con.execute(
        "SELECT reject_reason, count(*) FROM batch WHERE reject_reason IS NOT NULL GROUP BY 1"
    ).fetchall()
    lap("read_validate")

    columns = []
    for _, name, dtype in flat:
        col = f'"{name}"'
        if name in ("metrics_metricTimestamp", "metrics_trip_tripStartTimestamp") and (
            pa.types.is_string(dtype)
        ):
            columns.append(f'{_ts_sql(col)} AS "{name}"')
        elif name == "carInsurance_validUntil" and pa.types.is_string(dtype):
            columns.append(f'try_cast({_trim_sql(col)} AS DATE) AS "{name}"')
        elif pa.types.is_string(dtype):
            value = _trim_sql(col)
            if name == "Manufacturer":
                value = (
                    f"array_to_string(list_transform(string_split(lower({value}), ' '), "
                    "lambda w: upper(w[1]) || w[2:]), ' ')"
                )
            elif name == "color":
                value = f"lower({value})"
            columns.append(f'{value} AS "{name}"')
        elif pa.types.is_timestamp(dtype) and dtype.tz is not None:
            columns.append(f'CAST({col} AS TIMESTAMP) AS "{name}"')  # session TimeZone is UTC
        else:
            columns.append(col)

    def ratio(num: str, den: str, scale: str) -> str:
        den_d = f'CAST("{den}" AS DOUBLE)'
        return (
            f"CASE WHEN {den_d} IS NULL OR {den_d} = 0 THEN NULL "
            f'ELSE round(CAST("{num}" AS DOUBLE) / {den_d} * {scale}, 2) END'
        )

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE accepted AS
        WITH typed AS (SELECT {", ".join(columns)} FROM batch WHERE reject_reason IS NULL)
        SELECT *,
          {ratio("metrics_fuelAvailableLiters", "fuelCapacityLiters", "100.0")}
            AS fuel_level_percentage,
          {ratio("metrics_trip_tripMileage", "metrics_trip_tripFuelLiters", "1.0")}
            AS km_per_liter,
          strftime("metrics_metricTimestamp", '%Y') AS event_year,
          strftime("metrics_metricTimestamp", '%m') AS event_month,
          strftime("metrics_metricTimestamp", '%d') AS event_day
        FROM typed
        """
    )
    touched = con.execute(
        "SELECT DISTINCT event_year, event_month, event_day FROM accepted ORDER BY ALL"
    ).fetchall()
    lap("transform")

    existing = []
    for part in touched:
        folder = silver.joinpath(*(f"{n}={v}" for n, v in zip(PARTITION_COLS, part, strict=True)))
        existing += sorted(str(p) for p in folder.glob("*.parquet"))
    existing_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in existing)
    union = "SELECT * FROM accepted"
    if existing:
        union = (
            f"SELECT * FROM read_parquet({existing!r}, hive_partitioning = true, "
            "hive_types_autocast = false, union_by_name = true) UNION ALL BY NAME " + union
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE result AS
        SELECT * FROM ({union})
        QUALIFY row_number() OVER (
          PARTITION BY "carChassis", event_year, event_month, event_day
          ORDER BY "currentMileage" DESC NULLS LAST, "metrics_metricTimestamp" DESC NULLS LAST,
                   ingestion_timestamp DESC NULLS LAST, source_file DESC NULLS LAST
        ) = 1
        """
    )
    rows_before = con.execute("SELECT count(*) FROM accepted").fetchone()[0]
    rows_after = con.execute("SELECT count(*) FROM result").fetchone()[0]
    lap("dedup")

    con.execute(
        f"""
        COPY (SELECT * FROM result ORDER BY event_year, event_month, event_day, "carChassis")
        TO '{staging}' (FORMAT parquet, COMPRESSION snappy,
                        PARTITION_BY (event_year, event_month, event_day), OVERWRITE_OR_IGNORE)
        """
    )
    lap("write")

    for part in touched:  # swap the touched partition folders in
        rel = Path(*(f"{n}={v}" for n, v in zip(PARTITION_COLS, part, strict=True)))
        target, fresh, old = silver / rel, staging / rel, silver / rel.with_name(rel.name + ".old")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.replace(target, old)
        os.replace(fresh, target)
        shutil.rmtree(old, ignore_errors=True)
    lap("swap")
    return {
        "stages_s": watch,
        "rejected": dict(rejected),
        "existing_files": len(existing),
        "rows_before_dedup": rows_before + existing_rows,
        "rows_after_dedup": rows_after,
        "partitions_written": len(touched),
    }


def child_duckdb(spec: dict) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {DUCKDB_THREADS}")
    con.execute("SET TimeZone = 'UTC'")
    load_before = load1()
    t0 = time.perf_counter()
    out = duckdb_consolidate(con, spec["bronze_files"], Path(spec["silver"]), Path(spec["staging"]))
    wall = time.perf_counter() - t0
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    return {
        "mode": "duckdb",
        "wall_s": round(wall, 3),
        "process_cpu_s": round(cpu.ru_utime + cpu.ru_stime, 2),
        "peak_rss_mb": round(cpu.ru_maxrss / 1024, 1),
        "load1_before": load_before,
        **out,
    }


# --- Parent: set-up -----------------------------------------------------------------------------
class Progress:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed():6.0f} s] {message}", flush=True)


def _run_child(kind: str, spec: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "TZ": "UTC"},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-30:])
        raise RuntimeError(f"{kind} child failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    return result


def build_batch(work: Path, cars: int, batch_records: int, progress: Progress) -> dict:
    """Landing JSON for the latest day -> bronze Parquet through the Lambda's code path."""
    generator = generate_telemetry
    handler = local_runtime
    readings = batch_records // cars
    t0 = time.perf_counter()
    landing = generator.generate(
        work / "landing",
        cars=cars,
        days=1,
        start_date=LATEST_DAY,
        readings_per_day=readings,
        files=BATCH_FILES,
        fmt="jsonl",
        seed=SEED,
        overwrite=True,
    )
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    bronze_root = work / "bronze"
    files = []
    for path in landing:
        outcome = handler.convert_local_file(path, bronze_root, event_time=BATCH_ARRIVAL)
        if outcome["status"] != "processed":
            raise RuntimeError(f"ingestion of {path} failed: {outcome}")
        files.append(outcome["target_path"])
    convert_s = time.perf_counter() - t0
    progress(
        f"bronze batch: {batch_records:,} records ({cars:,} cars x {readings}) in "
        f"{len(files)} files; generate {generate_s:.1f} s, convert {convert_s:.1f} s"
    )
    return {
        "bronze_path": str(bronze_root / "car_data"),
        "bronze_files": sorted(files),
        "readings_per_car": readings,
        "generate_s": round(generate_s, 2),
        "convert_s": round(convert_s, 2),
    }


def _partition_dir(root: Path, day: dt.date) -> Path:
    year, month = f"event_year={day.year:04d}", f"event_month={day.month:02d}"
    return root / year / month / f"event_day={day.day:02d}"


def build_histories(
    work: Path, batch: dict, template_file: Path, sizes: list[int], progress: Progress
) -> tuple[dict[int, Path], dict[str, float]]:
    """Silver histories ending on the latest day, and the expected result of the touched day.

    The rows are a real job run's output (the batch consolidated into an empty silver: one row
    per car, its exact schema and Parquet flavour), shifted back one day per partition. On the
    latest day the existing row's mileage is, for every other car, between its 2nd and 3rd batch
    readings (the batch wins with its last reading) and, for the others, above all of them (the
    existing row stays).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    source = pq.ParquetFile(template_file)
    metadata = source.schema_arrow.metadata
    template = source.read().sort_by("carChassis")
    bronze = pa.concat_tables(
        pq.read_table(f, columns=["carChassis", "currentMileage"]) for f in batch["bronze_files"]
    )
    readings: dict[str, list[float]] = {}
    for chassis, mileage in zip(
        bronze["carChassis"].to_pylist(), bronze["currentMileage"].to_pylist(), strict=True
    ):
        readings.setdefault(chassis, []).append(mileage)
    latest, expected = [], {}
    for i, chassis in enumerate(template["carChassis"].to_pylist()):
        m = sorted(readings[chassis])
        if i % 2 == 0 and len(m) >= 2:
            mid = len(m) // 2
            existing = (m[mid - 1] + m[mid]) / 2
        else:
            existing = m[-1] + 7
        latest.append(existing)
        expected[chassis] = max(existing, m[-1])
    latest_mileage = pa.array(latest, pa.float64())

    def column(table: Any, name: str) -> tuple[int, Any]:
        return table.schema.get_field_index(name), table[name]

    root = work / "history"
    biggest = max(sizes)
    for k in range(biggest):
        day = LATEST_DAY - dt.timedelta(days=k)
        table = template
        for name in ("metrics_metricTimestamp", "metrics_trip_tripStartTimestamp"):
            idx, values = column(table, name)
            shift = pa.scalar(dt.timedelta(days=k), pa.duration(values.type.unit))
            table = table.set_column(idx, name, pc.subtract(values, shift))
        idx, values = column(table, "ingestion_timestamp")
        earlier = pa.scalar(dt.timedelta(days=k, hours=1), pa.duration(values.type.unit))
        table = table.set_column(idx, "ingestion_timestamp", pc.subtract(values, earlier))
        idx, _ = column(table, "currentMileage")
        table = table.set_column(
            idx, "currentMileage", pc.multiply(latest_mileage, 1.0 - 0.002 * k)
        )
        idx, _ = column(table, "source_file")
        table = table.set_column(
            idx, "source_file", pa.array([f"history/{day.isoformat()}.json"] * len(table))
        )
        folder = _partition_dir(root, day)
        folder.mkdir(parents=True)
        pq.write_table(
            table.replace_schema_metadata(metadata),
            folder / HISTORY_FILE_NAME,
            compression="snappy",
            use_deprecated_int96_timestamps=True,  # as Spark writes timestamps by default
            store_schema=False,
        )
    histories = {}
    for size in sorted(sizes):
        target = work / f"silver_{size}d"
        for k in range(size):
            folder = _partition_dir(root, LATEST_DAY - dt.timedelta(days=k))
            shutil.copytree(folder, target / folder.relative_to(root))
        histories[size] = target
    shutil.rmtree(root)
    progress(
        f"silver histories {', '.join(f'{s} d' for s in sorted(sizes))} "
        f"({len(template):,} rows a day) built in {time.perf_counter() - t0:.1f} s"
    )
    return histories, expected


def snapshot(root: Path) -> dict[str, tuple]:
    """Each partition folder -> its Parquet files with their modification times."""
    found: dict[str, list] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        files = sorted(
            (name, os.stat(os.path.join(dirpath, name)).st_mtime_ns)
            for name in filenames
            if name.endswith(".parquet")
        )
        if files:
            found[os.path.relpath(dirpath, root)] = tuple(files)
    return found


def touched_pairs(silver: Path) -> dict[str, float]:
    import pyarrow.parquet as pq

    pairs: dict[str, float] = {}
    for path in sorted(_partition_dir(silver, LATEST_DAY).glob("*.parquet")):
        table = pq.read_table(path, columns=["carChassis", "currentMileage"])
        for chassis, mileage in zip(
            table["carChassis"].to_pylist(), table["currentMileage"].to_pylist(), strict=True
        ):
            if chassis in pairs:
                pairs[chassis + " (duplicate)"] = mileage
            pairs[chassis] = mileage
    return pairs


def history_dir_size_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*.parquet")) / 2**20, 1)


# --- Parent: measurements -----------------------------------------------------------------------
def measure(
    kind: str, mode: str, days: int, rep: int, ctx: dict, progress: Progress
) -> tuple[dict, dict[str, float]]:
    run_dir = ctx["work"] / "runs" / f"{mode}_{days}d_{rep}"
    silver = run_dir / "silver"
    shutil.copytree(ctx["histories"][days], silver)
    before = snapshot(silver)
    if kind == "spark":
        spec = {
            "mode": mode,
            "bronze": ctx["batch"]["bronze_path"],
            "silver": str(silver),
            "quarantine": str(run_dir / "quarantine"),
            "state": str(run_dir / "state"),
        }
    else:
        spec = {
            "bronze_files": ctx["batch"]["bronze_files"],
            "silver": str(silver),
            "staging": str(run_dir / "staging"),
        }
    other_java = sum(1 for e in os.listdir("/proc") if e.isdigit() and _comm(int(e)) == "java")
    # The copy of a large history is still being written back to disk: finish that first, so
    # that it does not slow the measured run (seen: +0.7 s in stages that never read silver).
    os.sync()
    result = _run_child(kind, spec)
    result["other_java_processes"] = other_java  # our children have all exited by now
    after = snapshot(silver)
    pairs = touched_pairs(silver)
    shutil.rmtree(run_dir)
    result.update(
        days=days,
        rep=rep,
        silver_rows=days * ctx["cars"],
        partitions_after=len(after),
        partitions_rewritten=sum(1 for k, v in after.items() if before.get(k) != v),
        touched_day_matches_expected=pairs == ctx["expected"],
    )
    peak = result.get("jvm_peak_rss_mb", result.get("peak_rss_mb"))
    progress(
        f"{mode:<11} {days:>4} d run {rep + 1}: {result['wall_s']:7.2f} s, peak RSS "
        f"{peak:7.0f} MB, load {result['load1_before']:.1f}, "
        f"rewrote {result['partitions_rewritten']}/{len(after)} partitions, touched day "
        f"{'as expected' if result['touched_day_matches_expected'] else 'NOT AS EXPECTED'}"
    )
    return result, pairs


def run_all(ctx: dict, sizes: list[int], repeats: int, budget_s: float, progress: Progress):
    """One run of every cell first; then the repetitions, cheap cells (DuckDB and the job's
    incremental mode, whose ratio is the target) before the slow read_all mode's, each only if
    its estimated duration still fits the time budget.
    """
    cheap = [("duckdb", "duckdb", d) for d in sizes] + [("spark", "incremental", d) for d in sizes]
    slow = [("spark", "read_all", d) for d in sizes]
    schedule = [(0, cell) for cell in cheap + slow]
    schedule += [(rep, cell) for rep in range(1, repeats) for cell in cheap]
    schedule += [(rep, cell) for rep in range(1, repeats) for cell in slow]
    results: list[dict] = []
    pairs: dict[tuple[str, int], dict[str, float]] = {}
    cost: dict[tuple[str, int], float] = {}
    for rep, (kind, mode, days) in schedule:
        if rep and progress.elapsed() + cost[(mode, days)] > budget_s:
            progress(f"skip {mode} {days} d run {rep + 1}: it would exceed the time budget")
            continue
        t0 = time.perf_counter()
        result, found = measure(kind, mode, days, rep, ctx, progress)
        cost[(mode, days)] = max(cost.get((mode, days), 0.0), time.perf_counter() - t0)
        results.append(result)
        pairs.setdefault((mode, days), found)
    return results, pairs


# --- Parent: summary and report -----------------------------------------------------------------
def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summarize(results: list[dict], pairs: dict, sizes: list[int]) -> dict:
    cells: dict[str, dict[int, dict]] = {}
    for mode in (*MODES, "duckdb"):
        for days in sizes:
            runs = [r for r in results if r["mode"] == mode and r["days"] == days]
            if not runs:
                continue
            peak_key = "peak_rss_mb" if mode == "duckdb" else "jvm_peak_rss_mb"
            cpu_key = "process_cpu_s" if mode == "duckdb" else "jvm_cpu_s"
            cells.setdefault(mode, {})[days] = {
                "runs": len(runs),
                "silver_rows": runs[0]["silver_rows"],
                "time_s": _median([r["wall_s"] for r in runs]),
                "times_s": [r["wall_s"] for r in runs],
                "cpu_s": _median([r[cpu_key] for r in runs]),
                "cpus_s": [r[cpu_key] for r in runs],
                "peak_rss_mb": _median([r[peak_key] for r in runs]),
                "partitions_rewritten": runs[0]["partitions_rewritten"],
                "touched_day_matches_expected": all(
                    r["touched_day_matches_expected"] for r in runs
                ),
            }
    lo, hi = min(sizes), max(sizes)
    scaling = {}
    for mode, by_days in cells.items():
        if lo in by_days and hi in by_days and hi != lo:
            ratio = by_days[hi]["time_s"] / by_days[lo]["time_s"]
            mem = by_days[hi]["peak_rss_mb"] / by_days[lo]["peak_rss_mb"]
            cpu = by_days[hi]["cpu_s"] / by_days[lo]["cpu_s"] if by_days[lo]["cpu_s"] else None
            scaling[mode] = {
                "time_ratio": round(ratio, 3),
                "cpu_ratio": None if cpu is None else round(cpu, 3),
                "peak_rss_ratio": round(mem, 3),
                "time_verdict": "PASS" if ratio <= TARGET_RATIO else "MISS",
                "memory_verdict": "PASS" if mem <= TARGET_RATIO else "MISS",
            }
    duckdb_vs_job = {}
    for days in sizes:
        job_cell = cells.get("incremental", {}).get(days)
        duck_cell = cells.get("duckdb", {}).get(days)
        if job_cell and duck_cell:
            job_pairs = pairs.get(("incremental", days))
            duck_pairs = pairs.get(("duckdb", days))
            duckdb_vs_job[days] = {
                "job_over_duckdb": round(job_cell["time_s"] / duck_cell["time_s"], 2),
                "pairs_match": bool(job_pairs) and job_pairs == duck_pairs,
                "pairs_compared": len(job_pairs or {}),
                "mismatches": sorted(
                    c
                    for c in set(job_pairs or {}) | set(duck_pairs or {})
                    if (job_pairs or {}).get(c) != (duck_pairs or {}).get(c)
                )[:10],
            }
    return {"cells": cells, "scaling": scaling, "duckdb_vs_job": duckdb_vs_job}


def machine_info(java: str) -> dict:
    import duckdb
    import pyarrow
    import pyspark

    meminfo = Path("/proc/meminfo").read_text(encoding="utf-8").splitlines()
    mem_kb = int(next(ln for ln in meminfo if ln.startswith("MemTotal:")).split()[1])
    cpu_model = ""
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    version = subprocess.run([java, "-version"], capture_output=True, text=True)
    java_line = (version.stderr or version.stdout).splitlines()[0] if version else ""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", str(JOB_FILE)],
            capture_output=True,
            text=True,
        ).stdout.strip()
        revision = f"commit {head}" + (" with uncommitted changes" if dirty else "")
    except OSError:
        revision = "unknown revision"
    return {
        "job_revision": revision,
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "spark": pyspark.__version__,
        "java": java_line,
        "java_path": java,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ingestion_section(out: Path) -> list[str]:
    md = out / "ingestion.md"
    if not (out / "ingestion.json").exists() or not md.exists():
        return [
            "## (c) Ingestion",
            "",
            "Not measured here: run `scripts/bench_ingestion.py --out docs/benchmarks` "
            "(`make bench` runs it first); it writes `ingestion.md`.",
        ]
    tables: list[str] = []
    previous = ""
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            if tables and not previous.startswith("|"):
                tables.append("")  # a blank line between two tables
            tables.append(line)
        previous = line
    return [
        "## (c) Ingestion (from `scripts/bench_ingestion.py`)",
        "",
        "Copied from [ingestion.md](ingestion.md), where the method is described:",
        "",
        *tables,
    ]


def render(report: dict, out: Path) -> str:
    m, s, cfg = report["machine"], report["summary"], report["settings"]
    cells, scaling = s["cells"], s["scaling"]
    sizes = cfg["days"]
    lo, hi = min(sizes), max(sizes)
    lines = [
        "# Silver consolidation benchmark",
        "",
        "Generated by `scripts/bench_consolidation.py` (`make bench`). One hourly batch of "
        f"{cfg['batch_records']:,} records ({cfg['cars']:,} cars x {cfg['readings_per_car']} "
        f"readings on {LATEST_DAY}, {BATCH_FILES} bronze files written by the ingestion Lambda's "
        "code path) is consolidated into silver histories of "
        + ", ".join(f"{d}" for d in sizes)
        + f" days ({cfg['cars']:,} rows a day; the batch's day is the history's last). On that "
        "day half of the cars' existing rows have a mileage between the car's 2nd and 3rd "
        "readings of the batch (the batch's last reading wins) and half a higher one (the "
        "existing row stays), so dedup has real work.",
        "",
        "- `incremental`: the job's `run()` as it is: it reads only the touched silver "
        "partition(s).",
        "- `read_all`: the same `run()` with `read_partitions` wrapped so that the silver read "
        "ignores the partition list (the naive design: read and rewrite every partition). The "
        "job's file is not modified.",
        "- `duckdb`: the same consolidation in DuckDB SQL (single-machine reference, "
        f"{DUCKDB_THREADS} threads): flatten, rejects, cleanse, type, enrich, partition "
        "columns, union with the touched partition, `QUALIFY row_number() ... = 1`, "
        "`COPY ... PARTITION_BY` into a fresh folder, swap.",
        "",
        "Each measurement is a fresh process (a fresh JVM for Spark) on a fresh copy of the same "
        "history. *time* is the wall time of `job.run` (or of the DuckDB statements), the median "
        "of the runs shown; Spark session start-up (about "
        f"{report['spark_session_start_s']:.0f} s) is excluded. *CPU* is the CPU time the JVM "
        "(or the DuckDB process) spent, less sensitive than wall time to other load on the "
        "machine. *peak RSS* is the driver JVM's `VmHWM` read right after the run (for DuckDB "
        "the process's `ru_maxrss`, Python included). Spark: "
        f"`{SPARK_MASTER}`, " + ", ".join(f"`{k}={v}`" for k, v in SPARK_CONF.items()) + " plus "
        "the job's `configure_session`. Every Spark run is a cold JVM, as on Glue where each "
        "hourly run starts a fresh driver. Python side: the driver process peaked at "
        f"{report['python_driver_peak_rss_mb']:.0f} MB; Python workers spawned: "
        + (
            f"{report['python_workers_max']}."
            if report["python_workers_max"]
            else "none (the job has no Python UDF)."
        )
        + f" Job script: `{JOB_FILE.relative_to(REPO_ROOT)}` at {m['job_revision']}.",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, "
        f"{m['platform']}; Python {m['python']}, Spark {m['spark']}, {m['java']}, DuckDB "
        f"{m['duckdb']}, pyarrow {m['pyarrow']}. Load average at start "
        f"{' / '.join(str(x) for x in m['load_average_start'])} (1/5/15 min), at the end "
        f"{' / '.join(str(x) for x in report['load_average_end'])}; the 1-minute load before "
        f"each run ranged {report['load1_range'][0]}-{report['load1_range'][1]} (the "
        "bench's own Spark runs alone keep it around 2-3 on this machine); other java "
        "processes (Spark sessions not started by the bench) were running at the start of "
        f"{report['runs_with_other_java']} of {len(report['results'])} runs. "
        f"Total bench wall time {report['total_wall_s'] / 60:.1f} min.",
        "",
        "## (a) The job: incremental vs read-all-silver",
        "",
        "| mode | history days | silver rows | time s | runs | JVM CPU s | peak RSS MB "
        "| partitions rewritten | touched day as expected |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for mode in MODES:
        for days, c in sorted(cells.get(mode, {}).items()):
            lines.append(
                f"| {mode} | {days} | {c['silver_rows']:,} | {c['time_s']:.2f} | {c['runs']} "
                f"| {c['cpu_s']:.1f} | {c['peak_rss_mb']:.0f} | {c['partitions_rewritten']} "
                f"| {'yes' if c['touched_day_matches_expected'] else 'NO'} |"
            )
    lines += [
        "",
        f"Target: incremental T({hi})/T({lo}) <= {TARGET_RATIO} with flat memory (here: peak "
        f"RSS({hi})/peak RSS({lo}) <= {TARGET_RATIO}).",
        "",
        f"| mode | T({lo}) s | T({hi}) s | T({hi})/T({lo}) | time vs target | CPU ratio "
        "| peak RSS ratio | memory vs target |",
        "|---|---:|---:|---:|:---:|---:|---:|:---:|",
    ]
    for mode in MODES:
        if mode in scaling:
            sc, by = scaling[mode], cells[mode]
            lines.append(
                f"| {mode} | {by[lo]['time_s']:.2f} | {by[hi]['time_s']:.2f} "
                f"| {sc['time_ratio']:.2f} | {sc['time_verdict']} "
                f"| {sc['cpu_ratio'] if sc['cpu_ratio'] is not None else '-'} "
                f"| {sc['peak_rss_ratio']:.2f} | {sc['memory_verdict']} |"
            )
    spreads = [
        (max(c[key]) - min(c[key])) / statistics.median(c[key])
        for key in ("times_s", "cpus_s")
        for mode in MODES
        for c in cells.get(mode, {}).values()
        if len(c[key]) > 1
    ]
    if spreads:
        n = len(spreads) // 2
        lines += [
            "",
            "Run-to-run spread within a cell, (max - min) / median: wall time up to "
            f"{max(spreads[:n]) * 100:.0f}%, JVM CPU time up to {max(spreads[n:]) * 100:.0f}%. "
            "With other processes on the machine the CPU ratio is the steadier measure of how "
            "the work grows with the history.",
        ]
    lines += [
        "",
        "Job stages (median seconds, from the run summary) and the silver read "
        "(`read_partitions`: listing and Parquet footers, mergeSchema):",
        "",
        "| mode | days | read_bronze | validate | consolidate_silver | write_silver | commit "
        "| silver read_partitions s | files read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["stage_medians"]:
        st = row["stages_s"]
        lines.append(
            f"| {row['mode']} | {row['days']} | {st.get('read_bronze', 0):.2f} "
            f"| {st.get('validate', 0):.2f} | {st.get('consolidate_silver', 0):.2f} "
            f"| {st.get('write_silver', 0):.2f} | {st.get('commit', 0):.2f} "
            f"| {row['silver_read_s']:.2f} | {row['silver_files']} |"
        )
    lines += [
        "",
        "## (b) DuckDB reference",
        "",
        "| history days | silver rows | time s | runs | CPU s | peak RSS MB | job incremental s "
        "| job / DuckDB | touched day = job's (carChassis, currentMileage) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for days, c in sorted(cells.get("duckdb", {}).items()):
        cmp_ = s["duckdb_vs_job"].get(days, {})
        job_t = cells.get("incremental", {}).get(days, {}).get("time_s")
        match = cmp_.get("pairs_match")
        lines.append(
            f"| {days} | {c['silver_rows']:,} | {c['time_s']:.2f} | {c['runs']} "
            f"| {c['cpu_s']:.1f} | {c['peak_rss_mb']:.0f} "
            f"| {'-' if job_t is None else f'{job_t:.2f}'} "
            f"| {cmp_.get('job_over_duckdb', '-')} "
            f"| {'-' if match is None else ('yes' if match else 'NO: MISMATCH')} "
            f"({cmp_.get('pairs_compared', 0):,} cars) |"
        )
    if "duckdb" in scaling:
        sc = scaling["duckdb"]
        lines += [
            "",
            f"DuckDB T({hi})/T({lo}) = {sc['time_ratio']:.2f}, peak RSS ratio "
            f"{sc['peak_rss_ratio']:.2f}. The DuckDB check compares the touched day's "
            "(carChassis, currentMileage) pairs with those of the job's incremental run on the "
            "same history; both are also checked against the expected result computed by the "
            "bench from the generated data.",
        ]
    lines += ["", "![time and peak memory vs history size](consolidation.png)", ""]
    lines += _ingestion_section(out)
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        "make bench      # ingestion, then this benchmark",
        ".venv/bin/python scripts/bench_consolidation.py --out docs/benchmarks "
        f"--days {','.join(str(d) for d in sizes)} --cars {cfg['cars']} "
        f"--batch-records {cfg['batch_records']}",
        ".venv/bin/python scripts/bench_consolidation.py --out /tmp/bench --quick   # smoke run",
        "```",
        "",
        "Raw figures of every run: [consolidation.json](consolidation.json). Up to "
        f"{cfg['repeats']} run(s) per cell while the bench fits its time budget "
        f"({cfg['budget_minutes']:g} min); cheap cells are repeated first.",
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    cells = report["summary"]["cells"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    styles = {"incremental": "o-", "read_all": "s--", "duckdb": "^:"}
    for mode in (*MODES, "duckdb"):
        by_days = cells.get(mode, {})
        if not by_days:
            continue
        days = sorted(by_days)
        left.plot(days, [by_days[d]["time_s"] for d in days], styles[mode], label=mode)
        label = f"{mode} ({'process' if mode == 'duckdb' else 'driver JVM'})"
        right.plot(days, [by_days[d]["peak_rss_mb"] for d in days], styles[mode], label=label)
    for ax, title, ylabel in (
        (left, "Wall time of one hourly batch", "seconds"),
        (right, "Peak RSS", "MB"),
    ):
        ax.set_xscale("log")
        ax.set_xticks(report["settings"]["days"])
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"silver history (days, {report['settings']['cars']:,} rows a day)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def stage_medians(results: list[dict]) -> list[dict]:
    rows = []
    keys = sorted({(r["mode"], r["days"]) for r in results if r["mode"] in MODES})
    for mode, days in sorted(keys, key=lambda k: (MODES.index(k[0]), k[1])):
        runs = [r for r in results if r["mode"] == mode and r["days"] == days]
        stages = {
            name: _median([r["stages_s"].get(name, 0.0) for r in runs])
            for name in runs[0]["stages_s"]
        }
        silver = [
            next((c for c in r["read_partitions_calls"] if c["table"] == "silver"), None)
            for r in runs
        ]
        rows.append(
            {
                "mode": mode,
                "days": days,
                "stages_s": stages,
                "silver_read_s": _median([c["seconds"] if c else 0.0 for c in silver]),
                "silver_files": silver[0]["files"] if silver[0] else 0,
            }
        )
    return rows


def print_tables(report: dict) -> None:
    cells = report["summary"]["cells"]
    print()
    print(f"{'mode':<12}{'days':>6}{'rows':>12}{'time s':>9}{'runs':>6}{'CPU s':>8}{'RSS MB':>9}")
    for mode in (*MODES, "duckdb"):
        for days, c in sorted(cells.get(mode, {}).items()):
            print(
                f"{mode:<12}{days:>6}{c['silver_rows']:>12,}{c['time_s']:>9.2f}{c['runs']:>6}"
                f"{c['cpu_s']:>8.1f}{c['peak_rss_mb']:>9.0f}"
            )
    for mode, sc in report["summary"]["scaling"].items():
        verdicts = mode in MODES
        print(
            f"{mode}: T(max)/T(min) = {sc['time_ratio']:.2f}"
            + (f" ({sc['time_verdict']} vs <= {TARGET_RATIO})" if verdicts else "")
            + f", CPU ratio {sc['cpu_ratio']}, peak RSS ratio {sc['peak_rss_ratio']:.2f}"
            + (f" ({sc['memory_verdict']})" if verdicts else "")
        )
    for days, cmp_ in report["summary"]["duckdb_vs_job"].items():
        print(
            f"{days} d: job/DuckDB = {cmp_['job_over_duckdb']}, DuckDB touched day "
            f"{'MATCHES' if cmp_['pairs_match'] else 'DOES NOT MATCH'} the job's "
            f"({cmp_['pairs_compared']} cars){'' if cmp_['pairs_match'] else cmp_['mismatches']}"
        )


# --- Entry point --------------------------------------------------------------------------------
def _days(text: str) -> list[int]:
    values = sorted({int(v) for v in text.split(",") if v.strip()})
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"expected positive day counts like 1,30,365: {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Benchmark the silver consolidation job: one hourly batch against growing "
        "silver histories, incremental vs read-all-silver, and a DuckDB reference."
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "benchmarks")
    parser.add_argument(
        "--days", type=_days, default=None, help="history sizes in days (default 1,30,365)"
    )
    parser.add_argument("--cars", type=int, default=None, help="cars (rows a day; default 5000)")
    parser.add_argument(
        "--batch-records",
        type=int,
        default=None,
        help="records in the hourly batch, a multiple of --cars (default 20000)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per cell, median reported (default 3)"
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=13.0,
        help="no repetition is started that would end the bench later than this "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 200 cars, 800 records, 1 and 3 days, one run per cell",
    )
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temp folder)")
    parser.add_argument("--keep-workdir", action="store_true", help="do not delete the scratch")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SPEC"), help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        result = child_spark(spec) if kind == "spark" else child_duckdb(spec)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    sizes = args.days or ([1, 3] if args.quick else [1, 30, 365])
    cars = args.cars or (200 if args.quick else 5000)
    batch_records = args.batch_records or (4 * cars if args.quick else 20000)
    repeats = args.repeats or (1 if args.quick else 3)
    if batch_records % cars or batch_records < cars:
        print("error: --batch-records must be a positive multiple of --cars", file=sys.stderr)
        return 2
    progress = Progress()
    job = load_job()
    java = job.ensure_java()
    machine = machine_info(java)
    progress(
        f"{machine['cpus']} CPUs, {machine['memory_gib']} GiB, load "
        f"{machine['load_average_start']}; Spark {machine['spark']}, {machine['java']}"
    )
    work = Path(tempfile.mkdtemp(prefix="bench_consolidation_", dir=args.workdir))
    try:
        batch = build_batch(work, cars, batch_records, progress)
        template = _run_child(
            "spark",
            {
                "mode": "incremental",
                "bronze": batch["bronze_path"],
                "silver": str(work / "template"),
                "quarantine": str(work / "template_quarantine"),
                "state": str(work / "template_state"),
            },
        )
        template_file = next(_partition_dir(work / "template", LATEST_DAY).glob("*.parquet"))
        progress(
            f"template run (batch into an empty silver): {template['wall_s']:.1f} s, "
            f"{template['rows_after_dedup']:,} rows"
        )
        histories, expected = build_histories(work, batch, template_file, sizes, progress)
        ctx = {
            "work": work,
            "batch": batch,
            "histories": histories,
            "expected": expected,
            "cars": cars,
        }
        sizes_mb = {d: history_dir_size_mb(p) for d, p in histories.items()}
        results, pairs = run_all(ctx, sizes, repeats, args.budget_minutes * 60, progress)
    finally:
        if args.keep_workdir:
            progress(f"scratch kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    loads = [r["load1_before"] for r in results]
    spark_runs = [r for r in results if r["mode"] in MODES]
    report = {
        "machine": machine,
        "settings": {
            "days": sizes,
            "cars": cars,
            "batch_records": batch_records,
            "batch_files": BATCH_FILES,
            "readings_per_car": batch["readings_per_car"],
            "latest_day": LATEST_DAY.isoformat(),
            "seed": SEED,
            "repeats": repeats,
            "budget_minutes": args.budget_minutes,
            "spark_master": SPARK_MASTER,
            "spark_conf": SPARK_CONF,
            "duckdb_threads": DUCKDB_THREADS,
            "target_ratio": TARGET_RATIO,
        },
        "setup": {
            "generate_s": batch["generate_s"],
            "convert_s": batch["convert_s"],
            "template_run": template,
            "history_size_mb": sizes_mb,
        },
        "spark_session_start_s": _median([r["session_start_s"] for r in spark_runs]),
        "results": results,
        "summary": summarize(results, pairs, sizes),
        "stage_medians": stage_medians(results),
        "load1_range": [min(loads), max(loads)],
        "runs_with_other_java": sum(1 for r in results if r["other_java_processes"]),
        "python_driver_peak_rss_mb": max(r["python_driver_peak_rss_mb"] for r in spark_runs),
        "python_workers_max": max(r["python_workers"] for r in spark_runs),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "total_wall_s": round(progress.elapsed(), 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "consolidation.json").write_text(
        json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8"
    )
    plot(report, args.out / "consolidation.png")
    (args.out / "consolidation.md").write_text(render(report, args.out), encoding="utf-8")
    print_tables(report)
    progress(f"wrote {args.out}/consolidation.md, .json, .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
