"""The clinic's time zone: stored in UTC, shown and read in the organization's IANA zone."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from apps.clinical.models import Encounter
from apps.organizations.models import Organization
from apps.organizations.roles import Role
from apps.organizations.time_zones import local_datetime, organization_zone, zone_named
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

# 15:24 UTC on a January day is 9:24 in Chicago (CST, UTC-6).
WALK_IN = dt.datetime(2026, 1, 15, 15, 24, tzinfo=dt.UTC)


def set_zone(organization: Organization, name: str) -> None:
    with as_tenant(organization):
        organization.time_zone = name
        organization.full_clean()
        organization.save()


def walk_in(organization: Organization) -> Encounter:
    with as_tenant(organization):
        patient = PatientFactory()
        return Encounter.objects.create(patient=patient, encounter_type="outpatient", started_at=WALK_IN)


def test_a_walk_in_at_9_24_local_shows_as_9_24_in_the_admin_and_is_stored_in_utc(org_a, org_b):
    set_zone(org_a, "America/Chicago")
    encounter_a = walk_in(org_a)
    walk_in(org_b)  # org B keeps UTC
    desk_a = add_member(org_a, Role.FRONT_DESK)
    desk_b = add_member(org_b, Role.FRONT_DESK)

    listing_a = logged_in(desk_a).get("/admin/clinical/encounter/").content.decode()
    form_a = logged_in(desk_a).get(f"/admin/clinical/encounter/{encounter_a.pk}/change/").content.decode()
    listing_b = logged_in(desk_b).get("/admin/clinical/encounter/").content.decode()

    assert "Jan. 15, 2026, 9:24 a.m." in listing_a
    assert "3:24 p.m." not in listing_a
    assert 'value="09:24:00"' in form_a
    assert "Jan. 15, 2026, 3:24 p.m." in listing_b
    with as_tenant(org_a):
        assert Encounter.objects.get(pk=encounter_a.pk).started_at == WALK_IN


def test_a_time_typed_in_an_admin_form_is_read_in_the_clinic_zone(org_a):
    set_zone(org_a, "America/Chicago")
    encounter = walk_in(org_a)
    clinician = add_member(org_a, Role.CLINICIAN)

    response = logged_in(clinician).post(
        f"/admin/clinical/encounter/{encounter.pk}/change/",
        {
            "patient": str(encounter.patient_id),
            "encounter_type": "outpatient",
            "place_of_service": "11",
            "started_at_0": "2026-01-15",
            "started_at_1": "10:05:00",
            "data_classification": "CLINICAL_PHI",
        },
    )

    assert response.status_code == 302
    with as_tenant(org_a):
        assert Encounter.objects.get(pk=encounter.pk).started_at == dt.datetime(2026, 1, 15, 16, 5, tzinfo=dt.UTC)


def test_an_unknown_zone_is_refused_and_nothing_changes(org_a):
    with as_tenant(org_a):
        org_a.time_zone = "Mars/Olympus_Mons"
        with pytest.raises(ValidationError) as refused:
            org_a.full_clean()
        assert set(refused.value.message_dict) == {"time_zone"}
        assert Organization.objects.get(pk=org_a.pk).time_zone == "UTC"


def test_the_organization_zone_follows_the_context_and_wall_times_survive_dst(org_a, org_b):
    set_zone(org_a, "America/New_York")
    with as_tenant(org_a):
        assert organization_zone() == zone_named("America/New_York")
    with as_tenant(org_b):
        assert organization_zone() == zone_named("UTC")
    new_york = zone_named("America/New_York")
    before = local_datetime(dt.date(2026, 3, 2), dt.time(9, 0), new_york)
    after = local_datetime(dt.date(2026, 3, 9), dt.time(9, 0), new_york)
    assert before.astimezone(dt.UTC).hour == 14
    assert after.astimezone(dt.UTC).hour == 13
    # 2:30 on the spring-forward night does not exist: it is 3:30 local.
    skipped = local_datetime(dt.date(2026, 3, 8), dt.time(2, 30), new_york)
    assert (skipped.hour, skipped.minute) == (3, 30)
