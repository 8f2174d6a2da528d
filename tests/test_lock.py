"""The locks under requirements/ hold every version the venvs install.

`make lock` writes them with uv from pyproject.toml and requirements/*.in; `make setup` installs
them and nothing else. These tests fail when a pin declared by hand is missing from its lock or
locked at another version, and when this venv holds a distribution the lock does not name.
"""

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
# What `python -m venv` seeds a venv with; neither the project nor its tools import them.
VENV_SEEDS = {"pip", "setuptools"}


def locked(lock: Path) -> dict[str, set[str]]:
    """Name -> the versions the lock pins for it (one per line `name==version [; marker]`)."""
    pins: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins.setdefault(canonicalize_name(match[1]), set()).add(match[2])
    return pins


def pinned(requirements: list[str]) -> dict[str, str]:
    """Name -> version of the requirements declared by hand, each pinned with `==`."""
    pins = {}
    for text in requirements:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{text!r} is not pinned to one version"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def declared_in(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def project_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return pinned(project["dependencies"] + project["optional-dependencies"]["dev"])


# (the lock, what was declared for it by hand)
DECLARED = {
    "dev.txt": project_pins,
    "build.txt": lambda: pinned(declared_in(LOCKS / "build.in")),
    "bootstrap.txt": lambda: pinned(declared_in(LOCKS / "bootstrap.in")),
    "tools.txt": lambda: pinned(declared_in(LOCKS / "tools.in")),
}


def differences(declared: dict[str, str], lock: dict[str, set[str]]) -> list[str]:
    problems = []
    for name, version in sorted(declared.items()):
        if name not in lock:
            problems.append(f"{name}=={version} is missing from the lock")
        elif lock[name] != {version}:
            problems.append(f"{name}=={version} is locked as {sorted(lock[name])}")
    return problems


@pytest.mark.parametrize("lock_name", sorted(DECLARED))
def test_every_declared_pin_is_in_its_lock_at_that_version(lock_name):
    assert differences(DECLARED[lock_name](), locked(LOCKS / lock_name)) == []


def test_the_check_names_a_pin_whose_line_was_removed_or_changed(tmp_path):
    # The lock as `make lock` wrote it, then with boto3's line gone and numpy's moved.
    lock = (LOCKS / "dev.txt").read_text()
    assert re.search(r"(?m)^boto3==1\.44\.8 \\$", lock) and re.search(r"(?m)^numpy==", lock)
    broken = tmp_path / "dev.txt"
    broken.write_text(
        re.sub(r"(?m)^numpy==[^ ]+", "numpy==1.0.0", re.sub(r"(?m)^boto3==.*$", "", lock))
    )
    assert differences(project_pins(), locked(broken)) == [
        "boto3==1.44.8 is missing from the lock",
        f"numpy=={project_pins()['numpy']} is locked as ['1.0.0']",
    ]


def test_uv_is_bootstrapped_at_the_version_the_project_locks():
    assert locked(LOCKS / "bootstrap.txt")["uv"] == {project_pins()["uv"]}


def test_every_lock_line_carries_a_hash():
    for lock in sorted(LOCKS.glob("*.txt")):
        entries = re.split(r"(?m)^(?=[A-Za-z0-9])", lock.read_text())
        unhashed = [e.split()[0] for e in entries if "==" in e[:80] and "--hash=sha256:" not in e]
        assert unhashed == [], f"{lock.name}: entries without a hash"


def test_this_venv_holds_exactly_the_dev_lock():
    """What `make setup` installed is the lock: no distribution more, none at another version."""
    expected: dict[str, str] = {}
    for line in (LOCKS / "dev.txt").read_text().splitlines():
        match = re.match(
            r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*(.*?))?\s*\\?$", line
        )
        if match and (match[3] is None or Marker(match[3]).evaluate()):
            expected[canonicalize_name(match[1])] = match[2]
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions()
    }
    for seed in VENV_SEEDS:
        installed.pop(seed, None)
    assert installed == expected
