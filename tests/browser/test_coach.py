"""A coach in the browser: wellness data only; no PHI page, no billing page, no other organization."""

from __future__ import annotations

from apps.organizations.roles import Role

PATIENT_NAMES = ("Quillfeather", "Marchetti", "Alma", "Bruno", "Zabrowski", "Okonkwo-B")


def _denied_urls(clinics):
    clinic = clinics["org-a"]
    patient, charge = clinic.patient.pk, clinic.charges["0_30"].pk
    return [
        "/admin/billing/ledgerentry/dashboard/",
        "/admin/billing/ledgerentry/",
        f"/admin/billing/ledgerentry/patient/{patient}/",
        f"/admin/billing/ledgerentry/patient/{patient}/pay/",
        f"/admin/billing/ledgerentry/patient/{patient}/superbill/",
        f"/admin/billing/ledgerentry/patient/{patient}/superbill/?format=pdf",
        f"/admin/billing/ledgerentry/patient/{patient}/statement/",
        f"/admin/billing/ledgerentry/receipt/{charge}/",
        "/admin/billing/insurancepolicy/",
        "/admin/billing/claim/",
        "/admin/patients/phiaccesslog/",
    ]


def test_coach_gets_403_on_every_billing_and_phi_log_page_and_sees_no_names(clinics, open_page, screenshot):
    page = open_page(clinics["org-a"].users[Role.COACH])
    for number, url in enumerate(_denied_urls(clinics)):
        response = page.goto(url)
        screenshot(page, f"denied-{number:02d}")
        assert (url, response.status) == (url, 403)
        assert page.inner_text("h1") == "Permission denied"
        assert "Your role in this organization does not give access to this page." in page.inner_text("#content")
        assert not any(name in response.text() for name in PATIENT_NAMES), url


def test_coach_sees_no_phi_clinical_event_and_no_billing_or_phi_panel(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.COACH])

    page.goto("/admin/clinical/clinicalevent/")
    screenshot(page, "events")
    events = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(events) == 1
    assert clinic.wellness_event_name in events[0]
    assert clinic.phi_event_name not in page.content()

    page.goto(f"/admin/clinical/clinicalevent/{clinic.phi_event_id}/change/")
    screenshot(page, "phi-event")
    assert page.url.endswith("/admin/")
    assert "doesn’t exist" in page.inner_text(".messagelist")
    assert clinic.phi_event_name not in page.content()

    page.goto(f"/admin/patients/patient/{clinic.patient.pk}/change/")
    screenshot(page, "patient")
    panels = page.locator("section.kura-panel h2").all_inner_texts()
    assert "Billing" not in panels
    summary = page.locator("section.kura-panel", has=page.locator("h2", has_text="Clinical summary")).inner_text()
    assert clinic.wellness_event_name in summary
    assert clinic.phi_event_name not in summary
    # Wellness charts only: the step chart is drawn, the depression score (CLINICAL_PHI) is not.
    charts = page.locator("figure.kura-biomarker-chart")
    assert charts.count() == 1
    assert charts.locator("figcaption").inner_text().startswith("Steps (count) — 10 readings")
    assert "Voice depression" not in page.content()
    assert "430.00" not in page.content()
