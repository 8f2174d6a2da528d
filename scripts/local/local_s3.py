"""The pipeline on a local S3 API, for `make demo-s3` (scripts/local/run_demo_s3.py) and
bench/bench_s3_requests.py: moto's server in this process, recording every request it answers
(tests/s3_server.py), the buckets and prefixes as Terraform names them (tests/hcl_eval.py
renders `<name>-bucket`), landing uploads put through the Lambda's own handler, and the job's
configuration on s3a:// paths with a local bookmark state.

The server and the Terraform reader live with the tests; this module puts tests/ at the end of
the import path to reuse them.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path

import local_runtime
from silver_job.config import JobConfig

TESTS = Path(__file__).resolve().parents[2] / "tests"
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))

import handler  # noqa: E402 (lambdas/ingestion, on the import path)
from hcl_eval import (  # noqa: E402
    INGESTION,
    blocks,
    job_arguments,
    lambda_function,
    split_s3_uri,
)
from s3_server import S3Request, S3Server  # noqa: E402

LAMBDA_ENV = INGESTION.value(lambda_function()["environment"][0]["variables"])
LANDING_BUCKET = INGESTION.value(
    blocks(INGESTION.doc, "resource", "aws_s3_bucket_notification")["landing"]["bucket"]
)
BRONZE_BUCKET, BRONZE_PREFIX = split_s3_uri(job_arguments()["--bronze_path"])
SILVER_BUCKET, SILVER_PREFIX = split_s3_uri(job_arguments()["--silver_path"])
_, QUARANTINE_PREFIX = split_s3_uri(job_arguments()["--quarantine_path"])
BUCKETS = (LANDING_BUCKET, BRONZE_BUCKET, SILVER_BUCKET)

# The request kinds of the tables (S3Request.kind); anything else (HEAD_BUCKET, GET_LOCATION,
# LIST_UPLOADS) is counted as "other".
KINDS = ("LIST", "HEAD", "GET", "PUT", "DELETE", "COPY", "MULTIPART")


def connect(spark, server: S3Server, marker_retention: str = "keep") -> None:
    """Points the session's S3A at the server; `keep` is Glue 5.1's (Hadoop 3.4) marker policy,
    `delete` Hadoop 3.3.4's default."""
    local_runtime.use_s3_endpoint(
        spark, local_runtime.s3a_endpoint_conf(server.endpoint, marker_retention)
    )


def s3_event(key: str, etag: str, size: int, event_time: dt.datetime) -> dict:
    """The ObjectCreated notification of one landing upload, as S3 sends it to the Lambda."""
    bucket = {"name": LANDING_BUCKET, "arn": f"arn:aws:s3:::{LANDING_BUCKET}"}
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": event_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": bucket, "object": {"key": key, "size": size, "eTag": etag}},
            }
        ]
    }


@contextmanager
def lambda_environment(server: S3Server):
    """The Lambda's environment as Terraform sets it, its boto3 pointed at the local server."""
    values = {
        **LAMBDA_ENV,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    handler._STORE = None  # a warm container's client would point elsewhere
    try:
        yield
    finally:
        handler._STORE = None
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class S3Lake:
    """The three buckets on the local server, and the job's configuration on them."""

    def __init__(self, server: S3Server, state: Path) -> None:
        self.server = server
        self.state = state
        for bucket in BUCKETS:
            server.client().create_bucket(Bucket=bucket)

    def config(self, **overrides) -> JobConfig:
        return JobConfig(
            bronze_path=f"s3a://{BRONZE_BUCKET}/{BRONZE_PREFIX.rstrip('/')}",
            silver_path=f"s3a://{SILVER_BUCKET}/{SILVER_PREFIX.rstrip('/')}",
            quarantine_path=f"s3a://{SILVER_BUCKET}/{QUARANTINE_PREFIX.rstrip('/')}",
            state_path=str(self.state),
            **overrides,
        )

    def upload_landing(
        self, files: Iterable[Path], root: Path, event_time: dt.datetime | None = None
    ) -> list[dict]:
        """Each landing file PUT into the landing bucket (key: its path under `root`); returns
        the S3 event of each upload (at `event_time`, by default now)."""
        client, events = self.server.client(), []
        now = event_time or dt.datetime.now(dt.UTC)
        for path in files:
            key = path.relative_to(root).as_posix()
            etag = client.put_object(Bucket=LANDING_BUCKET, Key=key, Body=path.read_bytes())
            events.append(s3_event(key, etag["ETag"].strip('"'), path.stat().st_size, now))
        return events

    def ingest(self, events: list[dict]) -> list[dict]:
        """Each S3 event through the Lambda's handler, as the notification would invoke it."""
        with lambda_environment(self.server):
            return [handler.lambda_handler(event, None) for event in events]

    def upload_tree(self, folder: Path, bucket: str, prefix: str) -> int:
        """Every file under a local folder PUT under `prefix` (as a writer other than S3A
        would: no directory markers); returns the number of objects."""
        client, count = self.server.client(), 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            count += 1
        return count

    def download(self, bucket: str, prefix: str, folder: Path) -> Path:
        """Every object under `prefix` (directory markers aside) into a local folder."""
        client = self.server.client()
        prefix = prefix.rstrip("/") + "/"
        for key in self.server.objects(bucket):
            if key.startswith(prefix) and not key.endswith("/"):
                target = folder.joinpath(*key[len(prefix) :].split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(target))
        return folder


def kind_counts(requests: Iterable[S3Request]) -> dict[str, int]:
    """Requests per kind of `KINDS`, then `other` and `total`."""
    found = Counter(r.kind for r in requests)
    counts = {kind: found.pop(kind, 0) for kind in KINDS}
    counts["other"] = sum(found.values())
    counts["total"] = sum(counts.values())
    return counts


def format_counts(stages: Mapping[str, Iterable[S3Request]]) -> str:
    """A plain-text table: one row per stage, its requests per kind."""
    header = ["stage", *KINDS, "other", "total"]
    rows = [[name, *map(str, kind_counts(reqs).values())] for name, reqs in stages.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [c.rjust(w) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join([row[0].ljust(widths[0]), *cells[1:]]))
    return "\n".join(lines)
