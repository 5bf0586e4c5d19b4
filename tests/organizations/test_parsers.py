"""The JSON parser's checks on the raw bytes and on the parsed value: depth, NUL, lone surrogates, numbers."""

import json

import pytest
from rest_framework.exceptions import ParseError, ValidationError

from apps.organizations.parsers import MAX_DEPTH, parse_json


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"note": "\u0000"}, "note"),
        ({"note": "a\u0000b"}, "note"),
        ({"rows": [{"x": 1}, {"note": "literally \\u0000 then \u0000"}]}, "rows[1].note"),
        ({"a": {"b": ["\\\\\u0000"]}}, "a.b[0]"),
    ],
)
def test_a_string_holding_a_nul_is_refused_naming_its_path(value, field):
    with pytest.raises(ValidationError) as raised:
        parse_json(json.dumps(value).encode())

    assert raised.value.detail == {field: ["Text must not contain the NUL character (U+0000)."]}


@pytest.mark.parametrize("value", ["", "plain", "\\u0000", "\\\\u0000", "u0000", "\\x00", "\U0001f600"])
def test_text_that_only_looks_like_a_nul_escape_or_a_surrogate_passes(value):
    body = json.dumps({"note": value}).encode()

    assert parse_json(body) == {"note": value}


def test_a_lone_surrogate_is_refused_and_a_pair_passes():
    with pytest.raises(ValidationError) as raised:
        parse_json(b'{"note": ["ok", "x\\udc00"]}')

    assert raised.value.detail == {"note[1]": ["Text must not contain an unpaired surrogate (U+D800 to U+DFFF)."]}
    assert parse_json(b'{"note": "\\ud83d\\ude00"}') == {"note": "\U0001f600"}


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000, 100_000])
def test_nesting_past_the_limit_is_refused(levels):
    with pytest.raises(ParseError) as raised:
        parse_json(b'{"a": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}")

    assert raised.value.detail == f"JSON parse error: arrays and objects may nest at most {MAX_DEPTH} levels deep."


def test_nesting_to_the_limit_and_brackets_inside_strings_pass():
    deepest: list = []
    for _ in range(MAX_DEPTH - 1):
        deepest = [deepest]

    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) == deepest
    assert parse_json(b'{"a": "' + b"[" * 100 + b'"}') == {"a": "[" * 100}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (b'{"a": NaN}', "a", "Must be a finite number."),
        (b'{"a": [1, -Infinity]}', "a[1]", "Must be a finite number."),
        (b'{"a": 1e400}', "a", "Must be a finite number."),
        (
            b'{"a": 9223372036854775808}',
            "a",
            "Must be an integer between -9223372036854775808 and 9223372036854775807.",
        ),
        (
            b'{"a": ' + b"9" * 5000 + b"}",
            "a",
            "Must be an integer between -9223372036854775808 and 9223372036854775807.",
        ),
    ],
)
def test_numbers_postgresql_cannot_store_are_refused_naming_their_path(body, field, message):
    with pytest.raises(ValidationError) as raised:
        parse_json(body)

    assert raised.value.detail == {field: [message]}


def test_numbers_in_range_and_digits_in_strings_pass():
    body = (
        b'{"a": 9223372036854775807, "b": -9223372036854775808, "c": 1e308, "d": 1e-400, "e": "12345678901234567890"}'
    )

    assert parse_json(body) == {"a": 2**63 - 1, "b": -(2**63), "c": 1e308, "d": 0.0, "e": "12345678901234567890"}
