"""The chart in the browser: a clinician opens a patient from the list on a tablet (768 px) and reads the chart
without sideways scrolling, follows an alert and a chart-period link without losing her place, and reaches the
demographics; a coach's chart of the same patient holds wellness sections only; the other clinic never shows."""

from __future__ import annotations

import pytest

from tests.clinical.chart_support import ChartData, fill_chart
from tests.conftest import make_organization
from tests.scheduling.factories import Clinic, make_clinic

TABLET = {"width": 768, "height": 1024}
PHI_SECTIONS = ("flags", "problems", "medications", "allergies", "vitals", "notes", "assessments")


@pytest.fixture
def charts(committed: None) -> tuple[Clinic, ChartData, ChartData]:
    clinic = make_clinic(make_organization("org-a"))
    other = make_clinic(make_organization("org-b"))
    return clinic, fill_chart(clinic, size=3, given_name="Mateo"), fill_chart(other, size=1, family_name="Zabrowski")


def no_sideways_scrolling(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def section_ids(page) -> list[str]:
    return page.locator("section.kura-chart-section").evaluate_all("sections => sections.map(s => s.id)")


def in_view(page, selector: str) -> bool:
    return page.evaluate(
        "s => { const top = document.querySelector(s).getBoundingClientRect().top;"
        " return top >= 0 && top < innerHeight; }",
        selector,
    )


def test_a_clinician_reads_a_chart_at_tablet_width(charts, open_page, screenshot):
    clinic, data, _other = charts
    page = open_page(clinic.provider_user)
    page.set_viewport_size(TABLET)

    page.goto("/admin/patients/patient/")
    page.locator("#result_list a", has_text="Okafor").click()  # opening a patient opens the chart
    page.wait_for_url(f"**/admin/patients/patient/{data.patient.pk}/change/")
    screenshot(page, "chart")

    assert page.inner_text(".kura-chart-header h1") == "Okafor, Mateo"
    assert section_ids(page)[:7] == [
        "flags",
        "problems",
        "medications",
        "allergies",
        "vitals",
        "notes",
        "clinical-summary",
    ]
    assert no_sideways_scrolling(page)
    assert "Penicillin 0 (Severe)" in page.inner_text(".kura-chart-facts")
    assert "Zabrowski" not in page.content()

    # The header's self-harm alert leads to the flags to review.
    page.locator(".kura-chart-alert-urgent a", has_text="PHQ-9 item 9").first.click()
    assert page.url.endswith("#flags")
    assert in_view(page, "#flags")

    # A chart period brings the reader back to the biomarker trends, not to the top of the page.
    page.locator("#biomarkers a", has_text="30 days").click()
    page.wait_for_url("**/?biomarker_days=30#biomarkers")
    screenshot(page, "biomarkers-30-days")
    assert page.inner_text("#biomarkers .kura-biomarker-periods strong") == "30 days"
    assert in_view(page, "#biomarkers")
    assert no_sideways_scrolling(page)

    # The item wording of an assessment opens in place.
    page.locator("#assessments summary").first.click()
    assert page.locator("#assessments details[open] li").first.is_visible()
    assert no_sideways_scrolling(page)

    page.locator(".kura-chart-links a", has_text="Demographics and consents").click()
    page.wait_for_url(f"**/admin/patients/patient/{data.patient.pk}/demographics/")
    screenshot(page, "demographics")
    assert page.input_value("#id_family_name") == "Okafor"


def test_a_coachs_chart_holds_no_phi_section(charts, open_page, screenshot):
    clinic, data, _other = charts
    page = open_page(clinic.coach_user)
    page.set_viewport_size(TABLET)

    page.goto(f"/admin/patients/patient/{data.patient.pk}/change/")
    screenshot(page, "coach-chart")

    assert section_ids(page) == ["clinical-summary", "timeline", "biomarkers"]
    for anchor in PHI_SECTIONS:
        assert page.locator(f"#{anchor}").count() == 0
    content = page.content()
    for phi in ("Allergies", "Penicillin", "Sertraline", "F41.1", "PHQ-9", "SOAP", "Diagnostic assessment", "Panic"):
        assert phi not in content, phi
    assert "Yoga session" in page.inner_text("#clinical-summary")
    assert "Mood: anxious, confidence 7/10" in page.inner_text("#timeline")
    assert no_sideways_scrolling(page)
