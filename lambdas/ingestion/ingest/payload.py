"""Landing bytes -> records, each with its place in the file.

A file is one JSON object, an array of objects, or JSON Lines (concatenated objects too),
UTF-8 with or without BOM. What cannot be split into records raises ``BadContent`` (the file
is quarantined whole): undecodable bytes, an empty file or array, a top-level scalar, a JSON
document (array, or an object spanning lines) that does not parse. A file whose first line is
one or more complete JSON values is JSON Lines and is judged line by line: a line that does
not parse is one bad record, the others go on. A record that is not an object is bad alone.
"""

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from ingest.contract import MAX_NESTING_DEPTH, json_type, too_deep

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class BadContent(ValueError):
    """The landing object's content cannot be split into records; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Item(NamedTuple):
    """One record of the file: its value (a dict), or the reason it is not a record."""

    index: int  # 0-based position among the file's records
    start: int  # character offsets of its text in the decoded file (-1: built in Python)
    end: int
    value: dict | None
    reason: str | None


def _malformed(exc: json.JSONDecodeError) -> str:
    return f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"


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
        self._first = _WHITESPACE.match(self.text).end()
        if self._first == len(self.text):
            raise BadContent("empty file (whitespace only)")

    def line_of(self, pos: int) -> int:
        """1-based line of a character offset; offsets asked for in increasing order stay O(n)."""
        if pos < self._line_pos:
            self._line, self._line_pos = 1, 0
        self._line += self.text.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    def items(self) -> Iterator[Item]:
        text, idx = self.text, self._first
        if text[idx] == "[":
            yield from self._array(idx)
        elif text[idx] == "{":
            newline = text.find("\n", idx)
            lines = newline >= 0 and self._complete_line(idx, newline)
            yield from (self._lines if lines else self._document)(idx)
        else:
            value, _ = self._decode(idx)
            raise BadContent(f"top-level JSON value is {json_type(value)}, not an object or array")

    def _decode(self, idx: int) -> tuple[Any, int]:
        try:
            return _DECODER.raw_decode(self.text, idx)
        except json.JSONDecodeError as exc:
            raise BadContent(_malformed(exc)) from None
        except RecursionError:
            raise BadContent("JSON nested too deeply") from None

    def _complete_line(self, idx: int, newline: int) -> bool:
        """Whether the text up to ``newline`` is whole JSON values (then the file is JSON Lines)."""
        try:
            while idx < newline:
                _, idx = _DECODER.raw_decode(self.text, idx)
                idx = _WHITESPACE.match(self.text, idx).end()
        except (json.JSONDecodeError, RecursionError):
            return False
        return idx >= newline

    def _item(self, n: int, start: int, end: int, value: Any, what: str) -> Item:
        if type(value) is not dict:
            return Item(n, start, end, None, f"{what} {n} is {json_type(value)}, not an object")
        # Each level opens a bracket: only a record with many is walked for its depth.
        text = self.text
        if text.count("{", start, end) + text.count("[", start, end) > MAX_NESTING_DEPTH:
            return Item(n, start, end, value, too_deep(value))
        return Item(n, start, end, value, None)

    def _array(self, idx: int) -> Iterator[Item]:
        text, end = self.text, len(self.text)
        idx = _WHITESPACE.match(text, idx + 1).end()
        if text.startswith("]", idx):
            raise BadContent("empty array: no records")
        n = 0
        while True:
            value, stop = self._decode(idx)
            yield self._item(n, idx, stop, value, "array element")
            n += 1
            at = _WHITESPACE.match(text, stop).end()
            sep = text[at : at + 1]
            idx = _WHITESPACE.match(text, at + 1).end()
            if sep == "]":
                break
            if sep != ",":
                raise BadContent(_malformed(json.JSONDecodeError("Expecting ',' or ']'", text, at)))
        if idx != end:
            raise BadContent(
                _malformed(json.JSONDecodeError("Extra data after the array", text, idx))
            )

    def _document(self, idx: int) -> Iterator[Item]:
        n, end = 0, len(self.text)
        while idx < end:
            value, stop = self._decode(idx)
            yield self._item(n, idx, stop, value, "record")
            n += 1
            idx = _WHITESPACE.match(self.text, stop).end()

    def _lines(self, idx: int) -> Iterator[Item]:
        text, end, n = self.text, len(self.text), 0
        while idx < end:
            try:
                value, stop = _DECODER.raw_decode(text, idx)
                item = self._item(n, idx, stop, value, "record")
            except (json.JSONDecodeError, RecursionError):
                # The rest of the line where this value starts is one bad record.
                stop = text.find("\n", idx)
                stop = end if stop < 0 else stop
                item = Item(n, idx, stop, None, self._line_error(idx, stop))
            yield item
            n += 1
            idx = _WHITESPACE.match(text, stop).end()

    def _line_error(self, start: int, stop: int) -> str:
        try:
            _DECODER.decode(self.text[start:stop])
        except json.JSONDecodeError as exc:
            line = self.line_of(start)
            return f"malformed JSON at line {line} column {exc.colno}: {exc.msg}"
        except RecursionError:
            pass
        return "JSON nested too deeply"
