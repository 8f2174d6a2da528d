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
  records that now pass go to ONE bronze file per item, named from the item's identity
  (``bronze_key`` of the source key and ``<ETag or version>#replayed-records``), with the
  original lineage (event time, bucket, key); those still bad stay in the item;
- ``.superseded.json`` records hold no content: reported, never replayable.

After a replay that wrote something, the marker ``<item key>.replayed.json`` says what went
where (bronze key, rows, records still bad with their reasons). The item itself is never
changed or deleted: nothing is lost. An item whose marker lists no record still bad is done
and skipped; one with records still bad is replayed in full again next time and rewrites the
same bronze object with the same or more rows: nothing is doubled (every key is a function of
the item, and the job's dedup keeps one row per car and day even when it re-reads the file).

``--dry-run`` reports the same without writing. Prints one JSON report; exits 0, or 2 on a
usage error. S3 runs use your AWS credentials (boto3): s3:ListBucket on the bronze bucket,
s3:GetObject on the quarantine prefix, s3:PutObject on both prefixes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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
    still_bad += [{"record": item.index, "reason": reason} for item, reason in rejected]
    report: dict[str, Any] = {"status": "still_bad" if table is None else "replayed"}
    report["still_bad"] = sorted(still_bad, key=lambda bad: bad["record"])
    if table is None:
        return report, []
    source, identity = _source(lines[0])
    put = core.bronze_put(table, source, f"{identity}#replayed-records", config)
    report.update(source_key=source.key, bronze_key=put.key, rows=table.num_rows)
    return report, [put]


def _replayable(key: str, present: set[str]) -> bool:
    """Items: superseded records, rejected records, whole copies (once their sidecar exists)."""
    if key.endswith((".superseded.json", RECORDS_SUFFIX)):
        return True
    return key + SIDECAR_SUFFIX in present


def _replay_item(store, config: core.Config, key: str, present: set[str], dry_run: bool) -> dict:
    if key.endswith(".superseded.json"):
        return {"status": "not_replayable", "reason": "superseded: no content was kept"}
    marker_key = key + MARKER_SUFFIX
    if marker_key in present and not json.loads(store.get(config.bronze_bucket, marker_key)).get(
        "still_bad"
    ):
        return {"status": "already_replayed"}
    replay_item = _replay_records if key.endswith(RECORDS_SUFFIX) else _replay_file
    report, puts = replay_item(store, config.bronze_bucket, key, config)
    if puts and not dry_run:
        for put in puts:
            store.put(config.bronze_bucket, *put)
        marker = {k: v for k, v in report.items() if k != "status"}
        body = json.dumps(marker, indent=2, sort_keys=True).encode() + b"\n"
        store.put(config.bronze_bucket, marker_key, body, "application/json")
    return report


def replay(store, config: core.Config, *, dry_run: bool = False) -> dict[str, Any]:
    """Replays every quarantine item under the config's quarantine prefix; the report."""
    bucket, reports, seen = config.bronze_bucket, [], set()
    while True:  # items that a replay creates (a file's bad records) are replayed in the same run
        present = set(store.keys(bucket, config.quarantine_prefix + "/"))
        todo = sorted(k for k in present - seen if _replayable(k, present))
        if not todo:
            break
        seen.update(todo)
        for key in todo:
            reports.append({"item": key, **_replay_item(store, config, key, present, dry_run)})
    totals: dict[str, int] = {}
    for report in reports:
        totals[report["status"]] = totals.get(report["status"], 0) + 1
    rows = sum(r.get("rows", 0) for r in reports)
    return {"dry_run": dry_run, "items": reports, "totals": totals, "rows_to_bronze": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bronze-root", type=Path, help="a local bronze root folder")
    where.add_argument("--bucket", help="the bronze bucket on S3")
    parser.add_argument("--bronze-prefix", default=keys.DEFAULT_BRONZE_PREFIX)
    parser.add_argument("--quarantine-prefix", default=keys.DEFAULT_QUARANTINE_PREFIX)
    parser.add_argument("--dry-run", action="store_true", help="report only, write nothing")
    args = parser.parse_args(argv)
    if args.bronze_root is not None:
        if not args.bronze_root.is_dir():
            print(f"error: {args.bronze_root} is not a folder", file=sys.stderr)
            return 2
        bucket = local_runtime.LOCAL_BRONZE_BUCKET
        store = local_runtime.LocalStore({bucket: args.bronze_root})
    else:
        bucket, store = args.bucket, S3Bucket()
    config = core.Config(bucket, args.bronze_prefix, args.quarantine_prefix)
    print(json.dumps(replay(store, config, dry_run=args.dry_run), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
