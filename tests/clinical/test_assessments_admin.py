"""Giving an assessment in the admin: item wording and answer options, integer scores, the PHQ-9 item 9 flag,
answers outside the options refused on their item with nothing stored, other roles and organizations kept out."""

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.clinical.models import AssessmentFlag, AssessmentResponse, HealthEvent
from apps.clinical.services import encounter_create
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def clinic():
    org, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        patient = PatientFactory()
        encounter = encounter_create(patient=patient, encounter_type="outpatient", started_at=timezone.now())
    return {"org": org, "org_b": org_b, "patient": patient, "encounter": encounter}


def url(patient, instrument="phq9"):
    return reverse("admin:clinical_assessment_administer", args=[patient.pk, instrument])


def answers(*values):
    return {f"item_{number}": str(value) for number, value in enumerate(values, start=1)}


def stored(org):
    with as_tenant(org):
        return (
            list(AssessmentResponse.objects.values_list("instrument", "answers", "total", "severity")),
            AssessmentFlag.objects.count(),
            HealthEvent.objects.count(),
        )


def test_a_clinician_gives_a_phq9_with_its_wording_and_item_9_raises_the_flag(clinic):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    encounter_page = client.get(reverse("admin:clinical_encounter_change", args=[clinic["encounter"].pk]))
    assert url(clinic["patient"]) in encounter_page.content.decode()
    form = client.get(url(clinic["patient"])).content.decode()
    assert "9. Thoughts that you would be better off dead, or of hurting yourself in some way" in form
    assert "2 · More than half the days" in form
    assert "Over the last 2 weeks" in form

    response = client.post(url(clinic["patient"]), answers(1, 2, 1, 1, 0, 0, 1, 0, 1))
    assert response.status_code == 302
    assert stored(clinic["org"]) == ([("phq9", [1, 2, 1, 1, 0, 0, 1, 0, 1], 7, "mild")], 1, 1)
    page = client.get(response["Location"])
    shown = page.content.decode()
    assert (
        "Thoughts that you would be better off dead, or of hurting yourself in some way: <strong>1 · Several days"
        in shown
    )
    assert [str(m) for m in page.context["messages"]] == ["Total 7 (mild). It raised a flag for review."]


def test_a_gad7_and_a_phq4_are_scored_without_a_flag(clinic):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    assert client.post(url(clinic["patient"], "gad7"), answers(3, 3, 2, 2, 1, 1, 0)).status_code == 302
    assert client.post(url(clinic["patient"], "phq4"), answers(1, 1, 0, 0)).status_code == 302
    responses, flags, _events = stored(clinic["org"])
    assert sorted(responses) == [("gad7", [3, 3, 2, 2, 1, 1, 0], 12, "moderate"), ("phq4", [1, 1, 0, 0], 2, "normal")]
    assert flags == 0


@pytest.mark.parametrize(
    ("posted", "field"),
    [(answers(0, 0, 4, 0, 0, 0, 0, 0, 0), "item_3"), (answers(0, 0, 0, 0, 0, 0, 0, 0), "item_9")],
)
def test_an_answer_outside_the_options_or_missing_is_refused_on_its_item(clinic, posted, field):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    response = client.post(url(clinic["patient"]), posted)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert stored(clinic["org"]) == ([], 0, 0)


def test_other_roles_and_organizations_cannot_give_an_assessment(clinic):
    full = answers(0, 0, 0, 0, 0, 0, 0, 0, 1)
    for role in (Role.COACH, Role.FRONT_DESK, Role.BILLING):
        assert logged_in(add_member(clinic["org"], role)).post(url(clinic["patient"]), full).status_code == 403
    b_clinician = logged_in(add_member(clinic["org_b"], Role.CLINICIAN))
    assert b_clinician.post(url(clinic["patient"]), full).status_code == 404
    own = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    assert own.get(url(clinic["patient"], "no-such-scale")).status_code == 404
    assert stored(clinic["org"]) == ([], 0, 0)
