"""The offline proofs of terraform/: formatting, the provider-schema check, checkov.

None of them needs the provider registry. Each test skips, naming what is missing, when its
tool is not installed here (`make setup` installs checkov into .venv-tools; tf_check.py lives
in ../shared/tools when that checkout exists).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TF_ROOT = REPO_ROOT / "terraform"
TF_CHECK = REPO_ROOT.parent / "shared" / "tools" / "tf_check.py"
CHECKOV = REPO_ROOT / ".venv-tools" / "bin" / "checkov"


def test_terraform_is_formatted():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not on PATH")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def test_tf_check_reports_no_findings():
    if not TF_CHECK.exists():
        pytest.skip(f"{TF_CHECK} not found (the ../shared checkout is absent)")
    result = subprocess.run(
        [sys.executable, str(TF_CHECK), str(TF_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), f"tf_check could not run:\n{result.stderr}"
    assert "tf_check: 0 finding(s)" in result.stdout, result.stdout
    assert result.returncode == 0, result.stdout


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    """One checkov run per session (it takes ~10 s); JSON with passed, failed and skipped."""
    if not CHECKOV.exists():
        pytest.skip(f"{CHECKOV.relative_to(REPO_ROOT)} not found (`make setup` installs it)")
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(TF_ROOT),
            "--framework",
            "terraform",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert isinstance(report, dict), "expected a single terraform report"
    return report


def test_checkov_has_no_failed_checks(checkov_report):
    failed = [
        f"{check['check_id']} {check['resource']}"
        for check in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert checkov_report["summary"]["failed"] == 0
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["passed"] > 0


def test_every_checkov_skip_is_inline_with_a_reason(checkov_report):
    skipped = checkov_report["results"]["skipped_checks"]
    assert len(skipped) == checkov_report["summary"]["skipped"]
    for check in skipped:
        reason = check["check_result"].get("suppress_comment", "")
        assert reason != "No comment provided", check["check_id"]
        assert len(reason.split()) >= 8, (check["check_id"], reason)
        file_text = (TF_ROOT / check["file_path"].lstrip("/")).read_text()
        assert f"#checkov:skip={check['check_id']}:{reason}" in file_text
