"""One mechanism for the PHI access log: code that shows classified rows marks them, one hook logs them.

Output serializers mark every row they render (`MarksReads`); documents, exports and the few answers that are
not rows call `mark(record_type=..., patient_ids=...)` for what they put in front of a caller;
`PHIReadLogMiddleware` collects the marks of a request and, when the response succeeds, writes them
in one INSERT per record type (a row per patient, counting its records). A view cannot forget the log: the rows
are marked where they are shown, not where the view decides to log. Outside a request (a management command)
`logged_reads` collects and writes the same way. Code that redacts PHI for callers without PHI access marks
only what it showed unredacted (`phi_visible`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse

from apps.organizations import context
from apps.organizations.roles import DataClassification

from .services import phi_access_write

Marks = defaultdict[str, Counter[UUID]]

_marks: ContextVar[Marks | None] = ContextVar("kura_phi_reads", default=None)


def phi_visible() -> bool:
    """Whether the current caller may be shown PHI (else it gets redacted rows, and nothing is logged)."""
    ctx = context.current()
    return ctx is not None and ctx.can_read_phi


def mark(*, record_type: str, patient_ids: Iterable[UUID | None]) -> None:
    """Note that the current response or job shows records of these patients (one id per record)."""
    if context.current() is None:
        return  # nothing can be read without a tenant context
    marks = _marks.get()
    counts = Counter(patient_id for patient_id in patient_ids if patient_id is not None)
    if marks is None:
        # Read in a tenant context outside any collector (a shell, a job): logged at once, without a path.
        for_job: Marks = defaultdict(Counter)
        for_job[record_type].update(counts)
        _write(for_job, method="", path="")
        return
    marks[record_type].update(counts)


def mark_rows(*, record_type: str, rows: Iterable[Any]) -> None:
    """Mark the rows classified CLINICAL_PHI among those shown (model instances or named rows with `patient_id`
    and `data_classification`): wellness rows, such as a mood or a step count, are not PHI."""
    phi = DataClassification.CLINICAL_PHI
    mark(record_type=record_type, patient_ids=[row.patient_id for row in rows if row.data_classification == phi])


class MarksReads:
    """For an `OutputSerializer`: every row it renders (in a list, a detail or a write's answer) is marked as a
    read of its patient's `phi_record_type` records; `phi_rows_only` marks only rows classified CLINICAL_PHI."""

    phi_record_type: str
    phi_rows_only: bool = False

    def patient_id_of(self, instance: Any) -> UUID | None:
        return getattr(instance, "patient_id", None)

    def render(self, instance: Any, zone: Any) -> dict[str, Any]:
        row: dict[str, Any] = super().render(instance, zone)  # type: ignore[misc]
        phi = DataClassification.CLINICAL_PHI
        if not self.phi_rows_only or getattr(instance, "data_classification", phi) == phi:
            mark(record_type=self.phi_record_type, patient_ids=[self.patient_id_of(instance)])
        return row


def _write(marks: Marks, *, method: str, path: str) -> None:
    ctx = context.current()
    if ctx is None:
        return
    for record_type, counts in marks.items():
        phi_access_write(ctx=ctx, method=method, path=path, record_type=record_type, counts=counts)


@contextmanager
def _collected() -> Iterator[Marks]:
    """The marks made inside the block, collected instead of written at once."""
    marks: Marks = defaultdict(Counter)
    token = _marks.set(marks)
    try:
        yield marks
    finally:
        _marks.reset(token)


@contextmanager
def logged_reads(*, method: str, path: str) -> Iterator[Marks]:
    """Collect the marks made inside; write them when the block ends without an error."""
    with _collected() as marks:
        yield marks
    _write(marks, method=method, path=path)


class PHIReadLogMiddleware:
    """Logs the PHI rows a successful response showed. Placed after `TenantContextMiddleware`, so it runs inside
    the request's transaction and tenant context; an error response is not a read (and rolls back anyway)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with _collected() as marks:
            response = self.get_response(request)
        if response.status_code < 400:
            # Without its query string, which could carry a searched name.
            _write(marks, method=request.method or "GET", path=request.path)
        return response
