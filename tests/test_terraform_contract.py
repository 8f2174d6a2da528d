"""Contract tests between terraform/ and the code it deploys, read statically with python-hcl2.

Nothing here talks to AWS or needs the provider: the Terraform is parsed, the references a
test cares about are resolved by a small evaluator (variables, locals, module inputs, bucket
names from ``module.storage``), and the Glue script and the Lambda handler are parsed with
``ast`` (the script needs pyspark to import; the contract is its module-level tuples).

How python-hcl2 7.x (pinned in pyproject.toml) represents the configuration, as Python values:

- block labels, attribute and object keys and string literals lose their quotes, and escapes
  (``\\"``, ``\\n``, ...) are applied: ``name = "glueetl"`` gives ``{"name": "glueetl"}``;
- any other expression is its source text wrapped in ``${...}``; a template that is one whole
  interpolation gives the same (``var.x`` and ``"${var.x}"`` are both ``"${var.x}"``), other
  templates keep their text (``"s3://${var.b}/"`` is ``"s3://${var.b}/"``);
- inside ``${...}`` string literals keep their quotes and escapes; an object literal passed to
  a function is written as JSON (``jsonencode({a = x.y})`` is ``'${jsonencode({"a": "${x.y}"})}'``)
  but a tuple passed to one loses the quotes of its strings (``toset(["a"])`` is
  ``"${toset([a])}"``), so no test reads such a tuple;
- blocks are lists of bodies, numbers and bools are Python values, null is None, heredocs are
  plain (de-indented) strings, and comments are dropped.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_ROOT = REPO_ROOT / "terraform"
MODULES = TF_ROOT / "modules"
GLUE_SCRIPT = REPO_ROOT / "glue_jobs" / "silver_consolidation_job.py"
LAMBDA_DIR = REPO_ROOT / "lambdas" / "ingestion"

ACCOUNT = "123456789012"
REGION = "us-east-1"

# Glue's own job parameters ("special parameters"): everything else in default_arguments must be
# an argument the script asks getResolvedOptions for.
GLUE_RESERVED_ARGS = {
    "--additional-python-modules",
    "--auto-stats-enabled",
    "--conf",
    "--continuous-log-conversionPattern",
    "--continuous-log-logGroup",
    "--continuous-log-logStreamPrefix",
    "--custom-logGroup-prefix",
    "--custom-logStream-prefix",
    "--datalake-formats",
    "--disable-proxy-v2",
    "--enable-auto-scaling",
    "--enable-continuous-cloudwatch-log",
    "--enable-continuous-log-filter",
    "--enable-glue-datacatalog",
    "--enable-job-insights",
    "--enable-metrics",
    "--enable-observability-metrics",
    "--enable-rename-algorithm-v2",
    "--enable-s3-parquet-optimized-committer",
    "--enable-spark-ui",
    "--encryption-type",
    "--executor-cores",
    "--extra-files",
    "--extra-jars",
    "--extra-py-files",
    "--job-bookmark-option",
    "--job-language",
    "--python-modules-installer-option",
    "--spark-event-logs-path",
    "--TempDir",
    "--user-jars-first",
}


# --------------------------------------------------------------------------------------------
# Loading and evaluating the configuration
# --------------------------------------------------------------------------------------------


# The helpers below and the expected values in the tests depend on the representation described
# in the module docstring; another major version of python-hcl2 represents the configuration
# differently, so fail clearly instead of comparing against the wrong representation.
assert hcl2.__version__.split(".")[0] == "7", f"written for python-hcl2 7.x, not {hcl2.__version__}"


@functools.cache
def load_dir(path: Path) -> dict[str, list]:
    """All top-level blocks of a module directory, merged across its .tf files (read-only)."""
    merged: dict[str, list] = {}
    for tf_file in sorted(path.glob("*.tf")):
        with tf_file.open() as handle:
            for key, value in hcl2.load(handle).items():
                merged.setdefault(key, []).extend(value)
    return merged


def blocks(doc: dict, kind: str, type_name: str) -> dict[str, dict]:
    """{name: body} of every `kind "type_name" "name"` block (kind: resource or data)."""
    found = {}
    for entry in doc.get(kind, []):
        for name, body in entry.get(type_name, {}).items():
            found[name] = body
    return found


def named(doc: dict, kind: str) -> dict[str, dict]:
    """{name: body} of variable / output / module blocks."""
    return {name: body for entry in doc.get(kind, []) for name, body in entry.items()}


def locals_of(doc: dict) -> dict[str, object]:
    return {key: value for entry in doc.get("locals", []) for key, value in entry.items()}


def jsonencode_argument(raw: str):
    """The object literal passed to jsonencode(...), parsed.

    Inside the expression python-hcl2 writes the object as JSON, its literals as JSON values and
    every other expression as a "${...}" string (``{a = "x", b = y.z}`` is
    ``{"a": "x", "b": "${y.z}"}``), so the argument is read back with json.
    """
    match = re.fullmatch(r"\$\{jsonencode\((\{.*\})\)\}", raw, re.S)
    assert match, f"not a jsonencode({{...}}) expression: {raw[:60]}"
    return json.loads(match[1])


HCL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def string_literal(expr: str) -> str:
    """The template text of a quoted string literal written inside a ${...} expression."""
    assert len(expr) >= 2 and expr[0] == expr[-1] == '"', f"not a string literal: {expr}"
    return re.sub(r'\\([nrt"\\])', lambda m: HCL_ESCAPES[m[1]], expr[1:-1])


def template_text(value) -> str:
    """A value as Terraform writes it into a string template."""
    if value is None:
        raise Unresolved("null in a string template")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def interpolations(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the top-level ${...} in text, braces and quotes balanced."""
    spans, index = [], 0
    while (start := text.find("${", index)) != -1:
        depth, pos, in_string = 0, start + 1, False
        while pos < len(text):
            char = text[pos]
            if in_string:
                if char == "\\":
                    pos += 1
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            pos += 1
        spans.append((start, pos + 1))
        index = pos + 1
    return spans


def split_args(text: str) -> list[str]:
    """Top-level comma-separated arguments of a function call."""
    args, depth, in_string, current = [], 0, False, []
    for index, char in enumerate(text):
        if in_string:
            in_string = not (char == '"' and text[index - 1] != "\\")
        elif char == '"':
            in_string = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            args.append("".join(current))
            current = []
            continue
        current.append(char)
    args.append("".join(current))
    return [arg.strip() for arg in args if arg.strip()]


LITERALS = {"null": None, "true": True, "false": False}
FUNCTIONS = {
    "basename": posixpath.basename,
    "coalesce": lambda *values: next(v for v in values if v not in (None, "")),
    "replace": lambda text, old, new: text.replace(old, new),
    "trimsuffix": lambda text, suffix: text.removesuffix(suffix),
}


class Unresolved(ValueError):
    pass


@dataclass
class Scope:
    """Evaluates the references these tests need, in one module (root or child)."""

    path: Path
    doc: dict
    inputs: dict[str, object] = field(default_factory=dict)  # module-call arguments, raw
    parent: Scope | None = None

    def var(self, name: str):
        if name in self.inputs:
            return self.parent.value(self.inputs[name])
        variable = named(self.doc, "variable")[name]
        if "default" not in variable:
            raise Unresolved(f"var.{name} has no value")
        default = variable["default"]
        return None if default is None else self.value(default)

    def attribute(self, kind: str, type_name: str, name: str, attr: str):
        body = blocks(self.doc, kind, type_name)[name]
        if attr not in body:
            raise Unresolved(f"{type_name}.{name}.{attr} is not set literally")
        return self.value(body[attr])

    def expression(self, expr: str):
        """The value of the source text of one ${...}."""
        expr = expr.strip()
        if expr.startswith('"') and expr.endswith('"'):
            return self.value(string_literal(expr))
        if match := re.fullmatch(r"var\.(\w+)", expr):
            return self.var(match[1])
        if match := re.fullmatch(r"local\.(\w+)", expr):
            return self.value(locals_of(self.doc)[match[1]])
        if match := re.fullmatch(r'module\.storage\.bucket_names\["([\w-]+)"\]', expr):
            return f"{match[1]}-bucket"
        if expr in LITERALS:
            return LITERALS[expr]
        if (match := re.fullmatch(r"(\w+)\((.*)\)", expr, re.S)) and match[1] in FUNCTIONS:
            return FUNCTIONS[match[1]](*(self.expression(arg) for arg in split_args(match[2])))
        fixed = {
            "path.root": str(TF_ROOT),
            "path.module": str(self.path),
            "data.aws_partition.current.partition": "aws",
            "data.aws_caller_identity.current.account_id": ACCOUNT,
            "data.aws_region.current.region": REGION,
        }
        if expr in fixed:
            return fixed[expr]
        if match := re.fullmatch(r"(aws_\w+)\.(\w+)\.(\w+)", expr):
            return self.attribute("resource", *match.groups())
        raise Unresolved(expr)

    def value(self, raw):
        """A parsed HCL value with every ${...} it contains evaluated.

        A string that is one whole ${...} is an expression (its value keeps its type); any
        other string is a template (literal text, already unquoted, around interpolations).
        """
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        if not isinstance(raw, str):
            return raw
        spans = interpolations(raw)
        if spans == [(0, len(raw))]:
            return self.expression(raw[2:-1])
        out, last = [], 0
        for start, end in spans:
            out.append(raw[last:start])
            out.append(template_text(self.expression(raw[start + 2 : end - 1])))
            last = end
        out.append(raw[last:])
        return "".join(out)


ROOT_DOC = load_dir(TF_ROOT)
ROOT = Scope(TF_ROOT, ROOT_DOC)


def module_scope(call_name: str) -> Scope:
    call = named(ROOT_DOC, "module")[call_name]
    path = (TF_ROOT / call["source"]).resolve()
    inputs = {k: v for k, v in call.items() if k != "source"}
    return Scope(path, load_dir(path), inputs, ROOT)


JOB = module_scope("consolidation_job")
INGESTION = module_scope("ingestion")
CATALOG = module_scope("catalog")
MONITORING = module_scope("monitoring")


def glue_job() -> dict:
    return blocks(JOB.doc, "resource", "aws_glue_job")["this"]


def job_arguments() -> dict[str, str]:
    return JOB.value(glue_job()["default_arguments"])


def lambda_function() -> dict:
    return blocks(INGESTION.doc, "resource", "aws_lambda_function")["this"]


# --------------------------------------------------------------------------------------------
# IAM helpers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]
    has_principals: bool


def raw_statements(document: dict) -> list[dict]:
    """Every statement body of a policy document, including dynamic "statement" content."""
    found = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        for name, body in dynamic.items():
            if name == "statement":
                found.extend(body.get("content", []))
    return found


def all_policy_documents() -> list[tuple[Path, str, dict]]:
    documents = []
    for directory in [TF_ROOT, *sorted(p for p in MODULES.iterdir() if p.is_dir())]:
        doc = load_dir(directory)
        for name, body in blocks(doc, "data", "aws_iam_policy_document").items():
            documents.append((directory, name, body))
    return documents


def role_statements(scope: Scope, policy_local: str) -> list[Statement]:
    """The evaluated statements of every document attached to the module's role.

    The modules attach their role policies with `for_each = local.<policy_local>`, a map of
    `data.aws_iam_policy_document.<name>.json` (documents with count are the conditional
    KMS grants, absent with the default SSE-S3 configuration).
    """
    documents = blocks(scope.doc, "data", "aws_iam_policy_document")
    raw = locals_of(scope.doc)[policy_local]
    names = re.findall(r"data\.aws_iam_policy_document\.(\w+)(\[0\])?\.json", raw)
    statements = []
    for name, indexed in names:
        if indexed:
            assert "count" in documents[name], f"{name}[0] is attached but has no count"
            continue
        for body in raw_statements(documents[name]):
            statements.append(evaluate_statement(scope, body))
    return statements


def evaluate_items(scope: Scope, raw) -> tuple:
    """Each item evaluated when the evaluator can (S3 paths, Glue ARNs); otherwise kept as
    written (ARNs of resources created by the module, such as its log group or queue)."""
    if isinstance(raw, str):
        try:
            raw = scope.value(raw)
        except Unresolved:
            return (raw,)
        if isinstance(raw, str):
            return (raw,)
    items = []
    for item in raw:
        try:
            items.append(scope.value(item))
        except Unresolved:
            items.append(item)
    return tuple(items)


def evaluate_statement(scope: Scope, body: dict) -> Statement:
    conditions = tuple(
        (
            scope.value(cond["test"]),
            scope.value(cond["variable"]),
            evaluate_items(scope, cond["values"]),
        )
        for cond in body.get("condition", [])
    )
    return Statement(
        effect=scope.value(body.get("effect", "Allow")),
        actions=tuple(scope.value(body.get("actions", []))),
        resources=evaluate_items(scope, body.get("resources", [])),
        conditions=conditions,
        has_principals="principals" in body,
    )


def s3_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def allows(statements: list[Statement], action: str, resource: str) -> bool:
    return any(
        st.effect == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in st.actions)
        and any(fnmatch.fnmatchcase(resource, r) for r in st.resources)
        for st in statements
    )


def allows_listing(statements: list[Statement], bucket: str, prefix: str) -> bool:
    for st in statements:
        if st.effect != "Allow" or "s3:ListBucket" not in st.actions:
            continue
        if s3_arn(bucket) not in st.resources:
            continue
        prefix_conditions = [c for c in st.conditions if c[1] == "s3:prefix"]
        if all(
            test == "StringLike" and any(fnmatch.fnmatchcase(prefix, v) for v in values)
            for test, _, values in prefix_conditions
        ):
            return True
    return False


def s3_grants(statements: list[Statement]) -> dict[str, set[str]]:
    """{resource: actions} of every S3 resource the statements allow."""
    grants: dict[str, set[str]] = {}
    for st in statements:
        if st.effect == "Allow" and any(a.startswith("s3:") for a in st.actions):
            for resource in st.resources:
                grants.setdefault(resource, set()).update(st.actions)
    return grants


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/(.*)", uri)
    assert match, f"not an s3:// URI: {uri}"
    return match[1], match[2]


# --------------------------------------------------------------------------------------------
# Glue job <-> script
# --------------------------------------------------------------------------------------------


def script_tuples() -> dict[str, tuple[str, ...]]:
    if not GLUE_SCRIPT.exists():
        pytest.skip(f"{GLUE_SCRIPT.relative_to(REPO_ROOT)} does not exist yet")
    tree = ast.parse(GLUE_SCRIPT.read_text(), filename=str(GLUE_SCRIPT))
    wanted = {"GLUE_REQUIRED_ARGS", "GLUE_OPTIONAL_ARGS", "LOCAL_ONLY_ARGS"}
    found = {}
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        for target in targets:
            if isinstance(target, ast.Name) and target.id in wanted and node.value is not None:
                found[target.id] = tuple(ast.literal_eval(node.value))
    assert set(found) == wanted, f"script must define {sorted(wanted)}, found {sorted(found)}"
    return found


def test_job_default_arguments_are_exactly_the_scripts_arguments():
    args = script_tuples()
    keys = set(job_arguments())
    user_args = {key.removeprefix("--") for key in keys - GLUE_RESERVED_ARGS}
    expected = (set(args["GLUE_REQUIRED_ARGS"]) - {"JOB_NAME"}) | set(args["GLUE_OPTIONAL_ARGS"])
    assert user_args == expected
    assert not user_args & set(args["LOCAL_ONLY_ARGS"])
    assert all(key.startswith("--") for key in keys)


def test_job_optional_arguments_default_like_the_script():
    arguments = job_arguments()
    assert arguments["--full_refresh"] == "false"
    assert arguments["--source_timezone"] == "UTC"


def test_job_paths_are_the_lake_layout():
    arguments = job_arguments()
    assert arguments["--bronze_path"] == "s3://bronze-bucket/car_data/"
    assert arguments["--silver_path"] == "s3://silver-bucket/car_telemetry/"
    assert arguments["--quarantine_path"] == "s3://silver-bucket/quarantine/car_telemetry/"
    job_name = "car-telemetry-dev-silver-consolidation"
    assert arguments["--TempDir"] == f"s3://glue-temp-bucket/{job_name}/temporary/"
    assert arguments["--spark-event-logs-path"] == (
        f"s3://glue-temp-bucket/{job_name}/spark-event-logs/"
    )


def test_job_glue_settings():
    job = glue_job()
    assert JOB.value(job["glue_version"]) == "5.1"
    assert JOB.value(job["worker_type"]) == "G.1X"
    assert JOB.value(job["number_of_workers"]) == 2
    assert JOB.value(job["timeout"]) == 45
    assert JOB.value(job["execution_class"]) == "STANDARD"
    assert job["security_configuration"] == "${var.security_configuration_name}"
    assert JOB.inputs["security_configuration_name"] == (
        "${module.encryption.glue_security_configuration_name}"
    )
    arguments = job_arguments()
    assert arguments["--enable-metrics"] == "true"
    assert arguments["--enable-auto-scaling"] == "true"


def test_job_bookmarks_are_enabled():
    assert job_arguments()["--job-bookmark-option"] == "job-bookmark-enable"


def test_job_runs_one_at_a_time():
    assert glue_job()["execution_property"] == [{"max_concurrent_runs": 1}]


def test_uploaded_script_is_the_repositorys_script():
    script = blocks(JOB.doc, "resource", "aws_s3_object")["script"]
    source = Path(JOB.value(script["source"])).resolve()
    assert source == GLUE_SCRIPT
    assert script["source"] == "${var.script_path}"
    # etag = MD5 of the repository file (SSE-S3, the default); with a bucket KMS key the ETag
    # is not an MD5, so source_hash carries the same digest instead.
    assert script["etag"] == "${var.s3_kms_key_arn == null ? filemd5(var.script_path) : null}"
    assert script["source_hash"] == (
        "${var.s3_kms_key_arn == null ? null : filemd5(var.script_path)}"
    )
    assert JOB.value("${var.s3_kms_key_arn}") is None
    assert JOB.value(script["bucket"]) == "glue-scripts-bucket"
    key = JOB.value(script["key"])
    assert key == "car-telemetry-dev-silver-consolidation/silver_consolidation_job.py"
    command = glue_job()["command"][0]
    assert JOB.value(glue_job()["command"][0]["script_location"]) == (
        f"s3://glue-scripts-bucket/{key}"
    )
    assert command["name"] == "glueetl"


def test_trigger_runs_the_job_hourly_by_default():
    trigger = blocks(JOB.doc, "resource", "aws_glue_trigger")["schedule"]
    assert JOB.value(trigger["type"]) == "SCHEDULED"
    assert JOB.value(trigger["schedule"]) == "cron(0 */1 * * ? *)"
    assert JOB.value(trigger["enabled"]) is True
    assert trigger["actions"] == [{"job_name": "${aws_glue_job.this.name}"}]


def test_failure_alerts_are_in_the_monitoring_module_and_reach_the_topic():
    # (The patterns themselves are evaluated against sample events in
    # test_terraform_monitoring.py.)
    rules = blocks(MONITORING.doc, "resource", "aws_cloudwatch_event_rule")
    targets = blocks(MONITORING.doc, "resource", "aws_cloudwatch_event_target")
    assert set(rules) == {"job_failed", "crawler_failed"}
    for name in rules:
        assert targets[name]["rule"] == f"${{aws_cloudwatch_event_rule.{name}.name}}"
        assert targets[name]["arn"] == "${aws_sns_topic.alerts.arn}"
    assert blocks(JOB.doc, "resource", "aws_cloudwatch_event_rule") == {}
    assert MONITORING.inputs["job_name"] == "${module.consolidation_job.glue_job_name}"
    assert MONITORING.inputs["crawler_names"] == "${values(module.catalog.glue_crawler_names)}"


# --------------------------------------------------------------------------------------------
# IAM
# --------------------------------------------------------------------------------------------


def test_no_iam_statement_allows_a_wildcard_action():
    documents = all_policy_documents()
    assert len(documents) >= 20, "expected every module's policy documents to be found"
    offenders = []
    deny_wildcards = []
    for directory, name, document in documents:
        for body in raw_statements(document):
            assert "not_actions" not in body, f"{directory.name}/{name} uses not_actions"
            actions = body.get("actions", [])
            effect = body.get("effect", "Allow")
            wild = [a for a in actions if "*" in a]
            if wild and effect == "Allow":
                offenders.append((directory.name, name, wild))
            elif wild:
                deny_wildcards.append((directory.name, name, tuple(wild), json.dumps(body)))
    assert offenders == []
    # The only wildcard actions are the bucket policies' TLS-only denials.
    assert {(d, n, w) for d, n, w, _ in deny_wildcards} == {("storage", "tls_only", ("s3:*",))}
    assert all("aws:SecureTransport" in b or "s3:TlsVersion" in b for *_, b in deny_wildcards)


def test_every_role_policy_document_is_attached():
    for scope, policy_local in (
        (JOB, "role_policies"),
        (INGESTION, "role_policies"),
        (CATALOG, "crawler_role_policies"),
    ):
        documents = blocks(scope.doc, "data", "aws_iam_policy_document")
        attached = set(
            re.findall(r"data\.aws_iam_policy_document\.(\w+)", locals_of(scope.doc)[policy_local])
        )
        identity_documents = {
            name
            for name, body in documents.items()
            if not any("principals" in st for st in raw_statements(body))
        }
        assert attached == identity_documents


def test_job_role_touches_only_its_glue_database():
    statements = role_statements(JOB, "role_policies")
    glue = [st for st in statements if any(a.startswith("glue:") for a in st.actions)]
    assert [st.resources for st in glue] == [
        (
            f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
            f"arn:aws:glue:{REGION}:{ACCOUNT}:database/car_telemetry_dev",
            f"arn:aws:glue:{REGION}:{ACCOUNT}:table/car_telemetry_dev/*",
        )
    ]
    assert all(a.startswith("glue:Get") for st in glue for a in st.actions)


def test_lambda_role_uses_no_other_services_than_s3_sqs_and_logs():
    # Which S3 requests it may make is tests/test_iam_behaviour.py's business.
    statements = role_statements(INGESTION, "role_policies")
    assert sorted({a for st in statements for a in st.actions}) == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
    ]
    queue_statements = [st for st in statements if "sqs:SendMessage" in st.actions]
    assert [st.resources for st in queue_statements] == [("${aws_sqs_queue.failures.arn}",)]


# --------------------------------------------------------------------------------------------
# Ingestion Lambda <-> handler
# --------------------------------------------------------------------------------------------


def test_lambda_handler_names_a_function_that_exists():
    handler = INGESTION.value(lambda_function()["handler"])
    module_name, function_name = handler.rsplit(".", 1)
    source_dir = Path(
        INGESTION.value(blocks(INGESTION.doc, "data", "archive_file")["this"]["source_dir"])
    )
    assert source_dir.resolve() == LAMBDA_DIR
    module_file = LAMBDA_DIR / f"{module_name.replace('.', '/')}.py"
    if not module_file.exists():
        pytest.skip(f"{module_file.relative_to(REPO_ROOT)} does not exist yet")
    tree = ast.parse(module_file.read_text(), filename=str(module_file))
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert handler == "handler.lambda_handler"
    assert function_name in functions


def test_lambda_runtime_sizing_and_environment():
    function = lambda_function()
    assert INGESTION.value(function["runtime"]) == "python3.12"
    assert INGESTION.value(function["memory_size"]) == 512
    assert INGESTION.value(function["timeout"]) == 120
    assert INGESTION.value(function["environment"][0]["variables"]) == {
        "BRONZE_BUCKET": "bronze-bucket",
        "BRONZE_PREFIX": "car_data",
        "QUARANTINE_PREFIX": "quarantine",
    }
    assert INGESTION.inputs["layer_arns"] == ["${local.aws_sdk_pandas_layer_arn}"]


def test_lambda_package_excludes_bytecode():
    archive = blocks(INGESTION.doc, "data", "archive_file")["this"]
    assert INGESTION.value(archive["excludes"]) == [
        "**/__pycache__",
        "**/__pycache__/**",
        "**/*.pyc",
    ]


def test_landing_trigger_is_json_objects_with_a_scoped_permission():
    notification = blocks(INGESTION.doc, "resource", "aws_s3_bucket_notification")["landing"]
    target = notification["lambda_function"]
    assert target == [
        {
            "lambda_function_arn": "${aws_lambda_function.this.arn}",
            "events": ["s3:ObjectCreated:*"],
            "filter_suffix": "${var.landing_suffix}",
        }
    ]
    assert INGESTION.value(notification["bucket"]) == "landing-bucket"
    assert notification["depends_on"] == ["${aws_lambda_permission.landing}"]
    permission = blocks(INGESTION.doc, "resource", "aws_lambda_permission")["landing"]
    assert INGESTION.value(permission["principal"]) == "s3.amazonaws.com"
    assert INGESTION.value(permission["source_arn"]) == "arn:aws:s3:::landing-bucket"
    assert INGESTION.value(permission["source_account"]) == ACCOUNT


def test_failed_events_go_to_the_queue_after_retries():
    config = blocks(INGESTION.doc, "resource", "aws_lambda_function_event_invoke_config")["this"]
    assert INGESTION.value(config["maximum_retry_attempts"]) == 2
    assert config["destination_config"] == [
        {"on_failure": [{"destination": "${aws_sqs_queue.failures.arn}"}]}
    ]


def test_old_cleansing_lambda_and_bronze_trigger_are_absent():
    functions, notifications = [], []
    for directory in [TF_ROOT, *sorted(p for p in MODULES.iterdir() if p.is_dir())]:
        doc = load_dir(directory)
        functions += [(directory.name, n) for n in blocks(doc, "resource", "aws_lambda_function")]
        notifications += [
            (directory.name, n) for n in blocks(doc, "resource", "aws_s3_bucket_notification")
        ]
    assert functions == [("ingestion", "this")]
    assert notifications == [("ingestion", "landing")]


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


def test_crawlers_target_the_tables_with_the_contract_names():
    crawler = blocks(CATALOG.doc, "resource", "aws_glue_crawler")["this"]
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])
    expected = {
        "bronze": ("bronze-bucket", "car_data", "bronze_car_data"),
        "silver": ("silver-bucket", "car_telemetry", "silver_car_telemetry"),
    }
    for layer, (bucket, prefix, table) in expected.items():
        assert settings[layer]["bucket_name"] == bucket
        assert settings[layer]["prefix"] == prefix
        assert settings[layer]["table_name"] == table
        # table_prefix = table name minus the folder the crawler names the table after
        assert table.removesuffix(posixpath.basename(prefix)) + prefix == table
    assert crawler["table_prefix"] == (
        "${trimsuffix(each.value.table_name, basename(each.value.prefix))}"
    )
    assert crawler["s3_target"][0]["path"] == "s3://${each.value.bucket_name}/${each.value.prefix}/"
    assert crawler["schema_change_policy"] == [
        {"update_behavior": "UPDATE_IN_DATABASE", "delete_behavior": "LOG"}
    ]
    assert crawler["recrawl_policy"] == [{"recrawl_behavior": "CRAWL_EVERYTHING"}]


def test_quarantine_is_outside_the_crawled_silver_path():
    silver = "s3://silver-bucket/car_telemetry/"
    assert not job_arguments()["--quarantine_path"].startswith(silver)


def test_crawler_configuration_keeps_partitions_consistent():
    crawler = blocks(CATALOG.doc, "resource", "aws_glue_crawler")["this"]
    assert jsonencode_argument(crawler["configuration"]) == {
        "Version": 1.0,
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
        "CrawlerOutput": {
            "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
            "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
        },
        "CreatePartitionIndex": "${each.value.create_partition_index}",
    }
    settings = CATALOG.value(locals_of(CATALOG.doc)["crawlers"])
    # bronze: the crawler creates table and index; silver: both are defined in Terraform
    assert settings["bronze"]["create_partition_index"] is True
    assert settings["silver"]["create_partition_index"] is False


def test_named_query_is_the_repositorys_duplicates_check():
    query = blocks(CATALOG.doc, "resource", "aws_athena_named_query")["silver_duplicates_check"]
    sql_path = Path(CATALOG.value("${var.duplicates_check_query_path}"))
    assert sql_path.resolve() == TF_ROOT / "queries" / "silver_duplicates_check.sql"
    assert query["query"] == (
        "${templatefile(var.duplicates_check_query_path, "
        '{"database": "${aws_glue_catalog_database.this.name}", '
        '"table": "${var.silver_table_name}"})}'
    )
    assert CATALOG.value("${var.silver_table_name}") == "silver_car_telemetry"
    sql = sql_path.read_text()
    assert '"${database}"."${table}"' in sql
    assert set(re.findall(r"\$\{(\w+)\}", sql)) == {"database", "table"}


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_cutoff():
    workgroup = blocks(CATALOG.doc, "resource", "aws_athena_workgroup")["this"]
    configuration = workgroup["configuration"][0]
    assert CATALOG.value(configuration["enforce_workgroup_configuration"]) is True
    assert CATALOG.value(configuration["bytes_scanned_cutoff_per_query"]) == 10 * 1024**3
    result = configuration["result_configuration"][0]
    assert CATALOG.value(result["output_location"]) == "s3://athena-results-bucket/results/"
    assert result["encryption_configuration"] == [
        {
            "encryption_option": '${var.s3_kms_key_arn == null ? "SSE_S3" : "SSE_KMS"}',
            "kms_key_arn": "${var.s3_kms_key_arn}",
        }
    ]


def test_tfvars_example_sets_only_declared_variables_with_their_types():
    with (TF_ROOT / "terraform.tfvars.example").open() as handle:
        example = hcl2.load(handle)
    variables = named(ROOT_DOC, "variable")
    assert set(example) <= set(variables)
    python_types = {"string": str, "number": (int, float), "bool": bool, "map(string)": dict}
    for name, value in example.items():
        declared = variables[name]["type"].removeprefix("${").removesuffix("}")
        assert isinstance(value, python_types[declared]), (name, value, declared)


def test_the_ingestion_benchmark_estimates_the_lambda_terraform_deploys():
    # bench_ingestion.py turns local CPU into a Lambda estimate with the function's memory and
    # judges it against its timeout: both must be what Terraform deploys by default
    import bench_ingestion

    function = ("resource", "aws_lambda_function", "this")
    deployed = [INGESTION.attribute(*function, arg) for arg in ("memory_size", "timeout")]
    assert deployed == [bench_ingestion.LAMBDA_MEMORY_MB, bench_ingestion.LAMBDA_TIMEOUT_S]
