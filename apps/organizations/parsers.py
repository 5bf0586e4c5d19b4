"""JSON request bodies for the API: size bounded before parsing, then depth and values PostgreSQL cannot store.

Each rule answers a 4xx in the one error shape instead of a 500 further down:

* **size**: a body over `settings.KURA_MAX_BODY_BYTES` is a 413 (bulk endpoints use `BatchJSONParser`, whose
  limit is `settings.KURA_MAX_BATCH_BODY_BYTES`, sized for 10,000 readings with their raw payloads);
* **depth**: more than `MAX_DEPTH` nested arrays and objects is a 400 (deeper still, Python's parser raises
  RecursionError, answered the same way);
* **values**: a string or key holding NUL or a lone surrogate (`apps.organizations.input_checks`), a number
  that is not finite (`NaN`, `Infinity`, `1e400`) or an integer outside 64 bits is a 400 naming its path in
  the body (`readings[3].raw_payload.note`), wherever it sits, free JSON (`raw_payload`, `event_data`) included.

JSON can carry NUL and lone surrogates only as escapes (`\\u0000`, `\\ud800`), and integers too large only as long
digit runs: only a body holding one of these, or a number the parser found not finite, is walked value by value
to name the path, so a batch of 10,000 plain readings pays little more than the parse.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError

from .input_checks import text_problem

MAX_DEPTH = 32
MAX_INTEGER = 2**63 - 1  # PostgreSQL's bigint
FINITE_MESSAGE = "Must be a finite number."
INTEGER_MESSAGE = f"Must be an integer between {-MAX_INTEGER - 1} and {MAX_INTEGER}."
MAX_REPORTED = 20

DEPTH_MESSAGE = f"JSON parse error: arrays and objects may nest at most {MAX_DEPTH} levels deep."

_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")  # a NUL or surrogate escape (or the text of one: a false alarm)
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_DIGITS = b"0" * 19  # no 64-bit integer has more digits (also in a string: again a false alarm)


class RequestTooLargeError(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class _Unstorable:
    """Stands in for a number the parser read but PostgreSQL could not store, until its path is known."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


_NON_FINITE = _Unstorable(FINITE_MESSAGE)
_TOO_BIG = _Unstorable(INTEGER_MESSAGE)


def _parse_int(text: str) -> int | _Unstorable:
    if len(text) > 20:  # longer than any 64-bit integer; also spares int() thousands of digits
        return _TOO_BIG
    number = int(text)
    return number if -MAX_INTEGER - 1 <= number <= MAX_INTEGER else _TOO_BIG


def _too_deep(value: Any, depth: int = 1) -> bool:
    """Whether arrays and objects in `value` nest more than MAX_DEPTH levels."""
    if depth > MAX_DEPTH:
        return True
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if (kind is dict or kind is list) and _too_deep(item, depth + 1):
            return True
    return False


def _path(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def _unstorable(value: Any, path: str, errors: dict[str, list[str]]) -> None:
    """Collect, by path, every value in `value` that PostgreSQL could not store."""
    if len(errors) >= MAX_REPORTED:
        return
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            errors[path or "non_field_errors"] = [problem]
    elif isinstance(value, _Unstorable):
        errors[path or "non_field_errors"] = [value.message]
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem is not None:  # the key is the value here: name the object that holds it
                errors[path or "non_field_errors"] = [f"A key: {problem}"]
                continue
            _unstorable(item, _path(path, key), errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _unstorable(item, _path(path, index), errors)


def parse_json(body: bytes) -> Any:
    """The JSON value of `body`, or a 400 for a body too deep, malformed, or holding values PostgreSQL refuses."""
    refused: list[_Unstorable] = []

    def parse_float(text: str) -> float | _Unstorable:
        number = float(text)
        if math.isfinite(number):
            return number
        refused.append(_NON_FINITE)
        return _NON_FINITE

    def parse_constant(_text: str) -> _Unstorable:
        refused.append(_NON_FINITE)
        return _NON_FINITE

    hooks: dict[str, Any] = {"parse_float": parse_float, "parse_constant": parse_constant}
    long_digits = _LONG_DIGITS in body.translate(_DIGITS_AS_ZERO)
    if long_digits:
        hooks["parse_int"] = _parse_int
    try:
        data = json.loads(body.decode("utf-8"), **hooks)
    except RecursionError:
        raise ParseError(DEPTH_MESSAGE) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ParseError(f"JSON parse error: {error}") from None
    if (type(data) is dict or type(data) is list) and _too_deep(data):
        raise ParseError(DEPTH_MESSAGE)
    if refused or long_digits or _ESCAPE.search(body) is not None:
        errors: dict[str, list[str]] = {}
        _unstorable(data, "", errors)
        if errors:
            raise ValidationError(errors)
    return data


class JSONParser(parsers.BaseParser):
    """Every JSON body the API reads: size, depth and value limits, then Python's parser.

    Not a subclass of DRF's JSONParser, for which DRF reads the body first through Django's `request.body`
    (limited by DATA_UPLOAD_MAX_MEMORY_SIZE, meant for forms, and answered with a bare 400).
    """

    media_type = "application/json"
    limit_setting = "KURA_MAX_BODY_BYTES"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit: int = getattr(settings, self.limit_setting)
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise RequestTooLargeError()
        return parse_json(body)


class BatchJSONParser(JSONParser):
    """JSON for bulk endpoints (up to 10,000 rows): the same checks with the larger batch body limit."""

    limit_setting = "KURA_MAX_BATCH_BODY_BYTES"
