"""The clinician's jobs in the browser, done the way she does them: from the chart to the visit, she records vitals
as people write them, gives a PHQ-9 with its wording, writes and signs a SOAP note and amends it, and reviews a
self-harm flag. Every page stays within her clinic: the other clinic's patients are neither listed nor found, and
their flag never reaches her home page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page

from apps.clinical import services as clinical_services
from apps.clinical.models import AssessmentFlag, AssessmentResponse, ClinicalNote, Encounter, NoteAddendum, Vital
from apps.clinical.timeline import services as timeline_services
from apps.organizations.models import Membership
from apps.organizations.roles import Role
from apps.organizations.time_zones import local_datetime, organization_zone
from apps.scheduling.models import Appointment, AppointmentType, Provider
from tests.conftest import as_tenant

from .conftest import Clinic

OTHER_CLINIC_NAMES = ("Zabrowski", "Okonkwo-B")
# A PHQ-9 with item 9 ("thoughts that you would be better off dead ...") answered 1: total 11, moderate.
PHQ9_ANSWERS = [2, 2, 1, 1, 1, 1, 1, 0, 2]


def _visit(clinic: Clinic) -> Encounter:
    """Today's 09:00 psychotherapy visit of the clinic's first patient with its clinician (booked and started),
    and a PHQ-9 the patient answered at home with item 9 above 0 (an open flag)."""
    clinician = clinic.users[Role.CLINICIAN]
    with as_tenant(clinic.org):
        zone = organization_zone()
        starts_at = local_datetime(timezone.localdate(timezone=zone), dt.time(9), zone)
        provider = Provider.objects.create(
            membership=Membership.objects.get(user=clinician), display_name=f"{clinician.username} provider"
        )
        therapy = AppointmentType.objects.create(name="Psychotherapy 50 min", duration_minutes=50)
        Appointment.objects.create(
            patient=clinic.patient,
            provider=provider,
            appointment_type=therapy,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(minutes=50),
        )
        timeline_services.assessment_complete(
            patient=clinic.patient,
            instrument="phq9",
            answers=[1, 1, 1, 1, 1, 1, 0, 0, 1],
            completed_at=starts_at - dt.timedelta(days=1),
        )
        return clinical_services.encounter_create(
            patient=clinic.patient,
            encounter_type="outpatient",
            started_at=starts_at,
            provider_name="Dr. Reyes",
            reason="Follow-up, low mood",
        )


@pytest.fixture
def visits(clinics: dict[str, Clinic]) -> dict[str, Encounter]:
    return {slug: _visit(clinic) for slug, clinic in clinics.items()}


def open_visit(page: Page, clinic: Clinic) -> None:
    """From the patient list to the chart, and from the chart's encounters to today's visit."""
    page.goto("/admin/patients/patient/")
    page.locator("#result_list a", has_text=clinic.patient.family_name).click()
    page.wait_for_url(f"**/admin/patients/patient/{clinic.patient.pk}/change/")
    page.locator("#clinical-summary a", has_text=timezone.localdate().isoformat()).first.click()
    page.wait_for_url("**/admin/clinical/encounter/*/change/")


def chart_section(page: Page, clinic: Clinic, anchor: str) -> str:
    page.goto(f"/admin/patients/patient/{clinic.patient.pk}/change/")
    return page.inner_text(f"#{anchor}")


def the_other_clinic_never_shows(page: Page) -> None:
    """Her patient list and its search hold none of the other clinic's patients, nor does her home page."""
    page.goto("/admin/patients/patient/")
    listed = page.inner_text("#result_list")
    for name in OTHER_CLINIC_NAMES:
        assert name not in listed
        page.fill("#searchbar", name)
        page.locator("#changelist-search input[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#result_list tbody tr").count() == 0
        assert "0 results" in page.inner_text("#changelist-search")
    page.goto("/admin/")
    home = page.content()
    for name in OTHER_CLINIC_NAMES:
        assert name not in home


def vital_rows(clinic: Clinic) -> list[tuple[str, Any, str]]:
    with as_tenant(clinic.org, Role.CLINICIAN):
        return sorted(Vital.objects.values_list("vital_type", "measurement_value", "unit"))


def test_clinician_records_vitals_as_people_write_them(clinics, visits, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    open_visit(page, clinic)
    page.locator("a", has_text="Record vital signs").click()
    page.wait_for_url(f"**/admin/clinical/clinicalevent/vitals/{clinic.patient.pk}/?encounter={visits['org-a'].pk}")

    page.fill("#id_blood_pressure", "128/82")
    page.fill("#id_heart_rate", "72")
    page.fill("#id_weight", "180")
    page.select_option("#id_weight_unit", "lb")
    page.fill("#id_temperature", "98.6")
    page.select_option("#id_temperature_unit", "degF")
    screenshot(page, "form")
    page.locator("button", has_text="Record vitals").click()
    page.wait_for_url("**/admin/clinical/clinicalevent/*/change/")
    screenshot(page, "recorded")

    assert "4 vital signs recorded." in page.inner_text(".messagelist")
    assert vital_rows(clinic) == [
        ("blood_pressure", {"systolic": 128, "diastolic": 82}, "mmHg"),
        ("heart_rate", {"value": 72}, "bpm"),
        ("temperature", {"value": 37.0}, "Cel"),
        ("weight", {"value": 81.65}, "kg"),  # 180 lb
    ]
    with as_tenant(clinic.org, Role.CLINICIAN):
        assert {v.event.encounter_id for v in Vital.objects.select_related("event")} == {visits["org-a"].pk}
    vitals = chart_section(page, clinic, "vitals")
    for written in ("128/82 mmHg", "72 bpm", "37 Cel", "81.7 kg"):
        assert written in vitals

    # Half a blood pressure is refused on its own field, with nothing stored (not even the valid heart rate).
    open_visit(page, clinic)
    page.locator("a", has_text="Record vital signs").click()
    page.fill("#id_blood_pressure", "128/")
    page.fill("#id_heart_rate", "64")
    page.locator("button", has_text="Record vitals").click()
    screenshot(page, "refused")
    errors = page.locator("tr", has=page.locator("#id_blood_pressure")).locator(".errorlist")
    assert errors.inner_text() == "Write blood pressure as systolic/diastolic, e.g. 128/82."
    assert len(vital_rows(clinic)) == 4
    assert vital_rows(clinics["org-b"]) == []

    the_other_clinic_never_shows(page)


def test_clinician_gives_a_phq9_with_its_wording_and_item_9_raises_the_flag(clinics, visits, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    open_visit(page, clinic)
    page.locator("a", has_text="PHQ-9").click()
    page.wait_for_url(f"**/admin/clinical/assessmentresponse/administer/{clinic.patient.pk}/phq9/")

    assert "Over the last 2 weeks, how often has the patient been bothered" in page.inner_text("#content")
    assert "1. Little interest or pleasure in doing things" in page.inner_text("#content")
    item9 = "9. Thoughts that you would be better off dead, or of hurting yourself in some way"
    assert item9 in page.inner_text("#content")
    for number, answer in enumerate(PHQ9_ANSWERS, start=1):
        page.check(f"input[name=item_{number}][value='{answer}']")
    screenshot(page, "answered")
    page.locator("button", has_text="Score and save").click()
    page.wait_for_url("**/admin/clinical/assessmentresponse/*/change/")
    screenshot(page, "scored")

    assert page.inner_text(".messagelist") == "Total 11 (moderate). It raised a flag for review."
    with as_tenant(clinic.org, Role.CLINICIAN):
        response = AssessmentResponse.objects.get(answers=PHQ9_ANSWERS)
        flag = AssessmentFlag.objects.get(response=response)
    assert (response.instrument, response.total, response.severity) == ("phq9", Decimal(11), "moderate")
    assert (flag.reason, flag.reviewed_at) == (AssessmentFlag.Reason.PHQ9_ITEM9, None)
    assert "Thoughts that you would be better off dead, or of hurting yourself in some way: 2 ·" in page.inner_text(
        "#content"
    )

    assessments = chart_section(page, clinic, "assessments")
    assert "score 11 of 27, moderate" in assessments
    assert "11.0" not in assessments
    assert "needs review" in assessments
    assert page.locator("#flags tbody tr").count() == 2  # today's and the one answered at home
    assert "PHQ9 total 11 (moderate)" in page.inner_text("#flags")
    with as_tenant(clinics["org-b"].org, Role.OWNER):
        assert AssessmentResponse.objects.count() == 1  # only the other clinic's own

    the_other_clinic_never_shows(page)


def test_clinician_writes_signs_and_amends_a_soap_note(clinics, visits, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    open_visit(page, clinic)
    page.locator("a", has_text="Write a SOAP note").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/write/{visits['org-a'].pk}/soap/")
    page.fill("#id_subjective", "Low mood for three weeks; sleeping poorly.")
    page.fill("#id_objective", "Flat affect; PHQ-9 11.")
    page.fill("#id_assessment", "Moderate depressive episode.")
    page.fill("#id_plan", "CBT weekly; safety plan reviewed.")
    page.fill("#id_diagnosis_codes", "F32.1")
    screenshot(page, "draft")
    page.locator("button", has_text="Save draft").click()
    page.wait_for_url("**/admin/clinical/clinicalnote/*/change/")
    assert "Draft note saved." in page.inner_text(".messagelist")
    with as_tenant(clinic.org, Role.CLINICIAN):
        note = ClinicalNote.objects.get()
    assert (note.status, note.encounter_id, note.diagnosis_codes) == ("draft", visits["org-a"].pk, ["F32.1"])

    page.locator(".note-actions a", has_text="Sign").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{note.pk}/sign/")
    page.locator("button", has_text="Sign note").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{note.pk}/change/")
    screenshot(page, "signed")
    assert "Note signed." in page.inner_text(".messagelist")
    content = page.inner_text("#content")
    assert "SOAP note · Signed" in content
    assert "Moderate depressive episode." in content
    assert "F32.1 Major depressive disorder, single episode, moderate" in content

    # The signed note offers no edit: no text box, no save button, only the addendum.
    assert page.locator("#content textarea, #content input[type=text]").count() == 0
    assert page.locator("input[name=_save], input[name=_continue], .deletelink").count() == 0
    assert page.locator(".note-actions a").all_inner_texts() == ["Add an addendum"]

    # A forged edit changes nothing.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = page.request.post(
        f"/admin/clinical/clinicalnote/{note.pk}/change/",
        form={"csrfmiddlewaretoken": token, "sections": '{"plan": "Nothing planned."}', "_save": "Save"},
        headers={"Referer": page.url},
    )
    assert forged.status == 403
    with as_tenant(clinic.org, Role.CLINICIAN):
        unchanged = ClinicalNote.objects.get()
    assert unchanged.sections == note.sections
    assert unchanged.sections["plan"] == "CBT weekly; safety plan reviewed."
    assert unchanged.status == ClinicalNote.Status.SIGNED

    page.locator(".note-actions a", has_text="Add an addendum").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{note.pk}/addendum/")
    page.fill("#id_text", "Patient called back: sleep improving with the plan.")
    page.locator("button", has_text="Add addendum").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{note.pk}/change/")
    screenshot(page, "amended")
    assert "Addendum added." in page.inner_text(".messagelist")
    content = page.inner_text("#content")
    assert "CBT weekly; safety plan reviewed." in content  # the note as signed
    assert "Patient called back: sleep improving with the plan." in content  # and its addendum
    with as_tenant(clinic.org, Role.CLINICIAN):
        assert ClinicalNote.objects.get().sections == note.sections
        assert list(NoteAddendum.objects.values_list("note_id", "text")) == [
            (note.pk, "Patient called back: sleep improving with the plan.")
        ]

    notes = chart_section(page, clinic, "notes")
    assert "SOAP note" in notes
    assert "+ 1 addendum" in notes
    assert "Signed" in notes
    with as_tenant(clinics["org-b"].org, Role.OWNER):
        assert not ClinicalNote.objects.exists()

    the_other_clinic_never_shows(page)


def test_clinician_reviews_a_self_harm_flag_from_her_home(clinics, visits, open_page, screenshot):
    clinic = clinics["org-a"]
    clinician = clinic.users[Role.CLINICIAN]
    page = open_page(clinician)
    flags = page.locator("section.kura-home-section", has=page.locator("h2", has_text="Flags to review"))
    assert len(flags.locator("li").all()) == 1
    assert clinic.patient.display_name in flags.inner_text()
    the_other_clinic_never_shows(page)

    page.goto("/admin/")
    flags.locator("a", has_text="Review").click()
    page.wait_for_url("**/admin/clinical/assessmentflag/*/review/")
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in page.inner_text("#content")
    page.check("input[name=action][value=safety_plan]")
    page.fill("#id_comment", "Called the patient; safety plan updated, visit moved to tomorrow.")
    screenshot(page, "review")
    before = timezone.now()
    page.locator("button", has_text="Record review").click()
    page.wait_for_url("**/admin/clinical/assessmentflag/")
    assert "Review recorded." in page.inner_text(".messagelist")

    with as_tenant(clinic.org, Role.CLINICIAN):
        flag = AssessmentFlag.objects.get()
    assert (flag.reviewed_by_id, flag.review_action) == (clinician.pk, "safety_plan")
    assert flag.review_comment == "Called the patient; safety plan updated, visit moved to tomorrow."
    assert before <= flag.reviewed_at <= timezone.now()
    with as_tenant(clinics["org-b"].org, Role.OWNER):
        assert AssessmentFlag.objects.get().reviewed_at is None  # the other clinic's flag stays open

    # Who reviewed it, when, what was done and why.
    page.locator("#changelist-filter a", has_text="Reviewed").click()
    screenshot(page, "reviewed")
    row = page.locator("#result_list tbody tr").inner_text()
    assert clinic.patient.display_name in row
    with as_tenant(clinic.org):
        reviewed_at = timezone.localtime(flag.reviewed_at, organization_zone())
    assert f"{date_format(reviewed_at, 'DATETIME_FORMAT')}\t{clinician.username}\t" in row
    assert "Reviewed or updated the safety plan: Called the patient; safety plan updated" in row

    page.goto("/admin/")
    assert "No flags to review." in page.inner_text("#content")
    assert "Needs review" not in chart_section(page, clinic, "content")
