"""JSON request bodies for the API.

PostgreSQL stores no NUL character (U+0000) in text or jsonb. DRF's text fields refuse it, but free text inside
a JSON object (a health event's note, a reading's raw payload) would reach the database and fail there with a
500. JSON can only carry NUL as the escape `\\u0000`, so the body is checked for that escape once, before it is
parsed, and refused with a 400 that says why, wherever it hides.
"""

from __future__ import annotations

import io
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

_ESCAPE = b"\\u0000"
_BACKSLASH = ord("\\")


def refuse_nul(body: bytes) -> None:
    """A 400 if `body` escapes a NUL: `\\u0000` after an even number of backslashes (after an odd number, the
    first backslash of the escape is itself escaped and the text "\\u0000" is meant)."""
    found = body.find(_ESCAPE)
    while found != -1:
        before = found
        while before > 0 and body[before - 1] == _BACKSLASH:
            before -= 1
        if (found - before) % 2 == 0:
            raise ParseError("JSON parse error: text must not contain the NUL character (\\u0000).")
        found = body.find(_ESCAPE, found + 1)


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read() if stream is not None else b""
        refuse_nul(body)
        return super().parse(io.BytesIO(body), media_type, parser_context)
