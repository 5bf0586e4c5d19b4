"""The readings list: the patient named on each row, the latest reading first, the other organization's absent."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from apps.biomarkers import services
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

from .factories import reading


def test_readings_list_names_the_patient_and_shows_the_latest_first(org_a, org_b):
    now = timezone.now()
    for org, family in ((org_a, "Okafor"), (org_b, "Zabrowski")):
        with as_tenant(org):
            patient = PatientFactory(family_name=family, given_name="Mateo")
            services.biomarker_readings_ingest(
                readings=[
                    reading(patient.pk, captured_at=(now - dt.timedelta(days=days)).isoformat(), value_numeric=steps)
                    for days, steps in ((3, 3000.0), (1, 1000.0), (2, 2000.0))
                ]
            )
        if org == org_a:
            name = patient.display_name
    page = logged_in(add_member(org_a, Role.OWNER)).get(reverse("admin:biomarkers_biomarkerlog_changelist"))

    rows = page.context["cl"].result_list
    assert [(str(r.patient), r.value_numeric) for r in rows] == [(name, 1000.0), (name, 2000.0), (name, 3000.0)]
    html = page.content.decode()
    assert html.count(name) == 3
    assert "Zabrowski" not in html
    assert str(rows[0]) == (f"steps 1000 count, {timezone.localtime(rows[0].captured_at):%Y-%m-%d %H:%M} · {name}")
