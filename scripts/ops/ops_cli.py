"""The command line the ops scripts share (run_glue_job, upload_test_data, validate_silver_athena):
their AWS options, logging, and the boto3 client (or the one a test hands in)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from typing import Any

import boto3


def parser(
    description: str, *, wait: tuple[float, float, str] | None = None
) -> argparse.ArgumentParser:
    """A parser with ``--region``; for the scripts that wait for AWS, ``wait`` = (default
    ``--poll-seconds``, default ``--timeout-minutes``, what the timeout does)."""
    cli = argparse.ArgumentParser(description=description)
    cli.add_argument("--region", help="AWS region (default: the AWS SDK's configuration)")
    if wait is not None:
        poll_seconds, minutes, what = wait
        cli.add_argument(
            "--poll-seconds",
            type=float,
            default=poll_seconds,
            help="seconds between two status checks (default: %(default)s)",
        )
        cli.add_argument(
            "--timeout-minutes", type=float, default=minutes, help=f"{what} (default: %(default)s)"
        )
    return cli


def parse(
    cli: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    check: Callable[[argparse.Namespace], object] | None = None,
) -> argparse.Namespace:
    """The parsed arguments, with INFO logging set up for the script's progress lines; a
    ValueError from ``check(args)`` is a usage error (exit 2 with the message)."""
    args = cli.parse_args(argv)
    try:
        if check is not None:
            check(args)
    except ValueError as err:
        cli.error(str(err))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return args


def client(service: str, args: argparse.Namespace, given: Any = None) -> Any:
    """``given`` (a test's client) or a boto3 client for ``service`` in ``--region``."""
    return given or boto3.client(service, region_name=args.region)
