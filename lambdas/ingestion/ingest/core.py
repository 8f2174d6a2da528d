"""One landing object -> its bronze file and quarantine entries: the one code path of the
Lambda, of local runs (``local_runtime.py``) and of replays (``replay_quarantine.py``).
``plan`` is pure (bytes in, the objects to put out; the
rejected records' quarantine is a ``Stream``, its lines made as the store writes them);
``process_object`` reads, plans and puts. Bad content is an outcome; store errors raise, so
Lambda's retries and failure destination take over."""

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from ingest import keys
from ingest.convert import convert, to_parquet_bytes, with_lineage
from ingest.payload import BadContent, Payload

logger = logging.getLogger("handler")  # the Lambda's logger, whichever module logs

SUPERSEDED_REASON = (
    "superseded: the landing object was overwritten before this event was processed; "
    "its content is no longer readable"
)


class SourceChanged(Exception):
    """The landing object no longer has the ETag the event announced (it was overwritten)."""


PART_BYTES = 8 * 2**20  # a part of a streamed upload (S3 takes 5 MiB or more, but the last)


def _parts(chunks: Iterable[bytes]) -> Iterator[bytes]:
    held: list[bytes] = []
    size = 0
    for chunk in chunks:
        held.append(chunk)
        size += len(chunk)
        if size >= PART_BYTES:
            yield b"".join(held)
            held, size = [], 0
    if held:
        yield b"".join(held)


class Stream:
    """A body produced as it is read, every time it is read (``chunks()`` yields its bytes)."""

    def __init__(self, chunks: Callable[[], Iterator[bytes]]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()


class S3Store:
    """The Lambda's store (``local_runtime.py``'s ``LocalStore`` has the same methods);
    it creates its boto3 client when first used, not at import."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def get(self, bucket: str, key: str, *, if_match: str | None = None) -> bytes:
        """The object's bytes. With ``if_match`` (the event's ETag) S3 returns exactly that
        upload, or 412 (``SourceChanged``) if the key was overwritten since; reading the event's
        VersionId would need s3:GetObjectVersion, left out of the role on purpose."""
        params = {"Bucket": bucket, "Key": key}
        if if_match is not None:
            params["IfMatch"] = '"' + if_match.strip('"') + '"'  # an HTTP entity tag is quoted
        try:
            response = self.client.get_object(**params)
        except Exception as exc:  # botocore's ClientError (botocore is not imported here)
            error = getattr(exc, "response", None) or {}
            status = error.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.get("Error", {}).get("Code")
            if if_match is not None and (code == "PreconditionFailed" or status == 412):
                raise SourceChanged(f"s3://{bucket}/{key} no longer has ETag {if_match}") from exc
            raise
        with response["Body"] as body:
            return body.read()

    def put(self, bucket: str, key: str, body: bytes | Stream, content_type: str) -> None:
        """One PutObject, or a stream larger than a part as a multipart upload, one part in
        memory at a time. An upload an error leaves incomplete is aborted by the bucket's
        lifecycle rule (the role may only put objects)."""
        parts = _parts(body) if isinstance(body, Stream) else iter([body])
        first, second = next(parts, b""), next(parts, None)
        if second is None:
            self.client.put_object(Bucket=bucket, Key=key, Body=first, ContentType=content_type)
            return
        where = {"Bucket": bucket, "Key": key}
        upload = self.client.create_multipart_upload(**where, ContentType=content_type)
        where["UploadId"], done = upload["UploadId"], []
        for number, part in enumerate(itertools.chain([first, second], parts), 1):
            etag = self.client.upload_part(**where, PartNumber=number, Body=part)["ETag"]
            done.append({"PartNumber": number, "ETag": etag})
        self.client.complete_multipart_upload(**where, MultipartUpload={"Parts": done})


@dataclasses.dataclass(frozen=True)
class Config:
    bronze_bucket: str
    bronze_prefix: str = keys.DEFAULT_BRONZE_PREFIX
    quarantine_prefix: str = keys.DEFAULT_QUARANTINE_PREFIX

    def __post_init__(self) -> None:
        if not self.bronze_bucket:
            raise ValueError("the bronze bucket is not set (BRONZE_BUCKET)")
        bronze, quarantine = map(keys.clean_prefix, (self.bronze_prefix, self.quarantine_prefix))
        shorter, longer = sorted([bronze + "/", quarantine + "/"], key=len)
        if longer.startswith(shorter):  # the quarantine stays outside the crawled table path
            raise ValueError("BRONZE_PREFIX and QUARANTINE_PREFIX must not overlap")
        object.__setattr__(self, "bronze_prefix", bronze)
        object.__setattr__(self, "quarantine_prefix", quarantine)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        return cls(
            env.get("BRONZE_BUCKET", "").strip(),
            env.get("BRONZE_PREFIX") or keys.DEFAULT_BRONZE_PREFIX,
            env.get("QUARANTINE_PREFIX") or keys.DEFAULT_QUARANTINE_PREFIX,
        )


@dataclasses.dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str  # decoded
    event_time: dt.datetime
    etag: str | None = None
    version_id: str | None = None

    @classmethod
    def from_event_record(cls, record: Mapping[str, Any]) -> "SourceObject":
        obj = record["s3"]["object"]
        return cls(
            bucket=record["s3"]["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            event_time=parse_event_time(record["eventTime"]),
            etag=(obj.get("eTag") or "").strip('"') or None,
            version_id=obj.get("versionId") or None,
        )

    def lineage(self, identity: str) -> dict[str, Any]:
        """What every quarantine entry says about where its content came from."""
        return {
            "source_bucket": self.bucket,
            "source_key": self.key,
            "etag": self.etag or (None if self.version_id else identity or None),
            "version_id": self.version_id,
            "event_time": keys.as_utc(self.event_time).isoformat().replace("+00:00", "Z"),
        }


def parse_event_time(value: str) -> dt.datetime:
    """S3 ``eventTime`` (``2025-10-29T11:00:05.123Z``) -> aware UTC datetime."""
    return keys.as_utc(dt.datetime.fromisoformat(value.strip().upper()))


class Put(NamedTuple):
    key: str
    body: bytes | Stream
    content_type: str


def _json(value: Any, indent: int | None = 2) -> bytes:
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def bronze_put(table: Any, source: SourceObject, identity: str, config: Config) -> Put:
    """The bronze file of ``table`` (the lineage added), named from the source and identity."""
    lineage = {"source_bucket": source.bucket, "source_file": source.key}
    table = with_lineage(table, ingestion_timestamp=source.event_time, **lineage)
    key = keys.bronze_key(
        source.key, identity, source.event_time, config.bronze_prefix, source_bucket=source.bucket
    )
    return Put(key, to_parquet_bytes(table), "application/vnd.apache.parquet")


def plan(raw: bytes, source: SourceObject, config: Config, identity: str) -> tuple[dict, list[Put]]:
    """The outcome of converting ``raw`` and the objects to put, in order (nothing written)."""
    outcome: dict[str, Any] = {"source_bucket": source.bucket, "source_key": source.key}
    outcome.update(status="quarantined", target_bucket=config.bronze_bucket)
    args = (source.key, identity, source.event_time, config.quarantine_prefix)
    try:
        payload = Payload(raw)
        table, rejected = convert(payload.items())
    except BadContent as exc:  # the copy first: a sidecar always describes a copy that exists
        key = keys.quarantine_key(*args)
        sidecar = {"reason": exc.reason, **source.lineage(identity), "size_bytes": len(raw)}
        puts = [Put(key, raw, "application/octet-stream")]
        puts.append(
            Put(f"{key}.error.json", _json({**sidecar, "quarantine_key": key}), "application/json")
        )
        return {**outcome, "target_key": key, "error_key": puts[1].key, "reason": exc.reason}, puts
    puts = []
    if rejected:  # put before the bronze file, which then never exists without them
        lineage = source.lineage(identity)

        def lines() -> Iterator[bytes]:  # one JSON line per record, made as the put reads it
            for item, reason in rejected:
                text = payload.text[item.start : item.end]
                where = {"record": item.index, "line": payload.line_of(item.start)}
                yield _json({**lineage, **where, "reason": reason, "text": text}, None)

        puts.append(Put(keys.records_key(*args), Stream(lines), "application/x-ndjson"))
        outcome.update(quarantined_records=len(rejected), quarantine_key=puts[0].key)
    if table is None:
        return {**outcome, "target_key": puts[0].key, "reason": rejected[0][1]}, puts
    puts.append(bronze_put(table, source, identity, config))
    outcome.update(status="processed", target_key=puts[-1].key, rows=table.num_rows)
    return {**outcome, "bytes": len(puts[-1].body)}, puts


def process_object(store: Any, source: SourceObject, config: Config) -> dict[str, Any]:
    """Converts one landing object; returns a JSON-able outcome with ``status`` processed |
    quarantined | skipped. Anything but bad content (store errors) raises."""
    outcome: dict[str, Any] = {"source_bucket": source.bucket, "source_key": source.key}
    if not keys.is_json_key(source.key):
        logger.info(json.dumps({"message": "skipped: not a .json key", **outcome}))
        return {"status": "skipped", **outcome, "reason": "not a .json key"}
    started = time.perf_counter()
    try:  # without an eTag (local runs) there is nothing to match: read what is there
        raw = store.get(source.bucket, source.key, if_match=source.etag)
    except SourceChanged:  # not an error: no retry could read it; the newer upload has its event
        identity = source.version_id or source.etag or ""
        key = keys.superseded_key(source.key, identity, source.event_time, config.quarantine_prefix)
        record = {"reason": SUPERSEDED_REASON, **source.lineage(""), "quarantine_key": None}
        store.put(config.bronze_bucket, key, _json(record), "application/json")
        outcome.update(status="skipped", reason=SUPERSEDED_REASON, etag=source.etag)
        outcome.update(target_bucket=config.bronze_bucket, error_key=key)
        message, log = "superseded", logger.warning
    else:  # a missing ETag (local runs) is computed as S3 does for a single-part upload
        identity = (
            source.version_id or source.etag or hashlib.md5(raw, usedforsecurity=False).hexdigest()
        )
        outcome, puts = plan(raw, source, config, identity)
        del raw
        for put in puts:
            store.put(config.bronze_bucket, *put)
        message = "converted" if outcome["status"] == "processed" else "quarantined"
        clean = message == "converted" and "quarantine_key" not in outcome
        log = logger.info if clean else logger.warning
    ms = round((time.perf_counter() - started) * 1000, 1)
    log(json.dumps({"message": message, **outcome, "ms": ms}))
    return outcome


def summarize(outcomes: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Outcomes grouped by status: {"processed": [...], "quarantined": [...], "skipped": [...]}."""
    summary: dict[str, list[dict[str, Any]]] = {"processed": [], "quarantined": [], "skipped": []}
    for outcome in outcomes:
        summary[outcome["status"]].append({k: v for k, v in outcome.items() if k != "status"})
    return summary
