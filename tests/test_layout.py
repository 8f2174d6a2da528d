"""One import path: every deployable and script is one module, loaded once, by its name."""

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("glue_jobs", "lambdas", "scripts", "bench", "tests")
MODULES = {
    "silver_consolidation_job": REPO / "glue_jobs" / "silver_consolidation_job.py",
    "silver_job.run": REPO / "glue_jobs" / "silver_job" / "run.py",
    "local_job": REPO / "scripts" / "local" / "local_job.py",
    "handler": REPO / "lambdas" / "ingestion" / "handler.py",
    "ingest.core": REPO / "lambdas" / "ingestion" / "ingest" / "core.py",
    "ingest.contract": REPO / "lambdas" / "ingestion" / "ingest" / "contract.py",
    "local_runtime": REPO / "scripts" / "local" / "local_runtime.py",
    "run_local_pipeline": REPO / "scripts" / "local" / "run_local_pipeline.py",
    "replay_quarantine": REPO / "scripts" / "ops" / "replay_quarantine.py",
    "bench_consolidation": REPO / "bench" / "bench_consolidation.py",
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_importing_a_module_twice_by_name_gives_the_same_object(name):
    first = importlib.import_module(name)
    second = importlib.import_module(name)

    assert first is second
    assert Path(first.__file__).resolve() == MODULES[name]


def test_no_file_of_the_repository_is_loaded_as_two_modules():
    for name in MODULES:
        importlib.import_module(name)
    by_file: dict[Path, list[str]] = {}
    for module_name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and any(Path(path).resolve().is_relative_to(REPO / d) for d in SOURCE_DIRS):
            by_file.setdefault(Path(path).resolve(), []).append(module_name)

    assert {f: names for f, names in by_file.items() if len(names) > 1} == {}
