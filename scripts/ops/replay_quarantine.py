"""Put quarantined landing content back through the ingestion, once the producer or the
contract has been fixed.

    python scripts/ops/replay_quarantine.py --bronze-root lake/bronze [--dry-run]
    python scripts/ops/replay_quarantine.py --bucket <bronze bucket> [--dry-run]

Quarantine items (in the bronze bucket under ``--quarantine-prefix``, as the Lambda writes them):

- a whole file, ``<stem>.<hash8>.json`` with its ``.error.json`` sidecar: its bytes go through
  the Lambda's own ``plan`` under the identity of the original upload, so its records land in
  the bronze file that upload would have had (``bronze_key`` of its key and ETag/version) and its
  bad records, now that it can be split, in that upload's ``.records.jsonl``;
- rejected records, ``<stem>.<hash8>.records.jsonl``: each line's text is converted again; the
  records that now pass together go to ONE bronze file per item, named from the item's identity
  (``bronze_key`` of the source key and ``<ETag or version>#replayed-records``), with the
  original lineage (event time, bucket, key); a record refused only beside the others (a field
  whose type clashes with theirs) and accepted alone goes to a bronze file of its own
  (``...#replayed-record-<n>``, n its position in the upload), which the job conforms like any
  other upload; those still bad alone stay in the item;
- ``.superseded.json`` records hold no content: reported, never replayable.

After a replay that wrote something, the marker ``<item key>.replayed.json`` says what went
where (bronze key, rows, records still bad with their reasons). The item itself is never
changed or deleted: nothing is lost. An item whose marker lists no record still bad is done
and skipped; one with records still bad is converted again next time: when the outcome is the
one its marker records, nothing is written and the item counts as already replayed; when more
records pass (the contract was fixed), it rewrites the same bronze objects with the same or
more rows: nothing is doubled (every key is a function of the item, and the job's dedup keeps
one row per car and day even when it re-reads the file).

``--dry-run`` reports the same without writing (what a replay would create, such as the records
item of a file that can now be split, is followed in memory). Prints one JSON report on stdout
and its accounting line on stderr: items seen = replayed + already replayed + still bad + not
replayable; records read = records to bronze + records still bad. Exit codes: 0 done; 1 the
replay failed (no AWS credentials, access denied, a bronze folder that cannot be written); 2 a
usage error; 130 interrupted. S3 runs use your AWS credentials (boto3), in ``--region`` if
given: s3:ListBucket on the bronze bucket, s3:GetObject on the quarantine prefix, s3:PutObject
on both prefixes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import local_cli
import local_runtime
from ingest import convert, core, keys
from ingest.payload import BadContent, Payload

RECORDS_SUFFIX = ".records.jsonl"
SIDECAR_SUFFIX = ".error.json"
MARKER_SUFFIX = ".replayed.json"


class S3Bucket(core.S3Store):
    """The Lambda's store plus the listing that replay needs (boto3, your credentials)."""

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


class DryRunStore:
    """A store's reads, with the puts kept in memory: a dry run follows what it would write."""

    def __init__(self, store) -> None:
        self.store, self.written = store, {}

    def keys(self, bucket: str, prefix: str) -> list[str]:
        mine = [k for b, k in self.written if b == bucket and k.startswith(prefix)]
        return sorted(set(self.store.keys(bucket, prefix)) | set(mine))

    def get(self, bucket: str, key: str) -> bytes:
        if (bucket, key) in self.written:
            return self.written[bucket, key]
        return self.store.get(bucket, key)

    def put(self, bucket: str, key: str, body, content_type: str) -> None:
        """Kept as bytes (a quarantine's lines come as a `core.Stream` of chunks)."""
        self.written[bucket, key] = body if isinstance(body, bytes) else b"".join(body)


def _source(lineage: dict[str, Any]) -> tuple[core.SourceObject, str]:
    source = core.SourceObject(
        bucket=lineage["source_bucket"],
        key=lineage["source_key"],
        event_time=core.parse_event_time(lineage["event_time"]),
        etag=lineage.get("etag"),
        version_id=lineage.get("version_id"),
    )
    return source, source.version_id or source.etag or ""


def _replay_file(store, bucket: str, key: str, config: core.Config) -> tuple[dict, list]:
    sidecar = json.loads(store.get(bucket, key + SIDECAR_SUFFIX))
    source, identity = _source(sidecar)
    outcome, puts = core.plan(store.get(bucket, key), source, config, identity)
    if "error_key" in outcome:  # still cannot be split: the item stays as it is
        return {"status": "still_bad", "reason": outcome["reason"]}, []
    report = {"status": "replayed", "source_key": source.key}
    if outcome["status"] == "processed":
        report.update(bronze_key=outcome["target_key"], rows=outcome["rows"])
    if "quarantine_key" in outcome:
        report.update(
            records_key=outcome["quarantine_key"],
            records_quarantined=outcome["quarantined_records"],
        )
    return report, puts


def _replay_records(store, bucket: str, key: str, config: core.Config) -> tuple[dict, list]:
    lines = [json.loads(line) for line in store.get(bucket, key).splitlines() if line.strip()]
    items, still_bad = [], []
    for line in lines:
        try:
            (item,) = Payload(line["text"].encode("utf-8")).items()
        except (BadContent, ValueError) as exc:  # not one record, or still not parsable
            still_bad.append({"record": line["record"], "reason": getattr(exc, "reason", str(exc))})
            continue
        items.append(item._replace(index=line["record"]))
    table, rejected = convert.convert(items)
    source, identity = _source(lines[0]) if lines else (None, "")
    puts, alone = [], []
    whole = {item.index: item for item in items}  # a rejected item comes back without its value
    for rejected_item, reason in rejected:
        item = whole[rejected_item.index]
        single, refused = convert.convert([item]) if table is not None else (None, [])
        if single is None:  # bad alone too (or nothing else passed: the reason is its own)
            still_bad.append({"record": item.index, "reason": (refused or [(item, reason)])[0][1]})
            continue
        put = core.bronze_put(single, source, f"{identity}#replayed-record-{item.index}", config)
        puts.append(put)
        alone.append({"record": item.index, "bronze_key": put.key, "rows": single.num_rows})
    report: dict[str, Any] = {"status": "still_bad" if table is None else "replayed"}
    report["still_bad"] = sorted(still_bad, key=lambda bad: bad["record"])
    if table is None:
        return report, []
    put = core.bronze_put(table, source, f"{identity}#replayed-records", config)
    report.update(source_key=source.key, bronze_key=put.key, rows=table.num_rows)
    if alone:
        report["replayed_alone"] = alone
        report["rows"] += len(alone)
    return report, [put, *puts]


def _replayable(key: str, present: set[str]) -> bool:
    """Items: superseded records, rejected records, whole copies (once their sidecar exists)."""
    if key.endswith((".superseded.json", RECORDS_SUFFIX)):
        return True
    return key + SIDECAR_SUFFIX in present


def _replay_item(store, config: core.Config, key: str, present: set[str]) -> dict:
    if key.endswith(".superseded.json"):
        return {"status": "not_replayable", "reason": "superseded: no content was kept"}
    marker_key = key + MARKER_SUFFIX
    earlier = None
    if marker_key in present:
        earlier = json.loads(store.get(config.bronze_bucket, marker_key))
        if not earlier.get("still_bad"):
            return {"status": "already_replayed"}
    replay_item = _replay_records if key.endswith(RECORDS_SUFFIX) else _replay_file
    report, puts = replay_item(store, config.bronze_bucket, key, config)
    marker = {k: v for k, v in report.items() if k != "status"}
    if marker == earlier:  # the outcome an earlier replay wrote: nothing to do this time
        return {"status": "already_replayed", "rows": 0, "still_bad": report["still_bad"]}
    if puts:
        for put in puts:
            store.put(config.bronze_bucket, *put)
        body = json.dumps(marker, indent=2, sort_keys=True).encode() + b"\n"
        store.put(config.bronze_bucket, marker_key, body, "application/json")
    return report


def replay(store, config: core.Config, *, dry_run: bool = False) -> dict[str, Any]:
    """Replays every quarantine item under the config's quarantine prefix; the report of what
    this replay did (items done by an earlier one count as already replayed)."""
    bucket, reports, seen = config.bronze_bucket, [], set()
    store = DryRunStore(store) if dry_run else store
    while True:  # items that a replay creates (a file's bad records) are replayed in the same run
        present = set(store.keys(bucket, config.quarantine_prefix + "/"))
        todo = sorted(k for k in present - seen if _replayable(k, present))
        if not todo:
            break
        seen.update(todo)
        for key in todo:
            reports.append({"item": key, **_replay_item(store, config, key, present)})
    totals: dict[str, int] = {}
    for report in reports:
        totals[report["status"]] = totals.get(report["status"], 0) + 1
    rows = sum(r.get("rows", 0) for r in reports)
    report = {"dry_run": dry_run, "items": reports, "totals": totals, "rows_to_bronze": rows}
    return {**report, "accounting": accounting(reports)}


def accounting(reports: list[dict]) -> dict[str, Any]:
    """What this replay did, in figures that add up: items by status; the records it read (a
    split file's records once: its bad ones are counted in the records item it made) = records
    to bronze + records still bad, by reason."""
    statuses = Counter(r["status"] for r in reports)
    replayed = [r for r in reports if r["status"] == "replayed"]
    to_bronze = sum(r.get("rows", 0) for r in replayed)
    still_bad = Counter(
        bad["reason"]
        for r in reports
        if r["status"] != "already_replayed"
        for bad in r.get("still_bad", [])
    )
    whole_still_bad = sum(1 for r in reports if r["status"] == "still_bad" and "reason" in r)
    return {
        "items_seen": len(reports),
        "items": dict(sorted(statuses.items())),
        "records_read": to_bronze + sum(still_bad.values()),
        "records_to_bronze": to_bronze,
        "records_still_bad": dict(sorted(still_bad.items())),
        "files_still_unsplittable": whole_still_bad,
    }


def accounting_line(figures: dict[str, Any]) -> str:
    items = " + ".join(f"{n} {status}" for status, n in figures["items"].items()) or "0"
    bad = figures["records_still_bad"]
    reasons = "; ".join(f"{n}: {reason}" for reason, n in bad.items())
    return (
        f"accounting: {figures['items_seen']} items seen = {items}; {figures['records_read']}"
        f" records read = {figures['records_to_bronze']} to bronze + {sum(bad.values())} still"
        f" bad"
        + (f" ({reasons})" if reasons else "")
        + f"; {figures['files_still_unsplittable']} files still not splittable into records"
    )


def _environment_error(exc: Exception) -> str | None:
    """One line for what boto3 raises when credentials, access or the network are missing."""
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return "no AWS credentials found: configure them (AWS_PROFILE, aws configure, ...)"
    if name == "NoRegionError":
        return "no AWS region configured: pass --region"
    if name in ("ClientError", "EndpointConnectionError", "ProfileNotFound"):
        return str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        epilog=local_cli.EXIT_CODES_HELP.replace(
            "environment, Spark, another run live",
            "no AWS credentials, access denied, a folder not writable",
        ),
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bronze-root", type=Path, help="a local bronze root folder")
    where.add_argument("--bucket", help="the bronze bucket on S3")
    parser.add_argument(
        "--region", help="AWS region of --bucket (default: the AWS SDK's configuration)"
    )
    parser.add_argument("--bronze-prefix", default=keys.DEFAULT_BRONZE_PREFIX)
    parser.add_argument("--quarantine-prefix", default=keys.DEFAULT_QUARANTINE_PREFIX)
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    local_cli.add_debug_flag(parser)
    args = parser.parse_args(argv)

    def body() -> int:
        if args.bronze_root is not None:
            if not args.bronze_root.is_dir():
                raise local_cli.UsageError(f"--bronze-root {args.bronze_root} is not a folder")
            bucket = local_runtime.LOCAL_BRONZE_BUCKET
            store = local_runtime.LocalStore({bucket: args.bronze_root})
        else:
            import boto3

            bucket, store = args.bucket, S3Bucket(boto3.client("s3", region_name=args.region))
        config = core.Config(bucket, args.bronze_prefix, args.quarantine_prefix)
        try:
            report = replay(store, config, dry_run=args.dry_run)
        except Exception as exc:
            if (line := _environment_error(exc)) is None:
                raise
            raise local_cli.ToolError(line) from exc
        print(json.dumps(report, indent=2, ensure_ascii=False))
        print(accounting_line(report["accounting"]), file=sys.stderr)
        return 0

    return local_cli.run_main("replay_quarantine", body, args.debug)


if __name__ == "__main__":
    sys.exit(main())
