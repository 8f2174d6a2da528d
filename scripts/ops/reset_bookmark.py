"""Reset the job bookmark of the silver consolidation Glue job.

    python scripts/ops/reset_bookmark.py --job-name "$(terraform -chdir=terraform output -raw \\
        glue_job_name)" --yes

The bookmark is how the job knows which bronze files it has already processed. After a reset,
the next run reads ALL of bronze again. Exit 0 when the bookmark is reset (or there was none
yet), 1 when you decline, or a run of the job is in progress (its commit would write the old
position back), 2 when the job does not exist or AWS refuses.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("reset_bookmark")

ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "STOPPING", "WAITING"})
EXIT_RESET, EXIT_DECLINED, EXIT_ERROR = 0, 1, 2

WHEN = """\
When to reset it:
  * after the bronze layout or its files changed (a new prefix or partition scheme, files
    moved, rewritten or restored from a backup): the bookmark tracks files by path and
    modification time, so such files could be skipped, or read again;
  * before rebuilding silver through the incremental path, e.g. after silver partitions were
    deleted or restored: the next run reads all of bronze and moves the bookmark to its end.
A run with --full_refresh=true (run_glue_job.py --arguments full_refresh=true) reads all of
bronze without the bookmark and leaves it where it is, so it needs no reset; reset before it
only if the incremental runs after it must start from scratch as well.
Do not reset while a run is in progress (this script refuses), nor out of habit: the next run
reads every bronze file, so it costs as much as the whole history.
"""


def active_runs(client: Any, job_name: str) -> list[str]:
    """Ids of the job's runs that have not ended (newest runs first)."""
    runs = client.get_job_runs(JobName=job_name, MaxResults=25)["JobRuns"]
    return [r["Id"] for r in runs if r["JobRunState"] in ACTIVE_STATES]


def reset(client: Any, job_name: str) -> dict[str, Any] | None:
    """reset_job_bookmark; returns the bookmark entry as it was, or None if there was none."""
    try:
        response = client.reset_job_bookmark(JobName=job_name)
    except ClientError as err:
        # A job that never ran with bookmarks enabled has no bookmark: nothing to reset.
        if err.response["Error"]["Code"] == "EntityNotFoundException":
            LOG.info("no bookmark for %s: %s", job_name, err)
            return None
        raise
    return response.get("JobBookmarkEntry", {})


def format_entry(job_name: str, entry: dict[str, Any] | None) -> str:
    if entry is None:
        return f"job {job_name} has no bookmark yet: nothing to reset"
    return (
        f"bookmark of job {job_name} reset (it was at run {entry.get('Run', '?')}, "
        f"attempt {entry.get('Attempt', '?')}, run id {entry.get('RunId') or '-'}); "
        "the next run reads all of bronze"
    )


def confirm(job_name: str, ask: Callable[[str], str] = input) -> bool:
    try:
        answer = ask(f"Reset the bookmark of {job_name}? The next run reads all bronze [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=(
            "Reset the job bookmark of a Glue job (the Terraform output glue_job_name),\n"
            "so that its next run processes every bronze file again."
        ),
        epilog=WHEN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--job-name", required=True, help="Glue job name")
    parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (CI, scripts)"
    )
    parser.add_argument("--region", help="AWS region (default: the AWS SDK's configuration)")
    return parser


def main(
    argv: Sequence[str] | None = None, *, client: Any = None, ask: Callable[[str], str] = input
) -> int:
    """Run the CLI; ``client`` (a boto3 Glue client) and ``ask`` (the prompt) are for tests."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        client = client or boto3.client("glue", region_name=args.region)
        client.get_job(JobName=args.job_name)  # a typo fails here, with AWS's message
        running = active_runs(client, args.job_name)
    except (ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    if running:
        print(
            f"error: {args.job_name} has a run in progress ({', '.join(running)}); "
            "wait for it to end, then reset",
            file=sys.stderr,
        )
        return EXIT_DECLINED
    if not args.yes and not confirm(args.job_name, ask):
        print("not reset")
        return EXIT_DECLINED
    try:
        entry = reset(client, args.job_name)
    except (ClientError, BotoCoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    print(format_entry(args.job_name, entry))
    return EXIT_RESET


if __name__ == "__main__":
    sys.exit(main())
