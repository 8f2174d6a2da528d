"""A small evaluator of this project's Terraform, read statically with python-hcl2, for the
tests that check terraform/ against the code it deploys and the roles' policies against the
requests they must allow (test_terraform_*.py, test_iam_behaviour.py).

Nothing here talks to AWS or needs the provider: the Terraform is parsed and the references a
test cares about are resolved (variables, locals, module inputs, bucket names from
``module.storage``, literal resource attributes).

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

import fnmatch
import functools
import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_ROOT = REPO_ROOT / "terraform"
MODULES = TF_ROOT / "modules"

ACCOUNT = "123456789012"
REGION = "us-east-1"


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
    "fileset": lambda folder, pattern: sorted(
        str(p.relative_to(folder)) for p in Path(folder).glob(pattern) if p.is_file()
    ),
    "file": lambda path: Path(path).read_text(),
    "coalesce": lambda *values: next(v for v in values if v not in (None, "")),
    "replace": lambda text, old, new: text.replace(old, new),
    "trimsuffix": lambda text, suffix: text.removesuffix(suffix),
    "trimspace": str.strip,
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
    bindings: dict[str, object] = field(default_factory=dict)  # e.g. a dynamic block's source.value

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
        if expr in self.bindings:
            return self.bindings[expr]
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
