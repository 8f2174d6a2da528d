"""Object keys, each a pure function of the source object (a retried event rewrites the same
objects, never adds a copy)."""

import datetime as dt
import functools
import hashlib
import json
import re
from pathlib import PurePosixPath

DEFAULT_BRONZE_PREFIX = "car_data"
DEFAULT_QUARANTINE_PREFIX = "quarantine"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def clean_prefix(prefix: str) -> str:
    cleaned = prefix.strip().strip("/")
    if not cleaned:
        raise ValueError(f"invalid key prefix {prefix!r}")
    return cleaned


def is_json_key(key: str) -> bool:
    return key.lower().endswith(".json")


def _split(name: str) -> tuple[str, str]:
    """(the stem, the ``.json`` suffix as written, or "")."""
    cut = len(name) - len(".json") if is_json_key(name) else len(name)
    return name[:cut], name[cut:]


def bronze_key(
    source_key: str,
    etag_or_version: str,
    event_time: dt.datetime,
    prefix: str = DEFAULT_BRONZE_PREFIX,
    *,
    source_bucket: str = "",
) -> str:
    """``{prefix}/ingest_year=YYYY/ingest_month=MM/ingest_day=DD/<stem>-<hash16>.parquet``.

    ``<stem>`` is the sanitised file name of the key (never starting with ``_`` or ``.``, which
    Spark and the Glue crawler treat as hidden); ``<hash16>`` is a SHA-256 prefix of (bucket,
    key, versionId or ETag).
    """
    day = as_utc(event_time)
    stem = _split(PurePosixPath(source_key).name)[0]
    stem = _UNSAFE_NAME_CHARS.sub("_", stem).lstrip("._")[:80] or "object"
    identity = json.dumps([source_bucket, source_key, etag_or_version.strip('"')])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return (
        f"{clean_prefix(prefix)}/ingest_year={day.year:04d}/ingest_month={day.month:02d}/"
        f"ingest_day={day.day:02d}/{stem}-{digest}.parquet"
    )


def quarantine_key(
    source_key: str,
    etag_or_version: str,
    event_time: dt.datetime,
    prefix: str = DEFAULT_QUARANTINE_PREFIX,
    suffix: str | None = None,
) -> str:
    """``{prefix}/YYYY-MM-DD/<source dir>/<stem>.<hash8><suffix>``; ``<hash8>`` is a SHA-256
    prefix of the versionId or ETag, so two uploads of one key on one day keep an entry each.

    The suffix is the source's own for the copy of a file that cannot be split into records
    (its sidecar is this key + ``.error.json``); ``records_key`` (the rejected records of a file
    whose others went to bronze, one JSON line each) and ``superseded_key`` (the record of an
    upload overwritten before its event was processed) give theirs.
    """
    folder, slash, name = source_key.rpartition("/")
    stem, own = _split(name)
    digest = hashlib.sha256(etag_or_version.strip('"').encode("utf-8")).hexdigest()[:8]
    day = f"{as_utc(event_time):%Y-%m-%d}"
    return f"{clean_prefix(prefix)}/{day}/{folder}{slash}{stem}.{digest}{suffix or own}"


records_key = functools.partial(quarantine_key, suffix=".records.jsonl")
superseded_key = functools.partial(quarantine_key, suffix=".superseded.json")
