"""Vital signs as clinicians write them: parsing, units, plausible ranges, the entry service (all or nothing) and
the admin pages (entry form, structured event form, readings on vital rows)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.clinical import services
from apps.clinical.models import ClinicalEvent, Vital
from apps.clinical.services import encounter_create
from apps.clinical.vitals import ReadingError, parse_blood_pressure, parse_measurement
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

EARLIER = timezone.now() - dt.timedelta(minutes=10)


@pytest.mark.parametrize("text", ["128/82", " 128 / 82 ", "128/82 mmHg"])
def test_blood_pressure_is_read_as_written(text):
    assert parse_blood_pressure(text) == {"systolic": 128, "diastolic": 82}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("128/", "Write blood pressure as systolic/diastolic, e.g. 128/82."),
        ("128", "Write blood pressure as systolic/diastolic, e.g. 128/82."),
        ("82/128", "Blood pressure out of range (diastolic 40-300, below systolic)."),
        ("400/82", "Blood pressure out of range (diastolic 40-300, below systolic)."),
    ],
)
def test_unreadable_or_implausible_blood_pressure_is_refused(text, message):
    with pytest.raises(ReadingError) as refused:
        parse_blood_pressure(text)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("vital_type", "text", "unit", "value"),
    [
        ("heart_rate", "72", None, 72),
        ("temperature", "36.8", "Cel", 36.8),
        ("temperature", "98.6", "degF", 37.0),
        ("temperature", "98.6 F", None, 37.0),
        ("temperature", "37,2", None, 37.2),
        ("weight", "180", "lb", 81.65),
        ("weight", "72.5 kg", "lb", 72.5),  # the unit written wins over the form's choice
        ("height", "70 in", None, 177.8),
        ("oxygen_saturation", "97%", None, 97),
        ("respiratory_rate", "16", None, 16),
    ],
)
def test_measurements_are_converted_to_the_records_unit(vital_type, text, unit, value):
    assert parse_measurement(vital_type, text, unit) == {"value": value}


@pytest.mark.parametrize(
    ("vital_type", "text", "unit", "message"),
    [
        ("weight", "720", "kg", "Outside the plausible range 0.30-500.00 kg."),
        ("temperature", "120", "degF", "Outside the plausible range 86.0-113.0 °F."),
        ("heart_rate", "7200", None, "Outside the plausible range 20-300 bpm."),
        ("heart_rate", "fast", None, "Write a number, e.g. 72."),
        ("heart_rate", "72 kg", None, "Use bpm."),
        ("weight", "80 stone", None, "Use kg or lb."),
    ],
)
def test_bad_measurements_are_refused_without_repeating_them(vital_type, text, unit, message):
    with pytest.raises(ReadingError) as refused:
        parse_measurement(vital_type, text, unit)
    assert str(refused.value) == message


READINGS = {
    "blood_pressure": ("128/82", None),
    "heart_rate": ("72", None),
    "temperature": ("98.6", "degF"),
    "weight": ("180", "lb"),
    "height": ("70", "in"),
    "oxygen_saturation": ("", None),
}


def stored(org):
    with as_tenant(org):
        return sorted(
            (v.vital_type, v.unit, str(sorted(v.measurement_value.items()))) for v in Vital.objects.all()
        ), ClinicalEvent.objects.count()


def test_a_vitals_entry_is_one_synthetic_event_with_a_row_per_reading(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
        event = services.vitals_record(
            patient=patient, measured_at=EARLIER, readings=READINGS, clinical_purposes=["screening", "monitoring"]
        )
        event = ClinicalEvent.objects.get(pk=event.pk)
        assert (event.is_synthetic, event.clinical_purposes, event.event_name) == (
            True,
            ["screening", "monitoring"],
            "Vital signs",
        )
    vitals, events = stored(org_a)
    assert vitals == [
        ("blood_pressure", "mmHg", "[('diastolic', 82), ('systolic', 128)]"),
        ("bmi", "kg/m2", "[('value', 25.8)]"),
        ("heart_rate", "bpm", "[('value', 72)]"),
        ("height", "cm", "[('value', 177.8)]"),
        ("temperature", "Cel", "[('value', 37.0)]"),
        ("weight", "kg", "[('value', 81.65)]"),
    ]
    assert events == 1
    assert stored(org_b) == ([], 0)


@pytest.mark.parametrize(
    ("readings", "purposes", "errors"),
    [
        (
            {**READINGS, "blood_pressure": ("128/", None)},
            ["monitoring"],
            {"blood_pressure": ["Write blood pressure as systolic/diastolic, e.g. 128/82."]},
        ),
        (
            {**READINGS, "weight": ("720", "kg")},
            ["monitoring"],
            {"weight": ["Outside the plausible range 0.30-500.00 kg."]},
        ),
        ({"heart_rate": (" ", None)}, ["monitoring"], {"readings": ["Enter at least one vital sign."]}),
        (
            READINGS,
            ["curiosity"],
            {"clinical_purposes": [f"Choose one or more of: {', '.join(ClinicalEvent.Purpose.values)}."]},
        ),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(org_a, readings, purposes, errors):
    with as_tenant(org_a):
        patient = PatientFactory()
        with pytest.raises(ValidationError) as refused:
            services.vitals_record(patient=patient, measured_at=EARLIER, readings=readings, clinical_purposes=purposes)
    assert refused.value.message_dict == errors
    assert stored(org_a) == ([], 0)


def test_a_future_measurement_time_is_refused(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        with pytest.raises(ValidationError) as refused:
            services.vitals_record(
                patient=patient, measured_at=timezone.now() + dt.timedelta(days=1), readings=READINGS
            )
    assert refused.value.message_dict == {"measured_at": ["This time is in the future."]}
    assert stored(org_a) == ([], 0)


# --- the admin pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def clinic(committed):
    org, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        patient = PatientFactory()
        encounter = encounter_create(patient=patient, encounter_type="outpatient", started_at=EARLIER)
    return {"org": org, "org_b": org_b, "patient": patient, "encounter": encounter}


def entry_url(patient):
    return reverse("admin:clinical_vitals_entry", args=[patient.pk])


FORM = {
    "measured_at": timezone.localtime(EARLIER).strftime("%Y-%m-%d %H:%M"),
    "blood_pressure": "128/82",
    "heart_rate": "72",
    "respiratory_rate": "",
    "temperature": "98.6",
    "temperature_unit": "degF",
    "oxygen_saturation": "",
    "weight": "180",
    "weight_unit": "lb",
    "height": "",
    "height_unit": "cm",
    "clinical_purposes": ["monitoring"],
}


def test_the_vitals_page_records_readings_as_typed(clinic):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    encounter_page = client.get(reverse("admin:clinical_encounter_change", args=[clinic["encounter"].pk]))
    assert f"{entry_url(clinic['patient'])}?encounter={clinic['encounter'].pk}" in encounter_page.content.decode()
    form = client.get(entry_url(clinic["patient"])).content.decode()
    assert 'name="blood_pressure"' in form
    assert '<option value="degF">°F</option>' in form
    assert 'type="checkbox" name="clinical_purposes" value="monitoring"' in form
    response = client.post(entry_url(clinic["patient"]), {**FORM, "encounter": str(clinic["encounter"].pk)})
    assert response.status_code == 302
    vitals, events = stored(clinic["org"])
    assert [row[0] for row in vitals] == ["blood_pressure", "heart_rate", "temperature", "weight"]
    assert events == 1
    with as_tenant(clinic["org"]):
        assert ClinicalEvent.objects.get().encounter_id == clinic["encounter"].pk
    # The event's page: purposes are check boxes, internal fields are not inputs, a vital shows its reading.
    page = client.get(response["Location"]).content.decode()
    assert 'type="checkbox" name="clinical_purposes" value="monitoring"' in page
    assert 'name="event_name"' in page
    assert 'name="patient"' in page
    assert 'name="is_synthetic"' not in page
    assert 'name="clinical_identity_key"' not in page
    assert 'name="vitals-0-measurement_value"' not in page
    assert 'value="128/82"' in page


@pytest.mark.parametrize(
    ("change", "field"),
    [({"blood_pressure": "128/"}, "blood_pressure"), ({"weight": "720", "weight_unit": "kg"}, "weight")],
)
def test_bad_input_on_the_vitals_page_names_the_field_and_stores_nothing(clinic, change, field):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    response = client.post(entry_url(clinic["patient"]), {**FORM, **change})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [field]
    assert stored(clinic["org"]) == ([], 0)


def test_the_vitals_page_is_closed_to_coaches_and_other_organizations(clinic):
    coach = logged_in(add_member(clinic["org"], Role.COACH))
    assert coach.post(entry_url(clinic["patient"]), FORM).status_code == 403
    b_clinician = logged_in(add_member(clinic["org_b"], Role.CLINICIAN))
    assert b_clinician.post(entry_url(clinic["patient"]), FORM).status_code == 404
    assert stored(clinic["org"]) == ([], 0)


# --- the API -------------------------------------------------------------------------------------------------------


def post_vitals(client, patient, **body):
    payload = {"measured_at": EARLIER.isoformat(), **body}
    return client.post(f"/api/v1/patients/{patient.pk}/vitals/", payload, content_type="application/json")


def test_the_api_records_vitals_as_written(clinic):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    response = post_vitals(
        client,
        clinic["patient"],
        blood_pressure="128/82",
        heart_rate=72,
        temperature="98.6",
        temperature_unit="degF",
        encounter_id=str(clinic["encounter"].pk),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_synthetic"] is True
    assert body["clinical_purposes"] == ["monitoring"]
    assert sorted((v["vital_type"], v["unit"]) for v in body["details"]["vitals"]) == [
        ("blood_pressure", "mmHg"),
        ("heart_rate", "bpm"),
        ("temperature", "Cel"),
    ]
    assert body["encounter_id"] == str(clinic["encounter"].pk)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"blood_pressure": "128/"}, "blood_pressure"),
        ({"blood_pressure": "128/82", "weight": "720", "weight_unit": "kg"}, "weight"),
        ({"heart_rate": "72", "temperature_unit": "kelvin"}, "temperature_unit"),
        ({}, "readings"),
    ],
)
def test_bad_vitals_are_a_400_naming_the_field_and_store_nothing(clinic, body, field):
    client = logged_in(add_member(clinic["org"], Role.CLINICIAN))
    response = post_vitals(client, clinic["patient"], **body)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert "720" not in response.json()["error"]["message"]
    assert stored(clinic["org"]) == ([], 0)


def test_vitals_for_another_organizations_patient_are_a_404(clinic):
    b_clinician = logged_in(add_member(clinic["org_b"], Role.CLINICIAN))
    assert post_vitals(b_clinician, clinic["patient"], heart_rate="72").status_code == 404
    coach = logged_in(add_member(clinic["org"], Role.COACH))
    assert post_vitals(coach, clinic["patient"], heart_rate="72").status_code == 403
    assert stored(clinic["org"]) == ([], 0)
