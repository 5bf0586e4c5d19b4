"""The JSON parser's checks on the raw bytes and on the parsed value: depth, NUL, lone surrogates, numbers."""

import json

import pytest
from rest_framework.exceptions import ParseError, ValidationError

from apps.organizations.parsers import MAX_DEPTH, nesting_depth, parse_json


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


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[[[[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[[", "b": ["]]]"]}', 2),
        (b"[" * 100 + b"]" * 100, MAX_DEPTH + 1),  # counting stops past the limit
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(body, depth):
    assert nesting_depth(body) == depth


def test_nesting_past_the_limit_is_refused_before_parsing():
    with pytest.raises(ParseError, match=f"at most {MAX_DEPTH} levels"):
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))

    deepest: list = []
    for _ in range(MAX_DEPTH - 1):
        deepest = [deepest]
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) == deepest
