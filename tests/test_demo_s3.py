"""`make demo-s3` (scripts/local/run_demo_s3.py): the demo against the local S3 server succeeds
and the request counts it prints are those the server recorded, stage by stage."""

from __future__ import annotations

from collections import Counter

import local_s3
import pytest
import run_demo_s3

# The pipeline it runs is test_s3_pipeline.py's, which make test covers: this runs in make test-s3.
pytestmark = [pytest.mark.spark, pytest.mark.s3_more]

STAGES = [
    "upload to landing (producers)",
    "ingestion (Lambda handler)",
    "job run",
    "2nd job run (nothing new)",
]


def printed_counts(out: str) -> dict[str, dict[str, int]]:
    """The request table the demo printed: stage -> column -> count."""
    table = out.split("== S3 requests the server answered, by stage and kind\n", 1)[1]
    header, *lines = table.splitlines()[: len(STAGES) + 1]
    columns = header.split()[1:]
    counts = {}
    for line in lines:
        words = line.split()
        name, numbers = " ".join(words[: -len(columns)]), words[-len(columns) :]
        counts[name] = dict(zip(columns, map(int, numbers), strict=True))
    return counts


def recorded_counts(requests) -> dict[str, int]:
    kinds = Counter(r.kind for r in requests)
    counts = {kind: kinds.pop(kind, 0) for kind in local_s3.KINDS}
    return counts | {"other": sum(kinds.values()), "total": len(requests)}


def test_the_s3_demo_runs_and_prints_the_requests_the_server_recorded(spark, tmp_path, capsys):
    code, stages = run_demo_s3.demo(tmp_path / "s3")
    out = capsys.readouterr().out

    assert code == 0
    assert list(stages) == STAGES
    assert printed_counts(out) == {name: recorded_counts(reqs) for name, reqs in stages.items()}
    assert {r.bucket for r in stages["ingestion (Lambda handler)"]} == {
        local_s3.LANDING_BUCKET,
        local_s3.BRONZE_BUCKET,
    }
    assert {"PUT", "COPY", "LIST"} <= {r.kind for r in stages["job run"]}
    assert stages["2nd job run (nothing new)"]
    assert {r.kind for r in stages["2nd job run (nothing new)"]} <= {"LIST", "HEAD", "GET"}
    assert "silver bucket unchanged: yes" in out
