"""seed_demo's progress notes: one per demo visit, written and signed through the notes services by the demo
clinician; most signed, one with an addendum, two drafts left to sign; a PHQ-9 given at a follow-up through the
assessment page's service; nothing added by a second run; each clinic's notes its own; the clinician's home shows
the drafts and the flag to review."""

from __future__ import annotations

import io
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from apps.clinical.models import AssessmentFlag, AssessmentResponse, ClinicalNote, NoteAddendum
from apps.clinical.notes.demo import ADDENDUM, DRAFTS
from apps.organizations import context
from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE
from apps.organizations.roles import Role
from apps.patients.demo import DEMO_PATIENTS
from tests.conftest import logged_in

pytestmark = pytest.mark.usefixtures("committed")


def notes_of(slug: str) -> dict[str, object]:
    organization_id = uuid.uuid5(DEMO_NAMESPACE, slug)
    with context.tenant_context(organization_id, Role.OWNER):
        clinician = get_user_model().objects.get(username=f"{slug}-clinician")
        notes = list(ClinicalNote.objects.select_related("encounter", "patient").order_by("patient__mrn", "created_at"))
        follow_up_phq9 = list(
            AssessmentResponse.objects.filter(
                instrument="phq9", completed_at__in=[n.encounter.started_at for n in notes]
            ).values_list("total", "severity", "health_event__source")
        )
        return {
            "visits": len({n.encounter_id for n in notes}),
            "notes": len(notes),
            "statuses": sorted(n.status for n in notes),
            "authors": {n.author_id for n in notes} == {clinician.pk},
            "templates": {n.template for n in notes},
            "drafts": [(n.patient.mrn, n.encounter.encounter_type) for n in notes if n.status == "draft"],
            "addenda": list(NoteAddendum.objects.values_list("note__encounter__encounter_type", "text")),
            "organizations": {n.organization_id for n in notes} == {organization_id},
            "follow_up_phq9": follow_up_phq9,
            "flags": AssessmentFlag.objects.count(),
            "first_draft": next(n.pk for n in notes if n.status == "draft"),
        }


def test_seed_demo_writes_notes_for_the_demo_visits_most_signed_once():
    call_command("seed_demo", stdout=io.StringIO())
    harbor, summit = notes_of("harbor"), notes_of("summit")
    call_command("seed_demo", stdout=io.StringIO())

    assert notes_of("harbor") == harbor  # a second run adds nothing
    for clinic in (harbor, summit):
        assert clinic["notes"] == 2 * len(DEMO_PATIENTS)  # an intake and a follow-up each
        assert clinic["visits"] == clinic["notes"]  # a note per visit
        assert clinic["statuses"] == ["draft"] * DRAFTS + ["signed"] * (clinic["notes"] - DRAFTS)
        assert clinic["authors"] is True
        assert clinic["templates"] == {"soap"}
        assert [kind for _, kind in clinic["drafts"]] == ["telehealth"] * DRAFTS
        assert clinic["addenda"] == [("outpatient", ADDENDUM)]
        assert clinic["organizations"] is True
        assert clinic["follow_up_phq9"] == [(9, "mild", "staff")]
        assert clinic["flags"] == 1  # the follow-up's PHQ-9 raises none


def test_the_demo_clinicians_home_shows_the_drafts_to_sign_and_the_flag():
    call_command("seed_demo", stdout=io.StringIO())
    harbor = notes_of("harbor")
    clinician = get_user_model().objects.get(username="harbor-clinician")

    page = logged_in(clinician).get("/admin/").content.decode()

    assert "Notes to sign" in page
    assert reverse("admin:clinical_note_sign", args=[harbor["first_draft"]]) in page
    assert page.count("/sign/") == DRAFTS
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in page
    assert "Your visits today" in page
