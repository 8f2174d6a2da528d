"""What the local tools share on their command line.

- Exit codes: 0 done; 1 the run failed (an error of the environment: no AWS credentials, a
  folder that cannot be written, a Spark failure, another run live); 2 a usage error (bad
  arguments, a path refused); 130 interrupted (Ctrl-C).
- `run_main`: every error is one line on stderr (`<tool>: ...`) and one of those codes, never a
  traceback; `--debug` shows the traceback (and Spark's own log) as well.
- `quiet_logs`: Spark's start-up noise and its log stay out of the output, py4j's too, and the
  Lambda's JSON line per file (the tools' summaries list those files).
- `Progress`: a line on stderr that rewrites itself, only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES_HELP = (
    "exit codes: 0 done; 1 the run failed (environment, Spark, another run live); "
    "2 usage error (arguments, refused paths); 130 interrupted"
)
# A log4j2 configuration that logs nothing: Spark reads the folder's log4j2.properties
QUIET_SPARK_CONF_DIR = Path(__file__).resolve().parent / "spark_conf"
# The job's stage lines (silver_job.run logs each stage as it starts and ends)
STAGE_LOGGER = "silver_consolidation.progress"


class UsageError(Exception):
    """Bad arguments or a path that must be refused: exit 2."""


class ToolError(Exception):
    """The run cannot be done here (credentials, access, ...); its text says why: exit 1."""


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="on an error, show the traceback and Spark's log too"
    )


def one_line(exc: BaseException) -> str:
    """The error as one line: a Java exception's root cause, else the first line of its text."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            while java.getCause() is not None:
                java = java.getCause()
            text = str(java.toString())
        except Exception:  # the JVM is gone: fall back to the Python text
            text = str(exc)
    else:
        text = str(exc) or type(exc).__name__
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (
        first
        if isinstance(exc, (OSError, UsageError, ToolError))
        else f"{type(exc).__name__}: {first}"
    )


def run_main(tool: str, body: Callable[[], int], debug: bool = False) -> int:
    """`body()`'s exit code; any error becomes one line on stderr and its exit code."""
    try:
        return body()
    except UsageError as exc:
        code, message = EXIT_USAGE, str(exc)
    except KeyboardInterrupt:
        code, message = EXIT_INTERRUPTED, "interrupted"
    except Exception as exc:
        code, message = EXIT_FAILED, f"failed: {one_line(exc)}"
        if debug:
            traceback.print_exc()
    Progress.end_open_line()  # the error starts a line of its own
    print(f"{tool}: {message}", file=sys.stderr, flush=True)
    return code


def quiet_logs(debug: bool = False) -> None:
    """Before the first Spark session: no start-up banner, no log4j lines, no py4j logging, no
    per-file lines of the Lambda's logger. With `debug`, all of them log as they would."""
    if not debug:
        os.environ.setdefault("SPARK_CONF_DIR", str(QUIET_SPARK_CONF_DIR))
        for name in ("py4j", "py4j.java_gateway", "py4j.clientserver"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        logging.getLogger().addFilter(_not_from_py4j)  # py4j also logs through the root logger
        logging.getLogger("handler").setLevel(logging.ERROR)


def _not_from_py4j(record: logging.LogRecord) -> bool:
    return f"{os.sep}py4j{os.sep}" not in record.pathname


def plain_interrupts() -> None:
    """After a SparkSession starts: Ctrl-C raises KeyboardInterrupt and nothing else. PySpark's
    own handler cancels the jobs through py4j, which fails mid-call when the signal lands inside
    another py4j call ("reentrant call"; py4j's traceback, exit 1); Ctrl-C reaches the JVM
    anyway (the terminal signals the whole process group), which stops on its own."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Progress:
    """One line on a terminal, rewritten in place: `what: n of N`; silent elsewhere."""

    _open: Progress | None = None  # the instance whose line is not ended yet, if any

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled

    def count(self, what: str, done: int, total: int) -> None:
        if self.enabled:
            ended = done >= total
            self.stream.write(f"\r{what}: {done} of {total}\x1b[K" + ("\n" if ended else ""))
            self.stream.flush()
            Progress._open = None if ended else self

    def line(self, text: str) -> None:
        if self.enabled:
            Progress.end_open_line()
            self.stream.write(text + "\n")
            self.stream.flush()

    @classmethod
    def end_open_line(cls) -> None:
        """Ends a line that a count left open (before an error or a stage line is printed)."""
        if cls._open is not None:
            cls._open.stream.write("\n")
            cls._open.stream.flush()
            cls._open = None

    def follow_stages(self) -> logging.Handler | None:
        """Shows the job's stage lines (its progress logger) while enabled; the handler."""
        if not self.enabled:
            return None
        handler = _LineHandler(self)
        stages = logging.getLogger(STAGE_LOGGER)
        stages.addHandler(handler)
        stages.setLevel(logging.INFO)
        stages.propagate = False
        return handler


class _LineHandler(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.line(f"job: {record.getMessage()}")
