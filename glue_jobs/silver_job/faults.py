"""Kill points for the fault-injection tests (tests/test_silver_commit.py kills the real job
process at each; tests/test_silver_faults.py checks the plan itself).

`SILVER_JOB_FAULT=<point>[:<n>]` SIGKILLs the job's whole process (as a Glue timeout or a lost
driver would) the n-th time (default: the first) the run reaches `<point>`. Unset in
production, where every point is a no-op.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping

FAULT_ENV = "SILVER_JOB_FAULT"
FAULT_POINTS = (
    "recovered",  # any unfinished commit of an earlier run was rolled forward
    "staged_silver",  # the run's silver partitions are in its staging folder
    "staged_quarantine",  # ... and its quarantine partitions
    "manifest_written",  # the intent is durable
    "partition_copied",  # a partition holds its staged files beside the old ones
    "partition_replaced",  # ... and the old files are deleted
    "applied",  # every partition of the intent is replaced
    "catalog_updated",  # ... and the catalog has its partitions and columns (if configured)
    "marked_done",  # the done marker is written
    "bookmark_committed",  # the bookmark has advanced
    "manifest_deleted",  # clean-up has begun
)


class Faults:
    """One run's kill plan: the point to die at and on which of its hits (None: never)."""

    def __init__(self, spec: str | None = None) -> None:
        self._point, self._nth, self._hits = None, 0, 0
        if not spec:
            return
        point, _, nth = spec.partition(":")
        if point not in FAULT_POINTS:
            raise ValueError(
                f"{FAULT_ENV}={spec!r}: unknown fault point {point!r}; one of {FAULT_POINTS}"
            )
        if nth and not (nth.isdigit() and int(nth) > 0):
            raise ValueError(f"{FAULT_ENV}={spec!r}: the hit after ':' must be a positive integer")
        self._point, self._nth = point, int(nth or 1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Faults:
        return cls(environ.get(FAULT_ENV))

    def reached(self, point: str) -> None:
        """Marks that the run reached `point`; dies there when the plan says so."""
        if point not in FAULT_POINTS:
            raise ValueError(f"unknown fault point {point!r}")
        if point != self._point:
            return
        self._hits += 1
        if self._hits == self._nth:
            sys.stdout.flush()
            sys.stderr.flush()
            if os.getpgrp() == os.getpid():  # a process group of its own: take the JVM down too
                os.killpg(os.getpgrp(), signal.SIGKILL)
            os.kill(os.getpid(), signal.SIGKILL)
