"""Upload local landing files (*.json) to the landing bucket, where they trigger ingestion.

    python scripts/local/generate_telemetry.py --out /tmp/landing --cars 5 --days 3 --seed-example
    python scripts/ops/upload_test_data.py --bucket "$(terraform -chdir=terraform output -raw \\
        landing_bucket_name)" /tmp/landing

A file argument is uploaded as PREFIX + its name; a directory argument uploads every *.json
below it as PREFIX + its path relative to that directory, in sorted order. Exit 0 when every
file is uploaded, 1 when an upload fails, 2 on misuse (a missing path, a file that is not
*.json, nothing to upload, two files for one key).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ops_cli
from botocore.exceptions import BotoCoreError, ClientError

LOG = logging.getLogger("upload_test_data")

SUFFIX = ".json"  # the landing bucket's notification only fires for *.json


def normalize_prefix(prefix: str) -> str:
    """``landing`` -> ``landing/``; ``""`` and ``/`` -> ``""`` (the bucket's root)."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def plan_uploads(paths: Sequence[Path | str], prefix: str) -> list[tuple[Path, str]]:
    """``(local file, object key)`` pairs for the given files and directories, key-sorted.

    Raises ValueError on a missing path, a file that is not *.json, two files for one key, or
    nothing to upload.
    """
    prefix = normalize_prefix(prefix)
    planned: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            pairs = [
                (f.relative_to(path).as_posix(), f)
                for f in sorted(path.rglob(f"*{SUFFIX}"))
                if f.is_file()
            ]
        elif path.is_file():
            if path.suffix != SUFFIX:
                raise ValueError(f"{path} is not a {SUFFIX} file: it would not trigger ingestion")
            pairs = [(path.name, path)]
        else:
            raise ValueError(f"{path} does not exist")
        for relative, file in pairs:
            key = prefix + relative
            if key in planned and planned[key].resolve() != file.resolve():
                raise ValueError(f"{planned[key]} and {file} would both be uploaded as {key}")
            planned[key] = file
    if not planned:
        raise ValueError(f"no {SUFFIX} files in {', '.join(str(p) for p in paths)}")
    return [(planned[key], key) for key in sorted(planned)]


def upload(client: Any, bucket: str, uploads: Sequence[tuple[Path, str]]) -> int:
    """put_object each file; returns the bytes uploaded."""
    total = 0
    for done, (path, key) in enumerate(uploads):
        body = path.read_bytes()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError):
            LOG.error("upload of %s failed after %d of %d files", key, done, len(uploads))
            raise
        LOG.info("uploaded %s -> s3://%s/%s (%d bytes)", path, bucket, key, len(body))
        total += len(body)
    return total


def build_parser() -> argparse.ArgumentParser:
    parser = ops_cli.parser(
        "Upload local landing files (*.json; directories are searched recursively) to the "
        "landing bucket (the Terraform output landing bucket name), where each upload "
        "triggers the ingestion Lambda."
    )
    parser.add_argument("--bucket", required=True, help="landing bucket name")
    parser.add_argument(
        "--prefix",
        default="landing/",
        help="key prefix; must match the prefix the bucket notification filters on, '' for the "
        "bucket's root (default: %(default)s)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be uploaded, upload nothing"
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="file or directory")
    return parser


def main(argv: Sequence[str] | None = None, *, client: Any = None) -> int:
    """Run the CLI; ``client`` (a boto3 S3 client) is for tests."""
    args = ops_cli.parse(build_parser(), argv)
    try:
        uploads = plan_uploads(args.paths, args.prefix)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    destination = f"s3://{args.bucket}/{normalize_prefix(args.prefix)}"
    size = sum(path.stat().st_size for path, _ in uploads)
    if args.dry_run:
        for path, key in uploads:
            print(f"{path} -> s3://{args.bucket}/{key}")
        print(f"dry run: would upload {len(uploads)} files ({size} bytes) to {destination}")
        return 0
    try:
        client = ops_cli.client("s3", args, client)
        uploaded = upload(client, args.bucket, uploads)
    except (ClientError, BotoCoreError) as err:
        print(f"error: upload to {destination} failed: {err}", file=sys.stderr)
        return 1
    print(f"uploaded {len(uploads)} files ({uploaded} bytes) to {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
