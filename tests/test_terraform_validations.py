"""Plan-time validations: values that AWS would only reject at apply time fail `terraform plan`.

Each test copies one module's variables.tf (nothing else: no provider is needed, so this runs
offline) into a temporary folder and plans it with the values under test; the validation rules
are the real ones from terraform/. Skipped when terraform is not on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from hcl_eval import (
    MODULES,
    ROOT_DOC,
    TF_ROOT,
    Scope,
    module_scope,
    named,
)

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")

# Values for the variables without default, so that only the variable under test can fail.
REQUIRED_VALUES = {
    "job_name": "car-telemetry-dev-silver-consolidation",
    "script_path": "job.py",
    "bronze_prefix": "car_data",
    "silver_prefix": "car_telemetry",
    "quarantine_prefix": "quarantine",
    "database_name": "car_telemetry_dev",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/example",
}


def plan_variables(variables_tf: Path, tmp_path: Path, values: dict) -> subprocess.CompletedProcess:
    """`terraform plan` of a configuration made of variables_tf alone, with values (HCL)."""
    work = tmp_path / variables_tf.parent.name
    work.mkdir(exist_ok=True)
    shutil.copy(variables_tf, work / "variables.tf")
    with variables_tf.open() as handle:
        declared = {n: b for e in hcl2.load(handle).get("variable", []) for n, b in e.items()}
    assignments = {
        name: REQUIRED_VALUES.get(name, "x")
        for name, body in declared.items()
        if "default" not in body
    }
    assignments.update(values)
    lines = []
    for name, value in assignments.items():
        if isinstance(value, dict):
            body = ", ".join(f'"{k}" = "{v}"' for k, v in value.items())
            lines.append(f"{name} = {{ {body} }}")
        elif isinstance(value, str):
            lines.append(f'{name} = "{value}"')
        else:
            lines.append(f"{name} = {value}")
    (work / "terraform.tfvars").write_text("\n".join(lines) + "\n")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    init = subprocess.run(
        [TERRAFORM, "init", "-input=false", "-no-color", "-backend=false"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    return subprocess.run(
        [TERRAFORM, "plan", "-input=false", "-no-color", "-lock=false"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def invalid(result: subprocess.CompletedProcess) -> str:
    """The error text of a plan that failed on a variable validation ('' if it succeeded)."""
    if result.returncode == 0:
        return ""
    assert "Invalid value for variable" in result.stderr, result.stderr
    return " ".join(result.stderr.split())


JOB_VARIABLES = MODULES / "consolidation_job" / "variables.tf"
ROOT_VARIABLES = TF_ROOT / "variables.tf"


@pytest.mark.parametrize("worker_type", ["G.4X", "G.8X"])
def test_flex_with_a_large_worker_type_fails_at_plan(tmp_path, worker_type):
    result = plan_variables(
        JOB_VARIABLES, tmp_path, {"execution_class": "FLEX", "worker_type": worker_type}
    )
    assert "FLEX is only available with worker_type G.1X or G.2X" in invalid(result)


@pytest.mark.parametrize("worker_type", ["G.1X", "G.2X"])
def test_flex_with_g1x_or_g2x_plans(tmp_path, worker_type):
    result = plan_variables(
        JOB_VARIABLES, tmp_path, {"execution_class": "FLEX", "worker_type": worker_type}
    )
    assert invalid(result) == ""


@pytest.mark.parametrize(
    ("schedule", "timeout", "accepted"),
    [
        ("cron(0 */1 * * ? *)", 60, False),  # the old default: a slow run blocks the next one
        ("cron(0 */1 * * ? *)", 45, True),
        ("cron(15 * * * ? *)", 59, True),
        ("cron(0 */2 * * ? *)", 120, False),
        ("cron(0 */2 * * ? *)", 100, True),
        ("cron(*/15 * * * ? *)", 15, False),
        ("cron(0/20 * * * ? *)", 19, True),
        ("cron(30 2 * * ? *)", 1440, False),
    ],
)
def test_timeout_must_be_shorter_than_the_schedule_interval(tmp_path, schedule, timeout, accepted):
    result = plan_variables(
        JOB_VARIABLES, tmp_path, {"schedule": schedule, "timeout_minutes": timeout}
    )
    message = invalid(result)
    if accepted:
        assert message == ""
    else:
        assert "timeout_minutes must be shorter than the interval of schedule" in message


def test_root_defaults_keep_the_timeout_below_the_hourly_schedule():
    root = Scope(TF_ROOT, ROOT_DOC)
    assert root.var("glue_job_schedule") == "cron(0 */1 * * ? *)"
    assert root.var("glue_timeout_minutes") < 60


def test_more_than_ten_object_tags_fail_at_plan(tmp_path):
    seven = {f"Tag{i}": "v" for i in range(7)}
    assert invalid(plan_variables(ROOT_VARIABLES, tmp_path, {"tags": seven})) == ""
    eight = {f"Tag{i}": "v" for i in range(8)}
    assert "at most 10 keys" in invalid(plan_variables(ROOT_VARIABLES, tmp_path, {"tags": eight}))
    # overriding a default tag does not add a key
    overriding = {**seven, "Project": "other"}
    assert invalid(plan_variables(ROOT_VARIABLES, tmp_path, {"tags": overriding})) == ""


def module_name_patterns(module: str) -> dict[str, str]:
    """{variable: regex} of the module's variables validated with can(regex("...", var.X))."""
    variables = named(module_scope(module).doc, "variable")
    patterns = {}
    for name, body in variables.items():
        for rule in body.get("validation", []):
            match = re.fullmatch(
                rf'\$\{{can\(regex\("(.*)", var\.{name}\)\)\}}', rule["condition"], re.S
            )
            if match:
                patterns[name] = match[1].encode().decode("unicode_escape")
    return patterns


NAME_INPUTS = {
    "storage": ["name_prefix"],
    "encryption": ["name_prefix"],
    "ingestion": ["function_name"],
    "consolidation_job": ["job_name"],
    "catalog": ["name_prefix"],
    "monitoring": ["name_prefix"],
}


def test_every_name_the_root_accepts_is_accepted_by_the_modules(tmp_path):
    # The longest project and environment the root's own validations let through...
    longest = {"project": "p" * 20, "environment": "e" * 9}
    assert invalid(plan_variables(ROOT_VARIABLES, tmp_path, longest)) == ""
    too_long = {"project": "p" * 20, "environment": "e" * 10}
    assert "at most 29 characters" in invalid(plan_variables(ROOT_VARIABLES, tmp_path, too_long))

    # ...give names that every module's validation accepts.
    doc = {
        **ROOT_DOC,
        "variable": [*ROOT_DOC["variable"], *({k: {"default": v}} for k, v in longest.items())],
    }
    root = Scope(TF_ROOT, doc)
    calls = named(ROOT_DOC, "module")
    checked = []
    for module, inputs in NAME_INPUTS.items():
        patterns = module_name_patterns(module)
        for name in inputs:
            value = root.value(calls[module][name])
            assert re.fullmatch(patterns[name], value), (module, name, value, patterns[name])
            checked.append((module, name, len(value)))
    assert ("consolidation_job", "job_name", 51) in checked
