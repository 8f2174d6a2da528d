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
