"""The pipeline on Glue 5.1's own S3 connector (S3A, hadoop-aws 3.3.4) against a local S3 API
(moto's server, tests/s3_server.py), request by request.

landing bucket -> the Lambda's handler (boto3 on the server) -> bronze bucket -> the job on
s3a:// paths (local bookmark state) -> silver, quarantine and _commits/ in the silver bucket.
The same landing files also go through the file:// pipeline; both must give the same rows. Every
request the server answered is mapped to its IAM authorization and decided against the role of
the component that sent it, rendered from terraform/ (tests/iam_sim.py). Each case runs under
both directory-marker policies: `keep` (Hadoop 3.4's, Glue 5.1's Hadoop) in `make test`, and
`delete` (Hadoop 3.3.4's default) as well in `make test-s3`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import generate_telemetry as gen
import local_job
import local_runtime
import local_s3
import pytest
from iam_sim import (
    NO_NODE,
    NODE,
    SIMULATOR,
    Request,
    Role,
    job_role,
    lambda_role,
    s3a_beyond_the_recording,
)
from lake import Lake
from s3_server import S3Server, authorizations

pytestmark = pytest.mark.spark

TESTS = Path(__file__).resolve().parent
LANDING_DATA = TESTS / "data" / "landing"
LANDING_BUCKET, BRONZE_BUCKET, SILVER_BUCKET = local_s3.BUCKETS
BRONZE_PREFIX, SILVER_PREFIX = local_s3.BRONZE_PREFIX, local_s3.SILVER_PREFIX
EVENT_TIME = dt.datetime(2025, 10, 30, 6, 0, tzinfo=dt.UTC)


def landing_files(folder: Path) -> list[Path]:
    """A small fleet with duplicates and bad records, the seed's example, and hostile uploads
    (a bad mileage, a malformed file, JSON Lines, a field of two types)."""
    start = dt.date(2025, 10, 28)
    common = {"cars": 4, "readings_per_day": 2, "duplicate_rate": 0.2, "bad_rate": 0.1}
    gen.generate(folder / "fleet", days=2, start_date=start, seed=5, fmt="array", files=2, **common)
    gen.seed_example(folder / "seed")
    for name in ("bad_mileage.json", "malformed.json", "v1_lines.json", "conflicting_types.json"):
        shutil.copy(LANDING_DATA / name, folder / name)
    return sorted(p for p in folder.rglob("*.json"))


def objects(server) -> dict[str, dict[str, str]]:
    return {bucket: server.objects(bucket) for bucket in local_s3.BUCKETS}


def table_rows(spark, path: str) -> list[tuple]:
    df = spark.read.option("mergeSchema", "true").parquet(path)
    columns = sorted(df.columns)
    return sorted((tuple(str(r[c]) for c in columns) for r in df.collect()), key=str)


@pytest.fixture(scope="module", params=[pytest.param("delete", marks=pytest.mark.s3_more), "keep"])
def marker_retention(request):
    return request.param


@pytest.fixture(scope="module")
def s3(spark, marker_retention):
    server = S3Server().start()
    local_runtime.use_s3_endpoint(
        spark, local_runtime.s3a_endpoint_conf(server.endpoint, marker_retention)
    )
    yield server
    spark._jvm.org.apache.hadoop.fs.FileSystem.closeAll()
    server.stop()


@pytest.fixture(scope="module")
def runs(spark, s3, tmp_path_factory):
    """The pipeline once on S3 and once on local files, from the same landing files, with the
    requests each component sent on S3."""
    root = tmp_path_factory.mktemp("landing")
    files = landing_files(root / "landing")  # keys landing/..., as the notification's prefix
    lake = local_s3.S3Lake(s3, tmp_path_factory.mktemp("state"))
    events = lake.upload_landing(files, root, EVENT_TIME)
    s3.clear()
    lake.ingest(events)
    lambda_requests = s3.requests()
    s3.clear()
    first = local_job.run_local(spark, lake.config())
    job_requests = s3.requests()
    before = objects(s3)
    s3.clear()
    second = local_job.run_local(spark, lake.config())
    second_requests = s3.requests()

    local = Lake(tmp_path_factory.mktemp("file_lake"))
    for path in files:
        local_runtime.convert_local_file(
            path,
            local.bronze.parent,
            landing_root=root,
            source_bucket=LANDING_BUCKET,
            event_time=EVENT_TIME,
            bronze_prefix=BRONZE_PREFIX.rstrip("/"),
        )
    local_summary = local.run(spark)
    return {
        "lake": lake,
        "local": local,
        "first": first,
        "second": second,
        "local_summary": local_summary,
        "lambda_requests": lambda_requests,
        "job_requests": job_requests,
        "second_requests": second_requests,
        "objects_before": before,
        "objects_after": objects(s3),
    }


def test_silver_and_quarantine_on_s3_equal_a_file_run_row_for_row(spark, runs):
    lake, local = runs["lake"], runs["local"]
    config = lake.config()
    s3_silver = table_rows(spark, config.silver_path)
    assert s3_silver == table_rows(spark, str(local.silver))
    assert len(s3_silver) == runs["first"]["rows_after_dedup"] > 0
    assert table_rows(spark, config.quarantine_path) == table_rows(spark, str(local.quarantine))
    timing = ("seconds", "run_seconds", "run_id")
    s3_summary = {k: v for k, v in runs["first"].items() if k not in timing}
    assert s3_summary == {k: v for k, v in runs["local_summary"].items() if k not in timing}
    assert runs["first"]["rows_rejected_total"] > 0 and runs["first"]["status"] == "ok"


def test_the_lambdas_bronze_objects_on_s3_are_the_local_runs_files(runs):
    bronze = runs["objects_after"][BRONZE_BUCKET]
    local_root = runs["local"].bronze.parent
    local_files = sorted(
        p.relative_to(local_root).as_posix() for p in local_root.rglob("*") if p.is_file()
    )
    assert sorted(bronze) == local_files


def test_a_second_run_with_nothing_new_changes_no_object(runs):
    assert runs["second"]["status"] == "no_new_data"
    assert runs["objects_after"] == runs["objects_before"]
    assert {r.kind for r in runs["second_requests"]} <= {"LIST", "HEAD", "GET"}


def test_the_commit_leaves_only_the_schema_registry_in_commits(runs):
    commits = f"_commits/{SILVER_PREFIX.rstrip('/')}/"
    silver = runs["objects_after"][SILVER_BUCKET]
    left = sorted(k for k in silver if k.startswith(commits) and not k.endswith("/"))
    assert left == [f"{commits}_schema.json"]


def decided(role, requests) -> list[str]:
    """Every authorization the role does not grant, named by its request."""
    needed = [(r, Request(r.method, *need)) for r in requests for need in authorizations(r)]
    try:
        denied = set(role.denied([request for _, request in needed]))
    finally:
        SIMULATOR.close()  # its node process ends with each decision: no module fixture here
    return [f"{r} needs {req.action} on {req.resource}" for r, req in needed if req in denied]


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_the_job_role_allows_every_request_the_job_sent(runs):
    requests = runs["job_requests"] + runs["second_requests"]
    assert {r.kind for r in requests} >= {"LIST", "HEAD", "GET", "PUT", "COPY", "DELETE"}
    assert decided(job_role(), requests) == []


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_the_lambda_role_allows_every_request_the_handler_sent(runs):
    requests = runs["lambda_requests"]
    assert {r.bucket for r in requests} == {LANDING_BUCKET, BRONZE_BUCKET}
    assert decided(lambda_role(), requests) == []


@pytest.mark.skipif(NODE is None, reason=NO_NODE)
def test_each_s3_statement_of_the_job_role_is_needed_by_a_recorded_request(runs):
    """The check can fail: without any one statement of the job's bronze and silver grants,
    the recorded requests that needed it are named (method, key, action); a statement no
    recorded run needs is one for what S3A sends only beyond them (a bucket's region, the
    clean-up of a failed multipart upload), listed by hand in tests/iam_sim.py."""
    role = job_role()
    missed = {}
    for name in ("read_bronze", "write_silver"):
        statements = role.documents[name]["Statement"]
        for index, statement in enumerate(statements):
            kept = statements[:index] + statements[index + 1 :]
            documents = {**role.documents, name: {**role.documents[name], "Statement": kept}}
            names = decided(Role(role.name, documents), runs["job_requests"])
            assert all(" needs s3:" in line and " s3://" in line for line in names)
            missed[(name, index, tuple(statement["Action"]))] = len(names)
            if not names:
                missed[(name, index, tuple(statement["Action"]))] = Role(
                    role.name, documents
                ).denied(s3a_beyond_the_recording())
    SIMULATOR.close()
    assert [key for key, found in missed.items() if not found] == []
