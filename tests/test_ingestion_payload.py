"""Landing bytes -> records (``ingest.payload``): the layouts, what cannot be split into
records, a record that is bad alone, and where each record is."""

import pytest
from ingest.payload import BadContent, Payload
from ingestion_helpers import parse


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": 1}', [{"a": 1}]),
        (b' \n[{"a": 1}, {"a": 2.5}]\n', [{"a": 1}, {"a": 2.5}]),
        (b'{"a": 1}\n{"a": 2}\n\n{"a": 3}\n', [{"a": 1}, {"a": 2}, {"a": 3}]),
        (b'{"a": 1}\r\n{"a": 2}', [{"a": 1}, {"a": 2}]),
        (b'{"a": 1}{"a": 2}', [{"a": 1}, {"a": 2}]),  # concatenated objects
        (b'{\n "a": 1\n}\n{\n "a": 2\n}', [{"a": 1}, {"a": 2}]),  # concatenated, pretty
        (b'\xef\xbb\xbf{"city": "S\xc3\xa3o Paulo"}', [{"city": "São Paulo"}]),
        (b'\xef\xbb\xbf[{"a": null}]', [{"a": None}]),
        (b"{}", [{}]),
    ],
)
def test_payload_accepts_object_array_and_json_lines(raw, expected):
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b" \n\t\r\n", "empty file (whitespace only)"),
        (b"\xef\xbb\xbf", "empty file (whitespace only)"),
        (b"[]", "empty array: no records"),
        (b"[ \n ]", "empty array: no records"),
        (b"null", "top-level JSON value is null, not an object or array"),
        (b"42", "top-level JSON value is number, not an object or array"),
        (b"true", "top-level JSON value is boolean, not an object or array"),
        (b"NaN", "top-level JSON value is number, not an object or array"),
        (b"nope", "malformed JSON at line 1 column 1: Expecting value"),
        (b'{"a": 1', "malformed JSON at line 1 column 8: Expecting ',' delimiter"),
        # a document spanning lines (not JSON Lines) that does not parse cannot be split
        (b'{"a": 1,\n "b": }', "malformed JSON at line 2 column 7: Expecting value"),
        (b'[{"a": 1},]', "malformed JSON at line 1 column 11: Expecting value"),
        (b'[{"a": 1} {"a": 2}]', "malformed JSON at line 1 column 11: Expecting ',' or ']'"),
        (b'[{"a": 1}] x', "malformed JSON at line 1 column 12: Extra data after the array"),
        (b'{"a": "\xff"}', "not valid UTF-8: invalid start byte at byte 7"),
        (b'\xef\xbb\xbf{"a": "\xc3"}', "not valid UTF-8: invalid continuation byte at byte 10"),
        (b"\xff\xfe{\x00}\x00", "not valid UTF-8: invalid start byte at byte 0"),  # UTF-16
        (b"[" * 100_000, "JSON nested too deeply"),
        # the parser's own RecursionError, in every layout that cannot be split, is bad content
        (b'{"a":' * 100_000, "JSON nested too deeply"),
        (b'[{"a": 1}, {"a":' + b"[" * 100_000, "JSON nested too deeply"),
    ],
)
def test_payload_that_cannot_be_split_into_records_is_bad_content_with_a_reason(raw, reason):
    with pytest.raises(BadContent) as caught:
        parse(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'[{"a": 1}, 2, [{"a": 3}]]',
            [
                {"a": 1},
                ("bad", "array element 1 is number, not an object", "2"),
                ("bad", "array element 2 is array, not an object", '[{"a": 3}]'),
            ],
        ),
        (
            b'{"a": 1}\n[1]\n',
            [{"a": 1}, ("bad", "record 1 is array, not an object", "[1]")],
        ),
        # JSON Lines are judged line by line: a broken line is one bad record
        (
            b'{"a": 1}\n{"a": \n{"a": 3}\n',
            [
                {"a": 1},
                ("bad", "malformed JSON at line 2 column 7: Expecting value", '{"a": '),
                {"a": 3},
            ],
        ),
        (
            # the first record ends on the first line: JSON Lines, whatever follows it there
            b'{"a": 1} x\n{"b": 2}\n',
            [
                {"a": 1},
                ("bad", "malformed JSON at line 1 column 1: Expecting value", "x"),
                {"b": 2},
            ],
        ),
        (
            b'{"a": 1}\n{"b":' + b"[" * 100_000 + b'\n{"c": 1}',
            [{"a": 1}, ("bad", "JSON nested too deeply", '{"b":' + "[" * 100_000), {"c": 1}],
        ),
    ],
)
def test_a_record_that_is_not_an_object_or_a_broken_line_is_bad_alone(raw, expected):
    assert parse(raw) == expected


def test_record_positions_count_records_and_lines():
    payload = Payload(b'{"a": 1}\n\n{"a": 2} {"a": 3}\n{"a": 4}\n')
    items = list(payload.items())

    assert [(i.index, payload.line_of(i.start)) for i in items] == [(0, 1), (1, 3), (2, 3), (3, 4)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # JSON Lines whose first line is broken: the next line holds a record alone
        (
            b'{"carChassis": "C0", "currentMil\n{"carChassis": "C1"}\n\n{"carChassis": "C2"}\n',
            [
                (
                    "bad",
                    "malformed JSON at line 1 column 22: Unterminated string starting at",
                    '{"carChassis": "C0", "currentMil',
                ),
                {"carChassis": "C1"},
                {"carChassis": "C2"},
            ],
        ),
        (
            b'{"a": \n{"b": 2} {"c": 3}\n',  # records concatenated on the lines after it
            [("bad", "malformed JSON at line 1 column 7: Expecting value", '{"a": '), {"b": 2}]
            + [{"c": 3}],
        ),
        (
            b'{"a": }{"b": 2}\r\n{"c": 3}',  # a broken line is one bad record, whatever it holds
            [("bad", "malformed JSON at line 1 column 7: Expecting value", '{"a": }{"b": 2}\r')]
            + [{"c": 3}],
        ),
    ],
)
def test_json_lines_with_a_broken_first_line_are_judged_line_by_line(raw, expected):
    assert parse(raw) == expected


def test_the_line_of_a_broken_first_line_is_its_own():
    payload = Payload(b'\n\n{"a": 1,,\n{"b": 2}\n')
    items = list(payload.items())

    assert [(i.index, payload.line_of(i.start), i.reason) for i in items] == [
        (
            0,
            3,
            "malformed JSON at line 3 column 9: Expecting property name enclosed in double quotes",
        ),
        (1, 4, None),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b'{"a": 1} x',
            [{"a": 1}, ("bad", "malformed JSON at line 1 column 1: Expecting value", "x")],
        ),
        (
            b'{"a": 1}]',
            [{"a": 1}, ("bad", "malformed JSON at line 1 column 1: Expecting value", "]")],
        ),
        # a record spanning lines: what follows it is one bad record, up to the end of the file
        (
            b'{\n  "a": 1\n}\nx\n{"b": 2}\n',
            [
                {"a": 1},
                ("bad", "malformed JSON at line 4 column 1: Expecting value", 'x\n{"b": 2}'),
            ],
        ),
        (
            b'{\n  "a": 1\n}\n{\n  "b": \n}',
            [
                {"a": 1},
                ("bad", "malformed JSON at line 6 column 1: Expecting value", '{\n  "b": \n}'),
            ],
        ),
    ],
)
def test_a_complete_record_followed_by_junk_is_a_record_and_the_junk_a_bad_one(raw, expected):
    assert parse(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # a pretty-printed document that does not parse stays whole, even if a line of it holds
        # an object alone: only a line right after a broken first line can start JSON Lines
        (
            b'{\n  "stops": [\n    {"city": "Recife"}\n  ],\n  "x": \n}\n{"a": 1}\n',
            "malformed JSON at line 6 column 1: Expecting value",
        ),
        (b'{"a":\n[1]\n', "malformed JSON at line 3 column 1: Expecting ',' delimiter"),
    ],
)
def test_a_malformed_document_spanning_lines_stays_whole(raw, reason):
    with pytest.raises(BadContent) as caught:
        parse(raw)
    assert caught.value.reason == reason


DUPLICATE = ": JSON leaves open which value counts"


@pytest.mark.parametrize(
    ("record", "key"),
    [
        ('{"currentMileage": 10, "carChassis": "C1", "currentMileage": 99999}', "currentMileage"),
        ('{"metrics": {"trip": {"tripMileage": 1, "tripMileage": 1}}}', "metrics.trip.tripMileage"),
        ('{"stops": [{"at": "x"}, {"at": "y", "n": 1, "at": "z"}]}', "stops[].at"),
        # of several, the last object to close: the first "a" is not in the record
        ('{"a": {"k": 1, "k": 2}, "a": {"k": 3}}', "a"),
    ],
)
def test_a_record_with_a_duplicate_key_is_bad_alone_naming_the_key(record, key):
    for raw in (f'[{{"n": 0}},\n {record},\n {{"n": 2}}]', f'{{"n": 0}}\n{record}\n{{"n": 2}}'):
        assert parse(raw.encode()) == [
            {"n": 0},
            ("bad", f"duplicate key {key!r}{DUPLICATE}", record),
            {"n": 2},
        ]


def test_a_duplicate_key_in_a_line_that_does_not_parse_marks_no_other_record():
    raw = b'{"a": {"k": 1, "k": 2}, \n{"b": 2}\n{"c": {"k": 1, "k": 2}\n{"d": 4}\n'

    assert parse(raw) == [
        (
            "bad",
            "malformed JSON at line 1 column 25: Expecting property name enclosed in double quotes",
            '{"a": {"k": 1, "k": 2}, ',
        ),
        {"b": 2},
        (
            "bad",
            "malformed JSON at line 3 column 23: Expecting ',' delimiter",
            '{"c": {"k": 1, "k": 2}',
        ),
        {"d": 4},
    ]
