"""A local S3 API for the tests: moto's server in this process, on 127.0.0.1 and a free port,
with every request it answers recorded (method, bucket, key, query, copy source, status, bytes
sent and received), and the IAM authorization each recorded request needs.

moto's `ThreadedMotoServer` serves `DomainDispatcherApplication` with werkzeug; this server does
the same with that application wrapped by a recorder (moto's own recorder keeps no status code
and stores every request body, whole Parquet files included).
"""

from __future__ import annotations

import io
import logging
import re
import threading
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Request:
    """One request the server answered, as S3 sees it."""

    method: str
    bucket: str
    key: str  # "" for a request on the bucket
    query: tuple[tuple[str, str], ...]
    copy_source: str | None  # "bucket/key" of a COPY or a part copy
    status: int
    deleted: tuple[str, ...] = ()  # the keys of a DeleteObjects request
    length: int = 0  # Content-Length of the request body (bytes sent to S3)
    response_length: int = 0  # bytes of the response body (what S3 sent back; 0 for a HEAD)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def kind(self) -> str:
        """The S3 operation, by the names the cost tables use."""
        q, m = self.params, self.method
        if m == "GET" and not self.key:
            if "uploads" in q:
                return "LIST_UPLOADS"
            return "GET_LOCATION" if "location" in q else "LIST"
        if m == "HEAD" and not self.key:
            return "HEAD_BUCKET"
        if "uploadId" in q or "uploads" in q:
            return "MULTIPART"
        if m == "PUT":
            return "COPY" if self.copy_source else "PUT"
        if m == "POST" and "delete" in q:
            return "DELETE"  # DeleteObjects, one request for many keys
        return {"GET": "GET", "HEAD": "HEAD", "DELETE": "DELETE"}.get(m, m)

    def __str__(self) -> str:
        query = urllib.parse.urlencode(self.query)
        text = f"{self.method} {self.status} s3://{self.bucket}/{self.key}"
        text += f"?{query}" if query else ""
        text += f" <- {self.copy_source}" if self.copy_source else ""
        return text + (f" keys={list(self.deleted)}" if self.deleted else "")


class _Recorder:
    """WSGI middleware: records each S3 request with the status the application answered."""

    def __init__(self, app) -> None:
        self.app = app
        self.requests: list[S3Request] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        bucket, _, key = path.lstrip("/").partition("/")
        query = tuple(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), True))
        deleted: tuple[str, ...] = ()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if environ["REQUEST_METHOD"] == "POST" and "delete" in dict(query):
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            deleted = tuple(re.findall(r"<Key>(.*?)</Key>", body.decode("utf-8", "replace")))
        source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
        if source:
            source = urllib.parse.unquote(source.split("?")[0]).lstrip("/")
        answered = {}

        def start(status, headers, exc_info=None):
            answered["status"] = int(status.split(" ", 1)[0])
            answered["length"] = next(
                (int(v) for k, v in headers if k.lower() == "content-length"), None
            )
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if environ["REQUEST_METHOD"] == "HEAD":
            answered["length"] = 0  # a HEAD's Content-Length is the object's, no body is sent
        elif answered.get("length") is None:  # no Content-Length: count the body itself
            body = list(body)
            answered["length"] = sum(len(chunk) for chunk in body)
        # moto's data-carrying chunked PUTs report the decoded length; keep what S3 was sent.
        sent = int(environ.get("HTTP_X_AMZ_DECODED_CONTENT_LENGTH") or length)
        request = S3Request(
            environ["REQUEST_METHOD"],
            bucket,
            urllib.parse.unquote(key),
            query,
            source,
            answered.get("status", 0),
            deleted,
            sent,
            answered.get("length") or 0,
        )
        with self.lock:
            self.requests.append(request)
        return body


@dataclass
class S3Server:
    """Start with `start()`; `endpoint` for clients; `requests()` what was answered since the
    last `clear()`."""

    endpoint: str = ""
    _recorder: _Recorder = field(
        default_factory=lambda: _Recorder(DomainDispatcherApplication(create_backend_app))
    )
    _server: object = None
    _thread: threading.Thread | None = None

    def start(self) -> S3Server:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
        self._server = make_server(
            "127.0.0.1", 0, self._recorder, threaded=True, request_handler=MotoRequestHandler
        )
        host, port = self._server.server_address[:2]
        self.endpoint = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        # moto's backends live in this process, shared by every server and mock it starts.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", b""))
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def client(self, service: str = "s3"):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **CREDENTIALS)

    def clear(self) -> None:
        with self._recorder.lock:
            self._recorder.requests.clear()

    def requests(self) -> list[S3Request]:
        with self._recorder.lock:
            return list(self._recorder.requests)

    def objects(self, bucket: str) -> dict[str, str]:
        """Every key of a bucket -> its ETag (what a reader would see)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def by_kind(requests: list[S3Request]) -> dict[str, int]:
    return dict(sorted(Counter(r.kind for r in requests).items()))


# --- What IAM authorizes for each request (the S3 actions of the service authorization reference)
def authorizations(request: S3Request) -> list[tuple[str, str, dict[str, str]]]:
    """(action, resource ARN, condition keys) that the caller's policy must allow; a request this
    does not know raises, so that no request goes unchecked."""
    bucket_arn = f"arn:aws:s3:::{request.bucket}"
    object_arn = f"{bucket_arn}/{request.key}"
    q, m = request.params, request.method
    if not request.key:
        if m == "GET" and "uploads" in q:
            return [("s3:ListBucketMultipartUploads", bucket_arn, {})]
        if m == "GET" and "location" in q:
            return [("s3:GetBucketLocation", bucket_arn, {})]
        if m == "GET" and "versioning" not in q:
            return [("s3:ListBucket", bucket_arn, {"s3:prefix": q.get("prefix", "")})]
        if m == "HEAD":
            return [("s3:ListBucket", bucket_arn, {})]
        if m == "POST" and "delete" in q:
            return [("s3:DeleteObject", f"{bucket_arn}/{k}", {}) for k in request.deleted]
    elif m in ("GET", "HEAD") and "uploadId" in q:
        return [("s3:ListMultipartUploadParts", object_arn, {})]
    elif m in ("GET", "HEAD") and not set(q) - {"partNumber", "versionId"}:
        return [("s3:GetObject", object_arn, {})]
    elif m == "DELETE" and "uploadId" in q:
        return [("s3:AbortMultipartUpload", object_arn, {})]
    elif m == "DELETE" and not q:
        return [("s3:DeleteObject", object_arn, {})]
    elif m in ("PUT", "POST") and set(q) <= {"uploads", "uploadId", "partNumber"}:
        needed = [("s3:PutObject", object_arn, {})]
        if request.copy_source:
            needed.append(("s3:GetObject", f"arn:aws:s3:::{request.copy_source}", {}))
        return needed
    raise ValueError(f"no IAM mapping for {request}")
