"""A local lake for the job's tests: its folders, its configuration, a run, and its tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import local_job
from silver_job.config import JobConfig


class Lake:
    """Under `root`: bronze/car_data, silver/car_telemetry, silver/quarantine/car_telemetry,
    silver/_commits/car_telemetry (the commit protocol's root) and state/ (the local bookmark)."""

    def __init__(self, root: Path, **config) -> None:
        self.root = root
        self.bronze = root / "bronze" / "car_data"
        self.silver = root / "silver" / "car_telemetry"
        self.quarantine = root / "silver" / "quarantine" / "car_telemetry"
        self.commits = root / "silver" / "_commits" / "car_telemetry"
        self.state = root / "state"
        self._config = JobConfig(
            bronze_path=str(self.bronze),
            silver_path=str(self.silver),
            quarantine_path=str(self.quarantine),
            state_path=str(self.state),
            **config,
        )

    def config(self, **overrides) -> JobConfig:
        return dataclasses.replace(self._config, **overrides)

    def run(self, spark, **overrides) -> dict:
        """One run of the job with the local bookmark; its summary."""
        return local_job.run_local(spark, self.config(**overrides))

    def silver_df(self, spark):
        return spark.read.option("mergeSchema", "true").parquet(str(self.silver))

    def silver_rows(self, spark, *columns) -> list[tuple]:
        df = self.silver_df(spark)
        cols = columns or tuple(df.columns)
        return sorted(tuple(r[c] for c in cols) for r in df.collect())

    def quarantine_rows(self, spark, *columns) -> list[tuple]:
        df = spark.read.option("mergeSchema", "true").parquet(str(self.quarantine))
        return sorted(tuple(r[c] for c in columns) for r in df.collect())
