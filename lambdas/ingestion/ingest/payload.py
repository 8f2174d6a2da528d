"""Landing bytes -> records, each with its place in the file.

A file is one JSON object, an array of objects, or JSON Lines (concatenated objects too),
UTF-8 with or without BOM. What cannot be split into records raises ``BadContent`` (the file
is quarantined whole): undecodable bytes, an empty file or array, a top-level scalar, a JSON
document (an array, or a first object spanning lines) that does not parse. A file whose first
record ends on its first line, or whose first line does not parse but whose second holds a
record, is JSON Lines and is judged line by line: a line that does not parse is one bad
record, the others go on. After a complete record spanning lines, what does not parse is one
bad record up to the end of the file. A record that is not an object, or that gives a key twice
in one object, is bad alone.
"""

import json
import re
from collections.abc import Iterator
from typing import NamedTuple

from ingest.contract import dotted, json_type

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_error = json.JSONDecodeError
# A ValueError that is not a JSONDecodeError: an integer longer than Python reads (4,300 digits)
_PARSE_ERRORS = (ValueError, RecursionError)


class BadContent(ValueError):
    """The landing object's content cannot be split into records; ``reason`` says why."""

    @property
    def reason(self) -> str:
        return self.args[0]


class Item(NamedTuple):
    """One record of the file: its value (a dict), or the reason it is not a record."""

    index: int  # 0-based position among the file's records
    start: int  # character offsets of its text in the decoded file (-1: built in Python)
    end: int
    value: dict | None
    reason: str | None


def _malformed(exc: Exception, line: int | None = None) -> str:
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"  # the parser's own
    if not isinstance(exc, json.JSONDecodeError):
        return f"unreadable JSON: {str(exc).partition(';')[0]}"
    return f"malformed JSON at line {line or exc.lineno} column {exc.colno}: {exc.msg}"


class Payload:
    """The decoded text of a landing file and the records in it."""

    def __init__(self, raw: bytes) -> None:
        if not raw:
            raise BadContent("empty file (0 bytes)")
        start = len(_BOM) if raw.startswith(_BOM) else 0
        try:
            self.text = str(memoryview(raw)[start:], "utf-8")  # no copy of the bytes first
        except UnicodeDecodeError as exc:
            raise BadContent(f"not valid UTF-8: {exc.reason} at byte {exc.start + start}") from None
        self._line, self._line_pos = 1, 0
        self._twice: tuple[dict, str] | None = None  # the last object of a record to repeat a key
        self._decode = json.JSONDecoder(object_pairs_hook=self._object).raw_decode
        self._first = self._skip(0)
        if self._first == len(self.text):
            raise BadContent("empty file (whitespace only)")

    def _object(self, pairs: list[tuple[str, object]]) -> dict:
        """The parser's object, noting one that gives a key twice (a dict would keep the last
        value silently; JSON leaves open which counts). Of several, the last to close is kept:
        it is in the record (an object dropped by a repeated key closes before the other)."""
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen: set[str] = set()
            self._twice = obj, next(k for k, _ in pairs if k in seen or seen.add(k))
        return obj

    def _skip(self, idx: int) -> int:
        return _WHITESPACE.match(self.text, idx).end()

    def line_of(self, pos: int) -> int:
        """1-based line of a character offset; offsets asked for in increasing order stay O(n)."""
        if pos < self._line_pos:
            self._line, self._line_pos = 1, 0
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def items(self) -> Iterator[Item]:
        text, idx, end = self.text, self._first, len(self.text)
        array, lines, what = text[idx] == "[", False, "record"
        if array:
            idx, what = self._skip(idx + 1), "array element"
            if text.startswith("]", idx):
                raise BadContent("empty array: no records")
        elif text[idx] != "{":
            try:
                value = self._decode(text, idx)[0]
            except _PARSE_ERRORS as exc:
                raise BadContent(_malformed(exc)) from None
            raise BadContent(f"top-level JSON value is {json_type(value)}, not an object or array")
        n = 0
        while array or idx < end:
            try:
                value, stop = self._decode(text, idx)
                item = self._item(n, idx, stop, value, what)
            except _PARSE_ERRORS as exc:
                self._twice = None  # of an object parsed before the error
                if array or not (lines or n or self._record_on_line(self._line_end(idx))):
                    raise BadContent(_malformed(exc)) from None
                lines = lines or not n  # a broken first line before a line holding a record
                # a bad line; or after a record spanning lines, the rest of the file (trimmed)
                stop = self._line_end(idx) if lines else len(text.rstrip(" \t\n\r"))
                reason = self._line_error(idx, stop) if lines else _malformed(exc)
                item = Item(n, idx, stop, None, reason)
            yield item
            if n == 0 and not array:  # JSON Lines: the first record ends on the first line
                lines = lines or text.find("\n", idx, stop) < 0
            n, idx = n + 1, self._skip(stop)
            if array:
                at, idx = idx, self._skip(idx + 1)
                if text.startswith("]", at):
                    if idx == end:
                        return
                    raise BadContent(_malformed(_error("Extra data after the array", text, idx)))
                if not text.startswith(",", at):
                    raise BadContent(_malformed(_error("Expecting ',' or ']'", text, at)))

    def _line_end(self, idx: int) -> int:
        stop = self.text.find("\n", idx)
        return len(self.text) if stop < 0 else stop

    def _record_on_line(self, idx: int) -> bool:
        """Whether the next line after ``idx`` that is not blank starts an object ending on it."""
        idx = self._skip(idx)
        if not self.text.startswith("{", idx):
            return False
        try:
            stop = self._decode(self.text, idx)[1]
        except _PARSE_ERRORS:
            return False
        finally:
            self._twice = None  # a key it repeats is judged with its record
        return self.text.find("\n", idx, stop) < 0

    def _item(self, n: int, start: int, end: int, value: object, what: str) -> Item:
        if self._twice is not None:
            (obj, key), self._twice = self._twice, None
            reason = f"duplicate key {dotted((*_path_to(obj, value), key))!r}"
            return Item(n, start, end, None, reason + ": JSON leaves open which value counts")
        if type(value) is not dict:
            return Item(n, start, end, None, f"{what} {n} is {json_type(value)}, not an object")
        return Item(n, start, end, value, None)

    def _line_error(self, start: int, stop: int) -> str:
        try:
            json.loads(self.text[start:stop])
        except _PARSE_ERRORS as exc:
            return _malformed(exc, self.line_of(start))
        return "JSON nested too deeply"  # the parser overflowed only on the whole text


def _path_to(target: dict, value: object) -> tuple:
    """The path of the object ``target`` inside ``value`` (``None`` steps into a list)."""
    stack: list[tuple[tuple, object]] = [((), value)]
    while stack:
        path, value = stack.pop()
        if value is target:
            return path
        pairs = value.items() if type(value) is dict else ((None, v) for v in value)
        stack += [((*path, k), v) for k, v in pairs if type(v) in (dict, list)]
    return ()
