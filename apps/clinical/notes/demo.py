"""Demo progress notes for `seed_demo`: a note for each of the demo's clinical visits (intake and follow-up),
written and signed through the notes services by the demo clinician, as the note pages do. Most are signed; the
first patient's intake note has an addendum, and the follow-ups of the first two patients are left as drafts for
the clinician's home. At the first patient's follow-up a PHQ-9 is given through the service the assessment page uses.

Idempotent as the visits are: they are made, with their notes, once per demo patient (`apps.clinical.demo`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.organizations import context
from apps.organizations.models import Membership
from apps.organizations.roles import Role

from ..models import ClinicalNote, Encounter, NoteTemplate
from ..timeline import services as timeline_services
from . import services

DRAFTS = 2  # the follow-ups of this many patients (by MRN) stay drafts
# Answers of the follow-up PHQ-9: total 9 (mild), item 9 answered 0 (no flag).
FOLLOW_UP_PHQ9 = [1, 2, 1, 2, 1, 1, 1, 0, 0]
INTAKE = {
    "subjective": "Low mood and poor sleep for three months; loss of interest in work; no thoughts of self-harm.",
    "objective": "Alert, oriented; affect constricted; speech normal; PHQ-9 14.",
    "assessment": "Major depressive disorder, single episode, moderate.",
    "plan": "Start sertraline 50 mg daily; weekly psychotherapy; safety plan reviewed; follow up in six weeks.",
}
FOLLOW_UP = {
    "subjective": "Sleeping better; energy still low in the mornings; taking sertraline daily, mild nausea at first.",
    "objective": "Brighter affect; engaged in the session.",
    "assessment": "Depression improving on sertraline.",
    "plan": "Continue sertraline 50 mg; continue weekly therapy; review in four weeks.",
}
ADDENDUM = (
    "Collateral history from the patient's spouse received after signing: sleep difficulty began five months ago."
)


def seed(*, visits: Sequence[tuple[Encounter, Encounter]]) -> None:
    """Notes for the demo's (intake, follow-up) visits of each new demo patient, in MRN order."""
    clinician = (
        Membership.objects.for_current_organization()
        .filter(role=Role.CLINICIAN, is_active=True)
        .select_related("user")
        .order_by("created_at")
        .first()
    )
    if clinician is None or not visits:
        return
    author = clinician.user
    # As the clinician: a note is signed by its author (PostgreSQL checks `app.user_id`).
    with context.tenant_context(clinician.organization_id, Role.CLINICIAN, user_id=author.pk):
        for number, (intake, follow_up) in enumerate(visits):
            note = _write(author, intake, dict(INTAKE))
            note = services.clinical_note_sign(note=note, signer=author)
            if number == 0:
                services.note_addendum_create(note=note, author=author, text=ADDENDUM)
            sections = dict(FOLLOW_UP)
            if number == 0:
                response = timeline_services.assessment_complete(
                    patient=follow_up.patient,
                    instrument="phq9",
                    answers=FOLLOW_UP_PHQ9,
                    completed_at=follow_up.started_at,
                )
                sections["objective"] += f" PHQ-9 given today: {response.summary}."
            note = _write(author, follow_up, sections)
            if number >= DRAFTS:
                services.clinical_note_sign(note=note, signer=author)


def _write(author: Any, visit: Encounter, sections: dict[str, str]) -> ClinicalNote:
    return services.clinical_note_create(
        author=author,
        patient=visit.patient,
        encounter=visit,
        template=NoteTemplate.SOAP,
        sections=sections,
        diagnosis_codes=["F32.1"],
    )
