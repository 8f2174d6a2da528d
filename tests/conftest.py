"""Shared fixtures: one local SparkSession per test process (`make test` runs two pytest-xdist
workers), and a small Lambda context."""

from __future__ import annotations

import dataclasses
import os
import time

import local_runtime
import pytest

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


@dataclasses.dataclass
class LambdaContext:
    function_name: str = "car-telemetry-ingestion"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:car-telemetry-ingestion"
    )
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()
