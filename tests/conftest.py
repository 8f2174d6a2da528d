"""Shared fixtures: one local SparkSession per test process (`make test` runs two pytest-xdist
workers), and a small Lambda context."""

from __future__ import annotations

import functools
import os
import time

import local_runtime
import pytest
from ingestion_helpers import LambdaContext

# PySpark turns timestamps into Python datetimes in the process's local zone: make it UTC so
# that collected values compare equal to the UTC datetimes the tests write.
os.environ["TZ"] = "UTC"
time.tzset()


# The longest files first (about their share of `make test`, longest first): the two workers take
# one file at a time in this order (make test passes --no-loadscope-reorder, else xdist orders
# files by their number of tests), so that no long file starts last and runs alone on one core.
LONGEST_FIRST = (
    "test_s3_commit.py",
    "test_silver_run.py",
    "test_silver_commit.py",
    "test_local_pipeline.py",
    "test_silver_entrypoint.py",
    "test_silver_drift.py",
    "test_silver_catalog.py",
    "test_s3_pipeline.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


def cache_function_lookups() -> None:
    """PySpark 3.5 finds the JVM side of every `pyspark.sql.functions` call (F.col, F.when, ...)
    anew each time, by two reflective py4j round trips: about 1,000 per run of the job, a tenth
    of a small run's time. The test processes cache that lookup; the JVM methods are static, so
    only the time changes. The job's own command line, run as a process by the tests, does not."""
    from pyspark.sql import functions

    functions._get_jvm_function = functools.cache(functions._get_jvm_function)


@pytest.fixture(scope="session")
def spark():
    """The local runtime's session: local[2], UI off, 2 shuffle partitions, UTC, the job's
    required settings (dynamic overwrite, no partition-type inference)."""
    cache_function_lookups()
    session = local_runtime.spark_session("car-telemetry-tests")
    yield session
    session.stop()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
