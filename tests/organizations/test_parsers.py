"""The JSON parser's NUL check, on the raw bytes: an escape that means NUL is refused, the text "\\u0000" is not."""

import json

import pytest
from rest_framework.exceptions import ParseError

from apps.organizations.parsers import refuse_nul


@pytest.mark.parametrize(
    "value",
    ["\u0000", "a\u0000b", "\\\u0000", "literally \\u0000 then \u0000", "\\\\\u0000"],
)
def test_a_string_holding_a_nul_is_refused(value):
    body = json.dumps({"note": value}).encode()

    with pytest.raises(ParseError, match="NUL character"):
        refuse_nul(body)


@pytest.mark.parametrize("value", ["", "plain", "\\u0000", "\\\\u0000", "u0000", "\\x00"])
def test_text_that_only_looks_like_a_nul_escape_passes(value):
    body = json.dumps({"note": value}).encode()

    refuse_nul(body)  # no error

    assert "\u0000" not in json.loads(body)["note"]
