"""The IAM policy evaluator of the tests: the roles' policies rendered from terraform/
(tests/hcl_eval.py) and decided request by request by @cloud-copilot/iam-simulate, run by
tests/iam_eval/evaluate.mjs in one node process (test_iam_behaviour.py, test_s3_pipeline.py).

A request the simulator rejects (an unknown action, an ARN of no resource type of the action)
or whose condition keys it would ignore for the action fails the test instead of counting as
denied, so a negative case cannot pass by being malformed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hcl_eval import (
    ACCOUNT,
    CATALOG,
    INGESTION,
    JOB,
    Statement,
    blocks,
    evaluate_statement,
    job_arguments,
    locals_of,
    raw_statements,
    split_s3_uri,
)

TESTS = Path(__file__).resolve().parent
IAM_EVAL = TESTS / "iam_eval"
NODE = shutil.which("node")
NO_NODE = "node is not on PATH: the IAM evaluator (@cloud-copilot/iam-simulate) runs on Node.js"


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


def s3a_beyond_the_recording() -> list[Request]:
    """What S3A sends only in cases the local runs do not reach: it may look a bucket's region
    up (AWSGlueServiceRole and the crawlers' role grant it), and after a failed multipart upload
    it lists the pending uploads and a upload's parts and aborts it (Hadoop's S3A docs,
    "assumed_roles.md": write access needs s3:ListBucketMultipartUploads and
    s3:AbortMultipartUpload)."""
    arguments = job_arguments()
    requests = []
    for argument in ("--bronze_path", "--silver_path", "--TempDir"):
        bucket, _ = split_s3_uri(arguments[argument])
        requests.append(Request("GET", "s3:GetBucketLocation", arn(bucket)))
    for argument in ("--silver_path", "--quarantine_path", "--TempDir"):
        bucket, folder = split_s3_uri(arguments[argument])
        key = f"{folder}event_year=2025/event_month=11/event_day=02/part-00000.parquet"
        requests += [
            Request("ABORT", "s3:AbortMultipartUpload", arn(bucket, key)),
            Request("LISTPARTS", "s3:ListMultipartUploadParts", arn(bucket, key)),
            Request("LISTUPLOADS", "s3:ListBucketMultipartUploads", arn(bucket)),
        ]
    return requests
