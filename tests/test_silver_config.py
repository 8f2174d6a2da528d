"""The job's configuration (silver_job/config.py): its arguments as a JobConfig, and the
session settings without which it refuses to run."""

from __future__ import annotations

import re

import pytest
from silver_job.config import JobConfig, require_safe_session


@pytest.mark.parametrize(
    ("key", "unsafe", "safe"),
    [
        ("spark.sql.sources.partitionOverwriteMode", "static", "dynamic"),
        ("spark.sql.sources.partitionColumnTypeInference.enabled", "true", "false"),
        ("spark.sql.caseSensitive", "true", "false"),
    ],
)
def test_require_safe_session_refuses_each_unsafe_setting(spark, key, unsafe, safe):
    spark.conf.set(key, unsafe)
    try:
        with pytest.raises(RuntimeError, match=re.escape(f"must have {key}={safe} (it has")):
            require_safe_session(spark)
    finally:
        spark.conf.set(key, safe)
    require_safe_session(spark)


def test_job_config_validates_flag_time_zone_and_paths():
    args = {"bronze_path": "b/", "silver_path": "s", "quarantine_path": "q"}
    config = JobConfig.from_args({**args, "full_refresh": "TRUE", "source_timezone": "-03:00"})
    assert config == JobConfig("b", "s", "q", True, "-03:00", None, "silver_consolidation")
    with pytest.raises(ValueError, match="--full_refresh must be true or false"):
        JobConfig.from_args({**args, "full_refresh": "yes"})
    with pytest.raises(ValueError, match="not a known time zone"):
        JobConfig.from_args({**args, "source_timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="--silver_path must not be empty"):
        JobConfig.from_args({**args, "silver_path": " "})


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (
            {"silver_path": "lake/bronze"},
            "--bronze_path lake/bronze and --silver_path lake/bronze overlap",
        ),
        (
            {"silver_path": "file://lake/bronze/car_data/silver"},
            "--bronze_path lake/bronze and --silver_path file://lake/bronze/car_data/silver",
        ),
        (
            {"quarantine_path": "lake/silver/t/q"},
            "--silver_path lake/silver/t and --quarantine_path lake/silver/t/q overlap",
        ),
        (
            {"state_path": "lake/silver/t/_state"},
            "--silver_path lake/silver/t and --state_path lake/silver/t/_state overlap",
        ),
        (
            {"bronze_path": "s3://b/car_data", "silver_path": "s3://b/car_data/"},
            "--bronze_path s3://b/car_data and --silver_path s3://b/car_data/ overlap",
        ),
    ],
)
def test_job_config_refuses_overlapping_paths(paths, message):
    args = {"bronze_path": "lake/bronze", "silver_path": "lake/silver/t", "quarantine_path": "q"}
    with pytest.raises(ValueError, match=re.escape(message)):
        JobConfig.from_args({**args, **paths})


def test_job_config_accepts_neighbouring_paths():
    args = {
        "bronze_path": "s3://bronze/car_data/",
        "silver_path": "s3://silver/car_telemetry/",
        "quarantine_path": "s3://silver/quarantine/car_telemetry/",
    }
    assert JobConfig.from_args(args).silver_path == "s3://silver/car_telemetry"
    local = {
        "bronze_path": "lake/car_data",
        "silver_path": "lake/car_data_2",
        "quarantine_path": "q",
    }
    assert JobConfig.from_args(local).bronze_path == "lake/car_data"
