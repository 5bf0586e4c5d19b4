"""Clinical entry and biomarker charts in the browser: a vital added through the admin, the trend charts."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.clinical.models import ClinicalEvent, Vital
from apps.organizations.roles import Role
from tests.conftest import as_tenant


def test_clinician_adds_a_vital_through_the_clinical_event_form(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    yesterday = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    page = open_page(clinic.users[Role.CLINICIAN])
    page.goto("/admin/clinical/clinicalevent/add/")
    screenshot(page, "empty-form")

    # The patient is picked the way a person does it: the autocomplete box, searched by MRN.
    page.locator(".field-patient .select2-selection").click()
    page.fill(".select2-search__field", "ORG-A-001")
    page.locator(".select2-results__option", has_text="· ORG-A-001").click()
    page.select_option("#id_activity_type", "observation")
    page.check("input[name=clinical_purposes][value=monitoring]")
    page.fill("#id_event_name", "Vitals check")
    page.fill("#id_event_date_0", yesterday)
    page.fill("#id_event_date_1", "09:30:00")
    page.select_option("#id_data_classification", "CLINICAL_PHI")

    page.locator("#vitals-group .add-row a", has_text="Add another Vital").click()
    page.select_option("#id_vitals-0-vital_type", "heart_rate")
    page.fill("#id_vitals-0-reading", "72")
    page.fill("#id_vitals-0-measurement_date_0", yesterday)
    page.fill("#id_vitals-0-measurement_date_1", "09:31:00")
    screenshot(page, "form")
    page.locator("input[name=_save]").click()
    page.wait_for_url("**/admin/clinical/clinicalevent/")
    screenshot(page, "saved")

    assert "was added successfully" in page.inner_text(".messagelist")
    with as_tenant(clinic.org, Role.CLINICIAN):
        event = ClinicalEvent.objects.get(event_name="Vitals check")
        vital = Vital.objects.get(event=event)
    assert event.patient_id == clinic.patient.pk
    assert vital.patient_id == clinic.patient.pk
    assert (vital.vital_type, vital.measurement_value, vital.unit) == ("heart_rate", {"value": 72}, "bpm")
    assert vital.measurement_date == dt.datetime.fromisoformat(f"{yesterday}T09:31:00+00:00")
    with as_tenant(clinics["org-b"].org, Role.OWNER):
        assert not Vital.objects.exists()

    # The patient's clinical summary now shows it.
    page.goto(f"/admin/patients/patient/{clinic.patient.pk}/change/")
    summary = page.locator("section.kura-panel", has=page.locator("h2", has_text="Clinical summary"))
    row = summary.locator("tbody tr", has_text="Vitals check")
    assert "Heart rate: 72 bpm" in row.inner_text()


def test_biomarker_charts_draw_one_point_per_day_with_out_of_range_markers(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    page.goto(f"/admin/patients/patient/{clinic.patient.pk}/change/")
    panel = page.locator("section.kura-panel", has=page.locator("h2", has_text="Biomarkers"))
    panel.scroll_into_view_if_needed()
    screenshot(page, "patient")

    charts = panel.locator("figure.kura-biomarker-chart")
    assert charts.count() == 2
    steps = charts.filter(has_text="Steps")
    caption = steps.locator("figcaption").inner_text()
    assert caption == "Steps (count) — 10 readings, last day mean 6000.0, 3 outside the reference range"
    svg = steps.locator("svg")
    assert svg.is_visible()
    points = svg.locator("polyline.mean").get_attribute("points").split()
    assert len(points) == 10  # ten days with readings, one point each
    assert svg.locator("circle.out-of-reference").count() == 3  # 3100, 4000 and 2000 steps are under 5000
    assert svg.locator("rect.reference-band").count() == 1
    assert svg.get_attribute("aria-label") == "Steps: 10 readings, 3 periods outside the reference range"

    depression = charts.filter(has_text="Voice depression score")
    assert depression.locator("polyline.mean").get_attribute("points").count(",") == 2

    # Another period redraws the chart from the server: a week shows the readings of the last seven days, and
    # the page comes back to the charts, not to the top of the chart.
    panel.get_by_role("link", name="7 days").click()
    page.wait_for_url("**?biomarker_days=7#biomarkers")
    screenshot(page, "week")
    week = page.locator("figure.kura-biomarker-chart", has_text="Steps")
    assert week.locator("figcaption").inner_text().startswith("Steps (count) — 6 readings")
    assert len(week.locator("polyline.mean").get_attribute("points").split()) == 6
