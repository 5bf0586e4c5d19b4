"""pyx12's verdict on an X12 file, as the messages Kura shows: each names the segment, its line and the element,
never the offending value.

pyx12 takes about 3 to 4 ms per claim of an 835 (four lines each) on one CPU: a 5,000-claim remittance of
20,000 lines, 13 to 19 s on a 2-core host (see bench/README.md), in pure Python, in proportion to the segments.
A large file is therefore validated in a process of its own (`Pyx12Check(content, apart=True)`) while the caller goes on
posting it in its transaction; the caller waits for the verdict before it commits and refuses the file with
pyx12's errors when there are any, so nothing of an invalid file is ever stored. The module imports no Django:
the validating process starts fresh ("spawn", never a fork of a process holding database connections) and
imports only this.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pyx12.params
import pyx12.x12n_document


def pyx12_errors(content: str) -> list[str]:
    """pyx12's complaints about the file (empty when it is valid), each naming the segment, its line and the
    element, without the offending value."""
    json_report = io.StringIO()
    try:
        valid = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(), src_file=io.StringIO(content), fd_997=None, fd_html=None, fd_json=json_report
        )
    except Exception:  # pyx12 raises on files it cannot read at all
        return ["pyx12 could not read the file as X12."]
    found: list[str] = []
    with contextlib.suppress(ValueError):
        _collect(json.loads(json_report.getvalue() or "{}"), found, segment=None)
    if not valid and not found:
        found.append("pyx12 refused the file's envelope (ISA/GS/ST).")
    return found


def _describe(error: dict[str, Any]) -> str:
    text = str(error.get("err_str", ""))
    value = error.get("err_val")
    if value:
        text = text.replace(f" ({value})", "").replace(f"({value})", "").replace(f'len("{value}")', "its length")
    return f"{text} (error code {error.get('err_cde')})"


def _collect(node: Any, found: list[str], segment: dict[str, Any] | None) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, found, segment)
        return
    if not isinstance(node, dict):
        return
    if "seg_id" in node:
        segment = node
    for error in node.get("errors", []):
        if segment is None:
            found.append(f"Line {node.get('cur_line')}: {_describe(error)}")
        elif "ele_pos" in node:
            found.append(
                f"Segment {segment['seg_id']} at line {segment.get('cur_line')}, element "
                f"{segment['seg_id']}{int(node['ele_pos']):02d}: {_describe(error)}"
            )
        else:
            found.append(f"Segment {segment['seg_id']} at line {segment.get('cur_line')}: {_describe(error)}")
    for key, value in node.items():
        if key != "errors":
            _collect(value, found, segment)


def _silence_pyx12() -> None:
    """pyx12 logs each error with the offending value (a name, a member id: PHI). Django's logging settings keep it
    quiet in Kura's processes; the validating process has no Django, so it is silenced here."""
    logger = logging.getLogger("pyx12")
    logger.handlers = [logging.NullHandler()]
    logger.propagate = False
    logger.setLevel(logging.CRITICAL + 1)


class Pyx12Check:
    """pyx12's errors for `content`: found at once, or with `apart` in a process of its own, started here and
    waited for by `errors()`."""

    def __init__(self, content: str, *, apart: bool) -> None:
        self.apart = apart
        self._content = content
        self._errors: list[str] | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future[list[str]] | None = None
        if apart:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_silence_pyx12
            )
            self._future = self._pool.submit(pyx12_errors, content)
        else:
            self._errors = pyx12_errors(content)

    def errors(self) -> list[str]:
        """The errors (empty for a valid file), waiting for the validating process when there is one."""
        if self._errors is None:
            assert self._future is not None
            assert self._pool is not None
            try:
                self._errors = self._future.result()
            except BrokenProcessPool:
                # The validating process died (killed, out of memory): the file is validated here instead.
                self._errors = pyx12_errors(self._content)
            finally:
                self._pool.shutdown()
        return self._errors
