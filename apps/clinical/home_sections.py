"""The home page's clinical work (`apps.organizations.home`): flags to review and notes to sign. A clinician sees
their own patients' flags and their own drafts; a role that oversees the clinic sees everyone's. The coach, billing
and the front desk see neither (the permission map), and PostgreSQL shows no PHI row to whoever may not read it."""

from __future__ import annotations

from django.http import HttpRequest

from apps.organizations.admin_base import may, request_staff_context
from apps.organizations.home import HomeSection, oversees_clinic
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog

from .notes.selectors import notes_to_sign
from .notes.serializers import person_name
from .permissions import ASSESSMENT_FLAG, CLINICAL_NOTE
from .selectors import clinician_patients_condition
from .timeline.selectors import assessment_flags_to_review

# A home lists this many of each; the full lists are one click away.
SHOWN = 25


def sections(request: HttpRequest) -> list[HomeSection]:
    ctx = request_staff_context(request)
    if ctx is None or ctx.user_id is None:
        return []
    whole_clinic = oversees_clinic(ctx.role)
    found = []
    if may(request, ASSESSMENT_FLAG, "view"):
        flags = assessment_flags_to_review()
        if not whole_clinic:
            flags = flags.filter(clinician_patients_condition(ctx.user_id))
        shown = list(flags[: SHOWN + 1])
        phi_reads.mark(record_type=PHIAccessLog.RecordType.ASSESSMENT, patient_ids=[f.patient_id for f in shown])
        found.append(
            HomeSection(
                title="Flags to review",
                template="admin/clinical/home_flags.html",
                context={
                    "flags": shown[:SHOWN],
                    "more": len(shown) > SHOWN,
                    "may_review": may(request, ASSESSMENT_FLAG, "review"),
                },
                order=20,
            )
        )
    if may(request, CLINICAL_NOTE, "view"):
        drafts = notes_to_sign()
        if not whole_clinic:
            drafts = drafts.filter(author_id=ctx.user_id)
        shown_notes = list(drafts[: SHOWN + 1])
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.CLINICAL_NOTE, patient_ids=[n.patient_id for n in shown_notes]
        )
        may_sign = may(request, CLINICAL_NOTE, "sign")
        found.append(
            HomeSection(
                title="Notes to sign" if not whole_clinic else "Unsigned notes",
                template="admin/clinical/home_notes.html",
                context={
                    "notes": [
                        {
                            "note": note,
                            "author": person_name(note.author),
                            "may_sign": may_sign and note.author_id == ctx.user_id,
                        }
                        for note in shown_notes[:SHOWN]
                    ],
                    "more": len(shown_notes) > SHOWN,
                    "whole_clinic": whole_clinic,
                },
                order=30,
            )
        )
    return found
