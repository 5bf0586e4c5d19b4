"""JSON request bodies for the API.

PostgreSQL stores no NUL character (U+0000) in text or jsonb. DRF's text fields refuse it, but free text inside
a JSON object (a health event's note, a reading's raw payload) would reach the database and fail there with a
500. JSON can only carry NUL as the escape `\\u0000`, so the body is checked for that escape once, before it is
parsed, and refused with a 400 that says why, wherever it hides.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# `\u0000` preceded by an even number of backslashes (none, or escaped backslashes): a NUL, not the text "\u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def refuse_nul(body: bytes) -> None:
    if _NUL_ESCAPE.search(body):
        raise ParseError("JSON parse error: text must not contain the NUL character (\\u0000).")


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read() if stream is not None else b""
        refuse_nul(body)
        return super().parse(io.BytesIO(body), media_type, parser_context)
