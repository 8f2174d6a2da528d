"""The kill points' plan (silver_job/faults.py): parsed once per run, refused when misspelt.

The kills themselves are exercised on the real job process in tests/test_silver_commit.py.
"""

import subprocess
import sys

import pytest
from silver_job.faults import FAULT_ENV, FAULT_POINTS, Faults


@pytest.mark.parametrize(
    "spec, message",
    [
        ("staged_slver", "unknown fault point 'staged_slver'"),
        ("applied:0", "the hit after ':' must be a positive integer"),
        ("applied:two", "the hit after ':' must be a positive integer"),
        (":3", "unknown fault point ''"),
    ],
)
def test_a_misspelt_plan_is_refused_naming_the_setting(spec, message):
    with pytest.raises(ValueError, match=f"^{FAULT_ENV}={spec!r}: {message}"):
        Faults(spec)


def test_the_job_may_only_mark_points_the_plan_knows():
    with pytest.raises(ValueError, match="unknown fault point 'nowhere'"):
        Faults().reached("nowhere")


def test_without_a_plan_every_point_is_a_no_op():
    faults = Faults.from_env({})
    for point in FAULT_POINTS:
        faults.reached(point)


def test_each_plan_counts_its_own_hits_and_kills_on_the_nth(tmp_path):
    """Two plans in one process do not share a count (there is no module state); the process
    dies on the second hit of its plan's point, not before."""
    script = (
        "import sys; from silver_job.faults import Faults\n"
        "other = Faults('applied:2'); other.reached('applied')\n"
        "plan = Faults('applied:2')\n"
        "plan.reached('applied'); print('first hit survived', flush=True)\n"
        "plan.reached('recovered'); print('other point survived', flush=True)\n"
        "plan.reached('applied'); print('second hit survived', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -9, done.stderr
    assert done.stdout.splitlines() == ["first hit survived", "other point survived"]
