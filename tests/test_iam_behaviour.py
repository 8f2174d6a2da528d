"""The S3 requests of each component, replayed against its role's policy rendered from terraform/.

Evaluator: the npm package @cloud-copilot/iam-simulate (``runSimulation``, Strict mode), pinned
in tests/iam_eval/ and run by its script evaluate.mjs in one node process per module; it evaluates
every Condition operator (StringLike on s3:prefix) offline. moto's IAMPolicy only knows
StringEquals, turns a failed condition into an explicit Deny and does not escape regex characters
(a ``_$folder$`` resource never matches).

Each request is (IAM action, resource ARN, condition keys): a HEAD needs s3:GetObject on the key
(S3 answers 403, not 404, without it), a LIST needs s3:ListBucket on the bucket with s3:prefix
set to the listed prefix. The requests are:

- the Glue job: what Glue itself sends (the bookmarked read of bronze, the script and package
  downloads, --TempDir, the Spark UI's event logs), listed by hand; every request of the job's
  own code is recorded from real runs on the S3A connector in tests/test_s3_pipeline.py;
- the crawlers: bucket location, listing and reading of their table prefixes;
- the ingestion Lambda: recorded from its real boto3 calls while its handler runs on
  real-shaped events under moto (tests/events, bad content, a superseded upload), so the list
  follows the handler as it changes.

A request the simulator rejects (an unknown action, an ARN of no resource type of the action)
or whose condition keys it would ignore for the action fails the test instead of counting as
denied, so a negative case cannot pass by being malformed. Resource ARNs match
case-sensitively, as in AWS: a key ending in ``.JSON`` is not under a grant on ``*.json``.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from pathlib import Path

import boto3
import botocore.client
import pytest
from hcl_eval import (
    ACCOUNT,
    CATALOG,
    INGESTION,
    JOB,
    REGION,
    blocks,
    glue_job,
    job_arguments,
    lambda_function,
    locals_of,
    split_s3_uri,
)
from iam_sim import (
    NO_NODE,
    NODE,
    SIMULATOR,
    Request,
    Role,
    arn,
    crawler_role,
    delete,
    get,
    head,
    job_role,
    lambda_role,
    listing,
    put,
    s3a_beyond_the_recording,
)
from ingestion_helpers import LambdaContext
from moto import mock_aws

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPO_ROOT / "tests"
LAMBDA_HANDLER = REPO_ROOT / "lambdas" / "ingestion" / "handler.py"

pytestmark = pytest.mark.skipif(NODE is None, reason=NO_NODE)


@pytest.fixture(scope="module", autouse=True)
def simulator():
    yield SIMULATOR
    SIMULATOR.close()


# --------------------------------------------------------------------------------------------
# The Glue job: what it sends outside the S3A connector, by hand
# --------------------------------------------------------------------------------------------
# Every S3 request of the job's own code (S3A and the commit's copies) is recorded from real runs
# against a local S3 API and checked against this role in tests/test_s3_pipeline.py. What only
# Glue sends is listed here, each with its source:
# - the bookmarked DynamicFrame read of bronze (silver_job/bookmarks.py): Glue's reader lists the
#   path recursively and reads each new file (AWS Glue, "Tracking processed data using job
#   bookmarks": the bookmark keeps the listed objects' modification times);
# - the script and the package zip that Glue downloads before the run (command.script_location,
#   --extra-py-files);
# - --TempDir and --spark-event-logs-path, which Glue and the Spark UI write themselves.

PARTITION = "event_year=2025/event_month=11/event_day=02"


def glue_only_requests() -> list[Request]:
    arguments = job_arguments()
    bronze_bucket, bronze = split_s3_uri(arguments["--bronze_path"])
    script_bucket, script_key = split_s3_uri(JOB.value(glue_job()["command"][0]["script_location"]))
    package_bucket, package_key = split_s3_uri(arguments["--extra-py-files"])
    requests = [get(script_bucket, script_key), get(package_bucket, package_key)]
    bronze_file = f"{bronze}ingest_year=2025/ingest_month=11/ingest_day=02/car.parquet"
    requests += [listing(bronze_bucket, bronze), head(bronze_bucket, bronze_file)]
    requests += [get(bronze_bucket, bronze_file)]
    for argument in ("--TempDir", "--spark-event-logs-path"):
        bucket, folder = split_s3_uri(arguments[argument])
        key = f"{folder}x/part-0"
        requests += [listing(bucket, folder), put(bucket, key), get(bucket, key)]
        requests += [head(bucket, key), delete(bucket, key)]
    return requests


def test_job_role_allows_what_glue_itself_sends():
    assert job_role().denied(glue_only_requests()) == []


def test_job_role_allows_what_s3a_sends_beyond_the_recorded_runs():
    assert job_role().denied(s3a_beyond_the_recording()) == []


JOB_FORBIDDEN = [
    # next to the table: same stem, another folder
    get("silver-bucket", "car_telemetry_backup/x.parquet"),
    head("silver-bucket", "car_telemetry_backup"),
    put("silver-bucket", "car_telemetry_backup/x.parquet"),
    listing("silver-bucket", "car_telemetry_backup/"),
    # the rest of the silver bucket, and what lies under the parents
    get("silver-bucket", "other/x.parquet"),
    put("silver-bucket", "x.parquet"),
    put("silver-bucket", "quarantine/other_table/x.parquet"),
    get("silver-bucket", "quarantine/other_table/x.parquet"),
    delete("silver-bucket", "quarantine"),
    put("silver-bucket", "_commits/other_table/run.json"),
    delete("silver-bucket", "_commits/other_table/run.done"),
    listing("silver-bucket", ""),
    listing("silver-bucket", "quarantine/other_table/"),
    listing("silver-bucket", "_commits/other_table/"),
    # bronze is read-only, and only its table
    put("bronze-bucket", "car_data/ingest_year=2025/x.parquet"),
    delete("bronze-bucket", "car_data/ingest_year=2025/x.parquet"),
    get("bronze-bucket", "quarantine/2025-11-02/x.json"),
    listing("bronze-bucket", "quarantine/"),
    listing("bronze-bucket", ""),
    # the script is read, never replaced; the landing bucket and other buckets are out of reach
    put(
        "glue-scripts-bucket", "car-telemetry-dev-silver-consolidation/silver_consolidation_job.py"
    ),
    put("glue-scripts-bucket", "car-telemetry-dev-silver-consolidation/silver_job.zip"),
    get("glue-scripts-bucket", "car-telemetry-dev-silver-consolidation/other.zip"),
    get("glue-scripts-bucket", "other-job/script.py"),
    get("landing-bucket", "landing/car_raw.json"),
    get("other-bucket", "car_telemetry/x.parquet"),
    listing("other-bucket", "car_telemetry/"),
    get("glue-temp-bucket", "other-job/temporary/x"),
    Request("DELETE", "s3:DeleteBucket", arn("silver-bucket")),
    Request("PUT", "s3:PutBucketPolicy", arn("silver-bucket")),
    Request("GET", "s3:GetObjectVersion", arn("silver-bucket", "car_telemetry/x.parquet")),
    # multipart clean-up only where it writes; the bucket lookup only on its own buckets
    Request("ABORT", "s3:AbortMultipartUpload", arn("bronze-bucket", "car_data/x.parquet")),
    Request("ABORT", "s3:AbortMultipartUpload", arn("silver-bucket", "other/x.parquet")),
    Request("LISTPARTS", "s3:ListMultipartUploadParts", arn("silver-bucket", "other/x.parquet")),
    Request("LISTUPLOADS", "s3:ListBucketMultipartUploads", arn("bronze-bucket")),
    Request("GET", "s3:GetBucketLocation", arn("landing-bucket")),
]


def test_job_role_denies_everything_outside_its_directories():
    role = job_role()
    assert [request for request in JOB_FORBIDDEN if role.allows(request)] == []


def test_no_role_allows_a_wildcard_action_or_resource_outside_its_buckets():
    for role in (job_role(), crawler_role(), lambda_role()):
        for name, document in role.documents.items():
            for statement in document["Statement"]:
                assert not any("*" in action for action in statement["Action"]), (role, name)
                for resource in statement["Resource"]:
                    if resource == "*":  # only PutMetricData, scoped by its namespace condition
                        assert statement["Action"] == ["cloudwatch:PutMetricData"]
                        assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
        assert not role.allows(Request("ANY", "s3:GetObject", arn("other-bucket", "x")))
        assert not role.allows(Request("ANY", "s3:ListAllMyBuckets", "*"))


# The job's catalog step (silver_job/catalog.py): each call is authorized on the table, its
# database and the catalog (AWS Glue developer guide, "Specifying AWS Glue resource ARNs").
CATALOG_CALLS = ("glue:GetTable", "glue:UpdateTable", "glue:BatchCreatePartition")
CATALOG_CALLS += ("glue:GetPartitions",)


def glue_arn(resource: str) -> str:
    return f"arn:aws:glue:{REGION}:{ACCOUNT}:{resource}"


def catalog_requests(action: str, database: str, table: str) -> list[Request]:
    return [
        Request("GLUE", action, glue_arn(f"table/{database}/{table}")),
        Request("GLUE", action, glue_arn(f"database/{database}")),
        Request("GLUE", action, glue_arn("catalog")),
    ]


def test_job_role_allows_the_catalog_step_on_its_two_tables_and_nothing_else():
    arguments = job_arguments()
    database = arguments["--catalog_database"]
    tables = (arguments["--silver_table"], arguments["--quarantine_table"])
    allowed = [
        r for action in CATALOG_CALLS for t in tables for r in catalog_requests(action, database, t)
    ]
    assert job_role().denied(allowed) == []
    forbidden = [
        *catalog_requests("glue:UpdateTable", database, "bronze_car_data"),
        *catalog_requests("glue:BatchCreatePartition", database, "silver_car_telemetry_backup"),
        *catalog_requests("glue:GetTable", "other_db", tables[0])[:2],
        *catalog_requests("glue:DeleteTable", database, tables[0]),
        *catalog_requests("glue:BatchDeletePartition", database, tables[0]),
        *catalog_requests("glue:CreateTable", database, "silver_car_telemetry_2"),
        *catalog_requests("glue:UpdatePartition", database, tables[0]),
    ]
    role = job_role()
    assert [r for r in forbidden if role.allows(r)] == [
        # the catalog and database ARNs are shared by every table: the table ARN decides
        *[
            r
            for r in forbidden
            if r.resource in (glue_arn("catalog"), glue_arn(f"database/{database}"))
            and r.action in CATALOG_CALLS
        ],
    ]


# --------------------------------------------------------------------------------------------
# The crawlers
# --------------------------------------------------------------------------------------------


def crawler_requests() -> list[Request]:
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])
    requests = []
    for crawler in settings.values():
        bucket, prefix = crawler["bucket_name"], crawler["prefix"]
        requests += [
            Request("GET", "s3:GetBucketLocation", arn(bucket)),
            listing(bucket, f"{prefix}/"),
            listing(bucket, f"{prefix}/{PARTITION.split('/')[0]}/"),
            listing(bucket, f"{prefix}/{PARTITION}/"),
            get(bucket, f"{prefix}/{PARTITION}/part-00000.parquet"),
            head(bucket, f"{prefix}/{PARTITION}/part-00000.parquet"),
        ]
    return requests


def test_crawler_role_allows_what_a_crawl_of_both_tables_requests():
    requests = crawler_requests()
    assert {r.resource for r in requests if r.action == "s3:GetBucketLocation"} == {
        arn("bronze-bucket"),
        arn("silver-bucket"),
    }
    assert crawler_role().denied(requests) == []


def test_crawler_role_reads_only_the_two_table_prefixes():
    role = crawler_role()
    forbidden = [
        get("silver-bucket", "quarantine/car_telemetry/x.parquet"),
        get("silver-bucket", "_commits/car_telemetry/run/silver/x.parquet"),
        listing("silver-bucket", "_commits/"),
        listing("silver-bucket", "quarantine/"),
        get("bronze-bucket", "quarantine/2025-11-02/x.json"),
        put("silver-bucket", "car_telemetry/x.parquet"),
        delete("bronze-bucket", "car_data/x.parquet"),
        Request("GET", "s3:GetBucketLocation", arn("landing-bucket")),
    ]
    assert [request for request in forbidden if role.allows(request)] == []


# --------------------------------------------------------------------------------------------
# The ingestion Lambda: its real requests, recorded under moto
# --------------------------------------------------------------------------------------------

# botocore operation -> IAM action (the S3 API reference's "Permissions" of each operation).
# An operation not listed here fails the test: add it with its IAM action.
S3_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "CopyObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
    "DeleteObjects": "s3:DeleteObject",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
VERSIONED = {"s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion"}


def requests_of_call(operation: str, params: dict) -> list[Request]:
    assert operation in S3_ACTIONS, f"S3 operation {operation} has no IAM mapping here yet"
    action = S3_ACTIONS[operation]
    bucket = params["Bucket"]
    if action == "s3:ListBucket":
        return [Request(operation, action, arn(bucket), (("s3:prefix", params.get("Prefix", "")),))]
    if operation == "DeleteObjects":
        keys = [item["Key"] for item in params["Delete"]["Objects"]]
    else:
        keys = [params["Key"]]
    if params.get("VersionId"):
        action = VERSIONED.get(action, action)
    found = [Request(operation, action, arn(bucket, key)) for key in keys]
    if operation == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            source_bucket, source_key = urllib.parse.unquote(source).lstrip("/").split("/", 1)
        else:
            source_bucket, source_key = source["Bucket"], source["Key"]
        found.append(Request(operation, "s3:GetObject", arn(source_bucket, source_key)))
    return found


@pytest.fixture
def recorded_s3_calls(monkeypatch):
    """Every S3 API call of every botocore client while the test runs: (operation, params).

    Recorded where every client's calls pass (BaseClient._make_api_call), so a client the
    handler created and cached before this test is recorded too.
    """
    calls: list[tuple[str, dict]] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        if self.meta.service_model.service_name == "s3":
            calls.append((operation_name, copy.deepcopy(api_params)))
        return make_api_call(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def landing_cases() -> list[tuple[str, bytes]]:
    """(landing key, body): every landing test file (good and bad content), keys with spaces
    and plus signs, nested folders, upper-case suffixes."""
    files = sorted((TESTS / "data" / "landing").glob("*.json"))
    assert files, "tests/data/landing is empty"
    cases = [(f"landing/{path.name}", path.read_bytes()) for path in files]
    sample = files[0].read_bytes()
    cases += [
        ("landing/car raw+1.json", sample),
        ("landing/fleet/2025/11/03/deep/nested.json", sample),
    ]
    return cases


def s3_event(bucket: str, key: str, etag: str, version_id: str | None = None) -> dict:
    """A real-shaped S3 event (tests/events/s3_put_car_raw.json) re-pointed at an object."""
    event = json.loads((TESTS / "events" / "s3_put_car_raw.json").read_text(encoding="utf-8"))
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = arn(bucket)
    record["s3"]["object"].update(key=urllib.parse.quote_plus(key, safe="/"), eTag=etag)
    if version_id:
        record["s3"]["object"]["versionId"] = version_id
    else:
        record["s3"]["object"].pop("versionId", None)
    return event


def test_lambda_role_allows_every_request_the_handler_makes(recorded_s3_calls, monkeypatch):
    if not LAMBDA_HANDLER.exists():
        pytest.skip(f"{LAMBDA_HANDLER.relative_to(REPO_ROOT)} does not exist yet")
    env = INGESTION.value(lambda_function()["environment"][0]["variables"])
    notification = blocks(INGESTION.doc, "resource", "aws_s3_bucket_notification")["landing"]
    landing = INGESTION.value(notification["bucket"])
    bronze = env["BRONZE_BUCKET"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    with mock_aws():
        setup = boto3.client("s3", region_name=REGION)
        setup.create_bucket(Bucket=landing)
        setup.create_bucket(Bucket=bronze)
        events = []
        # Only what the notification delivers: its suffix filter is a literal, case-sensitive
        # match of the key (a `.JSON` upload invokes nothing; docs/deploy-checklist.md item 2a).
        suffix = INGESTION.value(notification["lambda_function"][0]["filter_suffix"])
        for key, body in landing_cases():
            if not key.endswith(suffix):
                continue
            etag = setup.put_object(Bucket=landing, Key=key, Body=body)["ETag"].strip('"')
            events.append(s3_event(landing, key, etag))
        # superseded: the upload of the event was overwritten before the event is processed
        stale = setup.put_object(Bucket=landing, Key="landing/gone.json", Body=b"{}")["ETag"]
        setup.put_object(Bucket=landing, Key="landing/gone.json", Body=landing_cases()[0][1])
        events.append(s3_event(landing, "landing/gone.json", stale.strip('"')))
        events.append(
            s3_event(landing, "landing/gone.json", stale.strip('"'), "3HL4kqtJlcpXroDTDmJ")
        )
        # every real-shaped event file, re-pointed at the Terraform's landing bucket
        for path in sorted((TESTS / "events").glob("*.json")):
            event = json.loads(path.read_text(encoding="utf-8"))
            event["Records"] = [
                r
                for r in event["Records"]
                if urllib.parse.unquote_plus(r["s3"]["object"]["key"]).endswith(suffix)
            ]
            for record in event["Records"]:
                record["s3"]["bucket"]["name"] = landing
                key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
                body = landing_cases()[0][1]
                etag = setup.put_object(Bucket=landing, Key=key, Body=body)["ETag"].strip('"')
                record["s3"]["object"]["eTag"] = etag
            events.append(event)
        recorded_s3_calls.clear()  # the set-up's own calls

        handler = pytest.importorskip("handler")  # lambdas/ingestion is on the import path
        for event in events:
            handler.lambda_handler(copy.deepcopy(event), LambdaContext())

    requests = [
        r for operation, params in recorded_s3_calls for r in requests_of_call(operation, params)
    ]
    written = {r.resource for r in requests if r.action == "s3:PutObject"}
    # the cases reached both bronze prefixes: the replay exercises what the policy must allow
    assert any(res.startswith(arn(bronze, env["BRONZE_PREFIX"] + "/")) for res in written)
    assert any(res.startswith(arn(bronze, env["QUARANTINE_PREFIX"] + "/")) for res in written)
    assert lambda_role().denied(requests) == []


def test_lambda_role_denies_reads_of_bronze_and_writes_outside_its_prefixes():
    role = lambda_role()
    forbidden = [
        put("bronze-bucket", "car_data_backup/x.parquet"),
        put("bronze-bucket", "x.parquet"),
        get("bronze-bucket", "car_data/ingest_year=2025/x.parquet"),
        delete("bronze-bucket", "car_data/ingest_year=2025/x.parquet"),
        put("landing-bucket", "landing/car_raw.json"),
        get("landing-bucket", "landing/car_raw.txt"),
        Request("GET", "s3:GetObjectVersion", arn("landing-bucket", "landing/car_raw.json")),
        listing("landing-bucket", "landing/"),
        put("silver-bucket", "car_telemetry/x.parquet"),
    ]
    assert [request for request in forbidden if role.allows(request)] == []


def test_the_evaluator_honours_prefix_conditions_and_literal_dollar_signs():
    # The two properties this module depends on, checked on a policy of its own.
    role = Role(
        "probe",
        {
            "p": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [arn("b")],
                        "Condition": {"StringLike": {"s3:prefix": ["t", "t/*"]}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": [arn("b", "t_$folder$")],
                    },
                ],
            }
        },
    )
    assert role.allows(listing("b", "t/x/"))
    assert not role.allows(listing("b", "t_backup/"))
    assert not role.allows(Request("LIST", "s3:ListBucket", arn("b")))  # no prefix at all
    assert role.allows(head("b", "t_$folder$"))
    assert not role.allows(head("b", "t_xfolder$"))
