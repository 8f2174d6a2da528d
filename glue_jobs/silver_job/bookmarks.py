"""Where a run's bronze files come from and how their progress is recorded: the protocol, and
Glue's job bookmark. (The local bookmark, which Glue never calls, is scripts/local/local_job.py.)"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Protocol

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from silver_job.files import Files

BOOKMARK_CTX = "bronze_read"


class BronzeSource(Protocol):
    """Where new bronze comes from, and how its progress is recorded."""

    def lock(self) -> contextlib.AbstractContextManager:
        """Held for the whole run: one writer at a time."""

    def new_files(self, spark: SparkSession) -> list[str]:
        """The bronze files this run must read (all of them on a full refresh)."""

    def commit(self) -> None:
        """Records the batch as processed; called only after every write succeeded."""


@dataclass
class GlueBookmark:
    """The bronze read on Glue: the only read with a transformation_ctx (job bookmarks).

    One run at a time is Glue's `max_concurrent_runs = 1` (Terraform), so no lock here.
    """

    glue_context: object
    job: object
    bronze_path: str
    full_refresh: bool = False

    def lock(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def new_files(self, spark: SparkSession) -> list[str]:
        """The bookmark's new files; the job then reads them itself, as it does locally, so
        that no type conflict is left to DynamicFrame choice types."""
        if self.full_refresh:  # every bronze file, without the bookmark context
            files = Files(spark).list_tree(self.bronze_path, ".parquet")
            return [f"{self.bronze_path}/{rel}" for rel in files]
        dyf = self.glue_context.create_dynamic_frame.from_options(
            connection_type="s3",
            connection_options={"paths": [self.bronze_path + "/"], "recurse": True},
            format="parquet",
            transformation_ctx=BOOKMARK_CTX,
        )
        df = dyf.toDF()
        if not df.columns:
            return []
        names = [r[0] for r in df.select(F.input_file_name()).distinct().collect()]
        if any(not n for n in names):
            raise RuntimeError(
                "the bookmarked bronze read gave rows without a source file name; refusing to"
                " guess which bronze files are new"
            )
        return sorted(names)

    def commit(self) -> None:
        self.job.commit()
