"""pyx12, run in-process, as the check of every X12 file the tests write."""

from __future__ import annotations

import io
import json
from typing import Any

import pyx12.params
import pyx12.x12n_document

from apps.billing.x12 import BASIC_CHARACTERS, DELIMITERS


def validate_x12(content: str) -> tuple[bool, list[Any], str]:
    """pyx12's verdict on a file: (valid, every error it reported, its 999 acknowledgement)."""
    param = pyx12.params.params()
    ack, errors = io.StringIO(), io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=param, src_file=io.StringIO(content), fd_997=ack, fd_html=None, fd_json=errors
    )
    return ok, _collect_errors(json.loads(errors.getvalue())), ack.getvalue()


def assert_valid_x12(content: str) -> None:
    """The file passes pyx12 with no error at any level, is acknowledged as accepted, and holds only X12's basic
    characters and its delimiters (pyx12 checks the extended set, whose ISA11 check also refuses "^" under the
    basic one)."""
    ok, errors, ack = validate_x12(content)
    assert errors == []
    assert ok is True
    assert "IK5*A" in ack
    assert set(content) - BASIC_CHARACTERS - DELIMITERS - {"\n"} == set()


def assert_valid_835(content: str) -> None:
    """An 835 passes pyx12 with no error at any level and holds only X12's basic characters and its delimiters.
    (pyx12's own 999 for an 835 stops after AK1: the 835 guide leaves ST03 unused, so it writes no IK5.)"""
    ok, errors, _ = validate_x12(content)
    assert errors == []
    assert ok is True
    assert set(content) - BASIC_CHARACTERS - DELIMITERS - {"\n"} == set()


def _collect_errors(node: object) -> list[Any]:
    """Every error pyx12 reported at any level (interchange, group, transaction, segment, element)."""
    found: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "errors" and isinstance(value, list):
                found.extend(value)
            else:
                found.extend(_collect_errors(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_collect_errors(item))
    return found
