"""Start a run of the silver consolidation Glue job, wait for it and say where its logs are.

    python scripts/ops/run_glue_job.py --job-name "$(terraform -chdir=terraform output -raw \\
        glue_job_name)" --arguments full_refresh=true

Progress goes to stderr (logging); the result goes to stdout: final state, run id, log groups
and streams, and the Glue console URL. Exit codes: 0 the run SUCCEEDED (or was started with
--no-wait); 1 it ended FAILED, TIMEOUT, ERROR, STOPPED or EXPIRED; 2 it could not be started
(unknown job, a run already going: the job allows one at a time, no credentials or region) or
its state could not be read; 3 it was still running when --timeout-minutes ran out (the run
itself goes on).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import ops_cli
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("run_glue_job")

SUCCEEDED = "SUCCEEDED"
FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "ERROR", "STOPPED", "EXPIRED"})
TERMINAL_STATES = FAILED_STATES | {SUCCEEDED}
DEFAULT_LOG_GROUP = "/aws-glue/jobs"  # + /output (stdout, driver logs) and /error (stderr)

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_NOT_STARTED, EXIT_WAIT_TIMEOUT = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class RunResult:
    job_name: str
    run_id: str
    state: str
    error_message: str | None = None
    execution_seconds: int | None = None
    log_group: str = DEFAULT_LOG_GROUP
    wait_timed_out: bool = False

    @property
    def exit_code(self) -> int:
        if self.wait_timed_out:
            return EXIT_WAIT_TIMEOUT
        if self.state == SUCCEEDED:
            return EXIT_SUCCEEDED
        if self.state in FAILED_STATES:
            return EXIT_FAILED
        return EXIT_SUCCEEDED  # started without waiting


def parse_arguments(pairs: Sequence[str]) -> dict[str, str]:
    """``["full_refresh=true", "--x=1"]`` -> ``{"--full_refresh": "true", "--x": "1"}``.

    Glue job arguments are named ``--name``; the dashes may be left out on the command line.
    """
    arguments: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.strip("-"):
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        arguments[key if key.startswith("--") else f"--{key}"] = value
    return arguments


def start_run(client: Any, job_name: str, arguments: Mapping[str, str]) -> str:
    params: dict[str, Any] = {"JobName": job_name}
    if arguments:
        params["Arguments"] = dict(arguments)
    run_id = client.start_job_run(**params)["JobRunId"]
    LOG.info("started %s run %s with arguments %s", job_name, run_id, dict(arguments))
    return run_id


def _result(job_name: str, run: Mapping[str, Any], *, wait_timed_out: bool = False) -> RunResult:
    return RunResult(
        job_name=job_name,
        run_id=run["Id"],
        state=run["JobRunState"],
        error_message=run.get("ErrorMessage"),
        execution_seconds=run.get("ExecutionTime"),
        log_group=run.get("LogGroupName") or DEFAULT_LOG_GROUP,
        wait_timed_out=wait_timed_out,
    )


def describe_run(client: Any, job_name: str, run_id: str) -> RunResult:
    """The run's current state, in one call."""
    run = client.get_job_run(JobName=job_name, RunId=run_id, PredecessorsIncluded=False)
    return _result(job_name, run["JobRun"])


def wait_for_run(
    client: Any,
    job_name: str,
    run_id: str,
    *,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Poll get_job_run until the run ends or ``timeout_seconds`` pass; log each poll."""
    started = clock()
    while True:
        run = client.get_job_run(JobName=job_name, RunId=run_id, PredecessorsIncluded=False)
        run = run["JobRun"]
        elapsed = clock() - started
        LOG.info("%s run %s: %s (elapsed %ds)", job_name, run_id, run["JobRunState"], elapsed)
        if run["JobRunState"] in TERMINAL_STATES:
            return _result(job_name, run)
        if timeout_seconds is not None and elapsed >= timeout_seconds:
            LOG.warning("stopped waiting after %ds; the run goes on", elapsed)
            return _result(job_name, run, wait_timed_out=True)
        sleep(poll_seconds)


def console_url(region: str, job_name: str, run_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}"
        f"#/job/{quote(job_name, safe='')}/run/{run_id}"
    )


def continuous_log_group(client: Any, job_name: str) -> str | None:
    """The job's continuous-logging group, when its default arguments turn that on."""
    defaults = client.get_job(JobName=job_name)["Job"].get("DefaultArguments", {})
    if defaults.get("--enable-continuous-cloudwatch-log", "false").lower() != "true":
        return None
    return defaults.get("--continuous-log-logGroup", "/aws-glue/jobs/logs-v2")


def format_result(result: RunResult, region: str, continuous_group: str | None = None) -> str:
    if result.wait_timed_out:
        headline = f"{result.state} (still running: stopped waiting)"
    elif result.state in TERMINAL_STATES:
        headline = result.state
    else:
        headline = f"{result.state} (started; not waiting)"
    lines = [
        f"job:     {result.job_name}",
        f"run id:  {result.run_id}",
        f"state:   {headline}",
    ]
    if result.execution_seconds is not None and result.state in TERMINAL_STATES:
        lines.append(f"time:    {result.execution_seconds} s")
    if result.error_message:
        lines.append(f"error:   {result.error_message}")
    group, run = result.log_group.rstrip("/"), result.run_id
    # Glue 5 names a run's streams <run id>-driver and <run id>-executor<N> ("Logging for AWS
    # Glue jobs"): a stream named the bare run id does not exist.
    lines.append(f"logs:    {group}/output and {group}/error, log streams {run}-driver and")
    lines.append(f"         {run}-executor<N>")
    if continuous_group:
        lines.append(f"         {continuous_group} (continuous logging), stream {run}")
    lines.append(f"         aws logs tail {group}/output --log-stream-names {run}-driver")
    lines.append(f"         aws logs tail {group}/error --log-stream-name-prefix {run}")
    lines.append(f"console: {console_url(region, result.job_name, result.run_id)}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = ops_cli.parser(
        "Start a run of a Glue job (the Terraform output glue_job_name), wait for it with "
        "progress lines, and print its final state, run id and where its logs are. "
        "Exit 0 on SUCCEEDED, 1 when the run fails (FAILED, TIMEOUT, ERROR, STOPPED), "
        "2 when it cannot start, 3 when --timeout-minutes passes first.",
        wait=(
            30.0,
            60.0,
            "stop waiting (exit 3) after this long; the run itself is not stopped and keeps "
            "the job's own Timeout",
        ),
    )
    parser.add_argument("--job-name", required=True, help="Glue job name")
    parser.add_argument(
        "--arguments",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="job arguments for this run, e.g. full_refresh=true; the leading -- of Glue "
        "argument names may be left out (or write --arguments=--full_refresh=true)",
    )
    parser.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait for the run to end (default); --no-wait starts it, prints its id and returns",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, client: Any = None) -> int:
    """Run the CLI; ``client`` (a boto3 Glue client) is for tests."""
    args = ops_cli.parse(build_parser(), argv, check=lambda a: parse_arguments(a.arguments))
    try:
        client = ops_cli.client("glue", args, client)
        region = client.meta.region_name
        run_id = start_run(client, args.job_name, parse_arguments(args.arguments))
    except (ClientError, BotoCoreError) as err:
        print(f"error: could not start a run of {args.job_name}: {err}", file=sys.stderr)
        return EXIT_NOT_STARTED
    try:
        if args.wait:
            result = wait_for_run(
                client,
                args.job_name,
                run_id,
                poll_seconds=args.poll_seconds,
                timeout_seconds=args.timeout_minutes * 60,
            )
        else:
            result = describe_run(client, args.job_name, run_id)
        continuous_group = continuous_log_group(client, args.job_name)
    except (ClientError, BotoCoreError) as err:
        print(
            f"error: run {run_id} of {args.job_name} started, but reading its state failed: {err}",
            file=sys.stderr,
        )
        return EXIT_NOT_STARTED
    print(format_result(result, region, continuous_group))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
