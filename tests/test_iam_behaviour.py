"""The S3 requests of each component, replayed against its role's policy rendered from terraform/.

Evaluator: the npm package @cloud-copilot/iam-simulate (``runSimulation``, Strict mode), pinned
in tests/iam_eval/ and run by its script evaluate.mjs in one node process per module; it evaluates
every Condition operator (StringLike on s3:prefix) offline. moto's IAMPolicy only knows
StringEquals, turns a failed condition into an explicit Deny and does not escape regex characters
(a ``_$folder$`` resource never matches).

Each request is (IAM action, resource ARN, condition keys): a HEAD needs s3:GetObject on the key
(S3 answers 403, not 404, without it), a LIST needs s3:ListBucket on the bucket with s3:prefix
set to the listed prefix. The requests are:

- the Glue job: the pattern of Hadoop's S3 clients (EMRFS on Glue, S3A) on every directory it
  reads or writes and on their parents: HEAD key, HEAD key/, HEAD key_$folder$, LIST prefix=key
  and prefix=key/, GET, PUT and DELETE below it, marker PUT/DELETE, Spark's _temporary/ and
  .spark-staging-*, and the commit protocol's _commits/<table>/ staging, manifests and markers;
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
import re
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
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
    Statement,
    blocks,
    evaluate_statement,
    glue_job,
    job_arguments,
    lambda_function,
    locals_of,
    raw_statements,
    split_s3_uri,
)
from moto import mock_aws
from silver_job import commit

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = REPO_ROOT / "tests"
LAMBDA_HANDLER = REPO_ROOT / "lambdas" / "ingestion" / "handler.py"
IAM_EVAL = TESTS / "iam_eval"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None,
    reason="node is not on PATH: the IAM evaluator (@cloud-copilot/iam-simulate) runs on Node.js",
)


# --------------------------------------------------------------------------------------------
# The evaluator: one node process per module, one line of JSON per batch of requests
# --------------------------------------------------------------------------------------------


class Simulator:
    """tests/iam_eval/evaluate.mjs, started on first use and kept for the module's batches."""

    def __init__(self):
        self.process: subprocess.Popen | None = None

    def decide(self, requests: list[dict]) -> list[str]:
        """The decision (Allowed, ImplicitlyDenied, ExplicitlyDenied) of each request, in order."""
        if not requests:
            return []
        if self.process is None:
            assert (IAM_EVAL / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir(), (
                "tests/iam_eval/node_modules is missing: run `make setup`"
            )
            self.process = subprocess.Popen(
                [NODE, str(IAM_EVAL / "evaluate.mjs")],
                cwd=IAM_EVAL,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
        self.process.stdin.write(json.dumps(requests) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"evaluate.mjs exited with {self.process.wait()}"
        results = json.loads(line)
        assert len(results) == len(requests)
        for request, result in zip(requests, results, strict=True):
            assert "error" not in result, (request, result["error"])
            assert result["ignoredContextKeys"] == [], (request, result)
        return [result["decision"] for result in results]

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=30)
            self.process = None


SIMULATOR = Simulator()


@pytest.fixture(scope="module", autouse=True)
def simulator():
    yield SIMULATOR
    SIMULATOR.close()


# --------------------------------------------------------------------------------------------
# Policies rendered from the Terraform
# --------------------------------------------------------------------------------------------


def statement_json(statement: Statement) -> dict:
    """One evaluated aws_iam_policy_document statement as IAM policy JSON."""
    rendered: dict = {
        "Effect": statement.effect,
        "Action": list(statement.actions),
        "Resource": list(statement.resources),
    }
    conditions: dict = {}
    for test, variable, values in statement.conditions:
        conditions.setdefault(test, {})[variable] = list(values)
    if conditions:
        rendered["Condition"] = conditions
    return rendered


def role_documents(scope, policy_local: str) -> dict[str, dict]:
    """{policy name: policy JSON} of every inline policy the module attaches to its role.

    With the default SSE-S3 configuration the count-ed KMS documents are absent.
    """
    documents = blocks(scope.doc, "data", "aws_iam_policy_document")
    raw = locals_of(scope.doc)[policy_local]
    attached = {}
    for name, indexed in re.findall(r"data\.aws_iam_policy_document\.(\w+)(\[0\])?\.json", raw):
        if indexed:
            continue
        statements = [evaluate_statement(scope, body) for body in raw_statements(documents[name])]
        attached[name] = {
            "Version": "2012-10-17",
            "Statement": [statement_json(st) for st in statements],
        }
    assert attached, f"no policy documents found in local.{policy_local}"
    return attached


# An interpolation the renderer could not resolve; IAM's own policy variables (${aws:username},
# ${s3:prefix}, ${*}) name a service-prefixed key or a single escaped character instead.
TERRAFORM_EXPRESSION = re.compile(r"\$\{(?![a-z0-9-]+:[\w/-]+\}|[*?$]\})", re.IGNORECASE)


@dataclass(frozen=True)
class Role:
    name: str
    documents: dict[str, dict]

    @property
    def simulated_documents(self) -> list[dict]:
        """The documents as the simulator gets them: without the statements whose resources
        the renderer left as Terraform expressions (log groups, KMS keys, Glue tables, the
        queue), which it cannot parse (an unterminated ``[`` throws). Each is an Allow of no S3
        action, so no S3 decision depends on it; anything else fails here."""
        documents = []
        for document in self.documents.values():
            kept = []
            for statement in document["Statement"]:
                if any(TERRAFORM_EXPRESSION.search(res) for res in statement["Resource"]):
                    assert statement["Effect"] == "Allow", (self.name, statement)
                    assert not any(a.startswith("s3:") for a in statement["Action"]), statement
                    continue
                kept.append(statement)
            documents.append({**document, "Statement": kept})
        return documents

    def decisions(self, requests) -> list[str]:
        """The simulator's decision on each request made by this role, in one batch."""
        policies = self.simulated_documents
        return SIMULATOR.decide(
            [
                {
                    "principal": f"arn:aws:iam::{ACCOUNT}:role/{self.name}",
                    "account": ACCOUNT,  # S3 ARNs name no account: the role's own buckets
                    "policies": policies,
                    "action": request.action,
                    "resource": request.resource,
                    "context": request.context,
                }
                for request in requests
            ]
        )

    def allows(self, request: Request) -> bool:
        return self.decisions([request]) == ["Allowed"]

    def denied(self, requests) -> list[Request]:
        requests = list(requests)
        decisions = self.decisions(requests)
        return [r for r, d in zip(requests, decisions, strict=True) if d != "Allowed"]


@dataclass(frozen=True)
class Request:
    """One S3 request as IAM sees it."""

    method: str
    action: str
    resource: str
    context: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "context", dict(self.context))

    def __hash__(self):
        return hash((self.method, self.action, self.resource, tuple(sorted(self.context.items()))))

    def __repr__(self):
        prefix = f" prefix={self.context['s3:prefix']!r}" if "s3:prefix" in self.context else ""
        return f"{self.method} {self.resource}{prefix} ({self.action})"


def arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def head(bucket, key):
    return Request("HEAD", "s3:GetObject", arn(bucket, key))


def get(bucket, key):
    return Request("GET", "s3:GetObject", arn(bucket, key))


def put(bucket, key):
    return Request("PUT", "s3:PutObject", arn(bucket, key))


def delete(bucket, key):
    return Request("DELETE", "s3:DeleteObject", arn(bucket, key))


def listing(bucket, prefix):
    return Request("LIST", "s3:ListBucket", arn(bucket), (("s3:prefix", prefix),))


def job_role() -> Role:
    return Role(JOB.value(locals_of(JOB.doc)["role_name"]), role_documents(JOB, "role_policies"))


def crawler_role() -> Role:
    name = CATALOG.value(locals_of(CATALOG.doc)["crawler_role_name"])
    return Role(name, role_documents(CATALOG, "crawler_role_policies"))


def lambda_role() -> Role:
    role = blocks(INGESTION.doc, "resource", "aws_iam_role")["this"]
    return Role(INGESTION.value(role["name"]), role_documents(INGESTION, "role_policies"))


# --------------------------------------------------------------------------------------------
# The Glue job: Hadoop's S3 request pattern on its directories
# --------------------------------------------------------------------------------------------

PARTITION = "event_year=2025/event_month=11/event_day=02"
RUN = "jr_0123abcd"


def probe(bucket: str, directory: str) -> list[Request]:
    """What getFileStatus/exists/listStatus send for a directory (and what mkdirs checks)."""
    return [
        head(bucket, directory),
        head(bucket, f"{directory}/"),
        head(bucket, f"{directory}_$folder$"),
        listing(bucket, directory),
        listing(bucket, f"{directory}/"),
    ]


def parents(directory: str) -> list[str]:
    parts = directory.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def read_tree(bucket: str, directory: str) -> list[Request]:
    # S3A (Glue 5.1's default connector) may look the bucket's region up first, as
    # AWSGlueServiceRole and the crawlers' role allow
    requests = [Request("GET", "s3:GetBucketLocation", arn(bucket))]
    requests += probe(bucket, directory)
    requests += [
        listing(bucket, f"{directory}/{PARTITION.split('/')[0]}/"),
        listing(bucket, f"{directory}/{PARTITION}/"),
        get(bucket, f"{directory}/{PARTITION}/part-00000.parquet"),
        head(bucket, f"{directory}/{PARTITION}/part-00000.parquet"),
    ]
    for parent in parents(directory):
        requests += probe(bucket, parent)
    return requests


def write_tree(bucket: str, directory: str) -> list[Request]:
    """Read plus Spark's commit: staging, markers, final files, cleanup, superseded files."""
    requests = read_tree(bucket, directory)
    written = [
        f"{directory}/{PARTITION}/part-00000-{RUN}.c000.snappy.parquet",
        f"{directory}/_temporary/0/_temporary/attempt_0/{PARTITION}/part-00000.parquet",
        f"{directory}/.spark-staging-{RUN}/{PARTITION}/part-00000.parquet",
        f"{directory}/_SUCCESS",
        f"{directory}/{PARTITION}/.part-00000.parquet.crc",
    ]
    markers = [
        f"{directory}/",
        f"{directory}_$folder$",
        f"{directory}/{PARTITION}/",
        f"{directory}/{PARTITION}_$folder$",
        f"{directory}/_temporary_$folder$",
    ]
    for key in written + markers:
        requests += [put(bucket, key), head(bucket, key), get(bucket, key), delete(bucket, key)]
    requests += [
        listing(bucket, f"{directory}/_temporary/"),
        listing(bucket, f"{directory}/.spark-staging-{RUN}/"),
    ]
    # S3A writes large files as multipart uploads; after a failed one it lists the bucket's
    # pending uploads and a upload's parts, and aborts it (Hadoop, "assumed_roles.md": write
    # access needs s3:ListBucketMultipartUploads and s3:AbortMultipartUpload)
    for key in written[:3]:
        requests += [
            Request("ABORT", "s3:AbortMultipartUpload", arn(bucket, key)),
            Request("LISTPARTS", "s3:ListMultipartUploadParts", arn(bucket, key)),
        ]
    requests.append(Request("LISTUPLOADS", "s3:ListBucketMultipartUploads", arn(bucket)))
    for parent in parents(directory):  # mkdirs creates, and later removes, parent markers
        requests += [
            put(bucket, f"{parent}/"),
            put(bucket, f"{parent}_$folder$"),
            delete(bucket, f"{parent}/"),
            delete(bucket, f"{parent}_$folder$"),
        ]
    return requests


def commit_protocol(bucket: str, commits: str) -> list[Request]:
    """The job's crash-safe commit: staging per run and table, manifest, done marker, recovery
    listing; the copy of each staged file into the table is a GET here and a PUT there."""
    requests = write_tree(bucket, f"{commits}/{RUN}/car_telemetry")
    requests += write_tree(bucket, f"{commits}/{RUN}/quarantine")
    for key in (f"{commits}/{RUN}.json", f"{commits}/{RUN}.done"):
        requests += [put(bucket, key), head(bucket, key), get(bucket, key), delete(bucket, key)]
    requests += probe(bucket, commits) + [listing(bucket, f"{commits}/{RUN}/")]
    return requests


def job_requests() -> list[Request]:
    arguments = job_arguments()
    bronze_bucket, bronze = split_s3_uri(arguments["--bronze_path"])
    silver_bucket, silver = split_s3_uri(arguments["--silver_path"])
    quarantine_bucket, quarantine = split_s3_uri(arguments["--quarantine_path"])
    temp_bucket, temp_dir = split_s3_uri(arguments["--TempDir"])
    events_bucket, events_dir = split_s3_uri(arguments["--spark-event-logs-path"])
    script_bucket, script_key = split_s3_uri(JOB.value(glue_job()["command"][0]["script_location"]))
    assert silver_bucket == quarantine_bucket
    # where the job's commit protocol stages, taken from the job itself
    commit_bucket, commits = split_s3_uri(commit.commit_root(arguments["--silver_path"]))
    assert commit_bucket == silver_bucket

    package_bucket, package_key = split_s3_uri(arguments["--extra-py-files"])
    requests = [get(script_bucket, script_key), get(package_bucket, package_key)]
    requests += read_tree(bronze_bucket, bronze.rstrip("/"))
    requests += write_tree(silver_bucket, silver.rstrip("/"))
    requests += write_tree(silver_bucket, quarantine.rstrip("/"))
    requests += commit_protocol(silver_bucket, commits)
    for parent in parents(commits):
        requests += probe(silver_bucket, parent)
    requests += write_tree(temp_bucket, temp_dir.rstrip("/"))
    requests += write_tree(events_bucket, events_dir.rstrip("/"))
    return requests


def test_job_role_allows_every_request_of_hadoops_s3_clients():
    requests = job_requests()
    assert len(requests) > 300
    assert job_role().denied(requests) == []


def test_job_requests_cover_the_bare_table_roots_and_their_parents():
    # The case that 403s on a real account when the policy grants only <prefix>/*.
    requests = set(job_requests())
    for bucket, key in (
        ("bronze-bucket", "car_data"),
        ("silver-bucket", "car_telemetry"),
        ("silver-bucket", "quarantine/car_telemetry"),
        ("silver-bucket", "quarantine"),
        ("silver-bucket", "_commits/car_telemetry"),
        ("silver-bucket", "_commits"),
    ):
        assert head(bucket, key) in requests
        assert listing(bucket, key) in requests
    assert job_role().denied([head("silver-bucket", "car_telemetry")]) == []


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


@dataclass
class LambdaContext:
    function_name: str = "car-telemetry-dev-ingestion"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:car-telemetry-dev-ingestion"
    )
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


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
