"""Shared fixtures: one local SparkSession per test process (`make test` runs two pytest-xdist
workers), and a small Lambda context."""

from __future__ import annotations

import os
import time

import local_runtime
import pytest
from ingestion_helpers import LambdaContext

# PySpark turns timestamps into Python datetimes in the process's local zone: make it UTC so
# that collected values compare equal to the UTC datetimes the tests write.
os.environ["TZ"] = "UTC"
time.tzset()


@pytest.fixture(scope="session")
def spark():
    """The local runtime's session: local[2], UI off, 2 shuffle partitions, UTC, the job's
    required settings (dynamic overwrite, no partition-type inference)."""
    session = local_runtime.spark_session("car-telemetry-tests")
    yield session
    session.stop()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
