"""`OutputSerializer` renders exactly what DRF's own `Serializer.to_representation` renders over the same
declared fields: same keys, same order, same values, for every kind of field and value it takes a short cut for
and for those it leaves to DRF."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ObjectDoesNotExist
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework import serializers

from apps.clinical import services as clinical_services
from apps.clinical.models import HealthEvent
from apps.clinical.timeline import services as timeline_services
from apps.clinical.timeline.api import HealthEventOutput
from apps.organizations import context
from apps.organizations.rendering import OutputListSerializer, OutputSerializer
from apps.organizations.roles import Role
from apps.patients.api import PatientOutput
from apps.patients.models import Patient
from tests.conftest import api_client, as_tenant
from tests.factories import PatientFactory
from tests.logins import sign_in


def drf(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    return dict(serializers.Serializer.to_representation(serializer_class(), instance))


def assert_same(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    fast = serializer_class(instance).data
    expected = drf(serializer_class, instance)
    assert list(fast) == list(expected)
    assert json.dumps(fast) == json.dumps(expected)
    return dict(fast)


class Nested(serializers.Serializer):
    code = serializers.CharField()


class EveryKind(OutputSerializer):
    text = serializers.CharField()
    key = serializers.UUIDField()
    hex_key = serializers.UUIDField(format="hex")
    count = serializers.IntegerField()
    ratio = serializers.FloatField(allow_null=True)
    payload = serializers.JSONField()
    at = serializers.DateTimeField()
    at_local = serializers.DateTimeField(default_timezone=dt.timezone(dt.timedelta(hours=-5)))
    at_formatted = serializers.DateTimeField(format="%d/%m/%Y %H:%M")
    day = serializers.DateField()
    amount = serializers.DecimalField(max_digits=8, decimal_places=2)
    status = serializers.ChoiceField(choices=[("a", "Active")])
    flag = serializers.BooleanField()
    label = serializers.SerializerMethodField()
    renamed = serializers.CharField(source="text")
    dotted = serializers.CharField(source="inner.code")
    whole = Nested(source="inner")
    computed = serializers.IntegerField(source="size")
    optional = serializers.CharField(required=False)
    defaulted = serializers.CharField(default="none")
    secret = serializers.CharField(write_only=True)

    def get_label(self, instance: Any) -> str:
        return f"{instance.text}!" if not isinstance(instance, dict) else f"{instance['text']}!"


def values(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "text": "Émile 名前",
        "key": uuid.UUID("0193a3f2-7d1c-7c3b-9a51-5f0e6c7b8a90"),
        "hex_key": uuid.UUID("0193a3f2-7d1c-7c3b-9a51-5f0e6c7b8a90"),
        "count": 7,
        "ratio": Decimal("12.50"),
        "payload": {"a": [1, "two", None]},
        "at": dt.datetime(2026, 3, 29, 1, 30, 0, 500, tzinfo=dt.UTC),
        "at_local": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        "at_formatted": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        "day": dt.date(1900, 1, 1),
        "amount": Decimal("10.5"),
        "status": "a",
        "flag": 1,
        "inner": SimpleNamespace(code="X1"),
        "size": 3,
        "optional": "here",
        "defaulted": "set",
        "secret": "never shown",
    }
    return {**base, **overrides}


TOKYO = dt.timezone(dt.timedelta(hours=9))
CASES = {
    "object": SimpleNamespace(**values()),
    "mapping": {**values(), "inner": {"code": "X1"}},
    "nulls": SimpleNamespace(**values(text=None, key=None, ratio=None, payload=None, at=None, day=None)),
    "missing, with a default": SimpleNamespace(**{k: v for k, v in values().items() if k != "defaulted"}),
    "without an optional attribute": SimpleNamespace(**{k: v for k, v in values().items() if k != "optional"}),
    "without an optional key": {k: v for k, v in values(inner={"code": "X2"}).items() if k != "optional"},
    "with a callable attribute": SimpleNamespace(**values(size=lambda: 4)),
    "with a callable JSON attribute": SimpleNamespace(**values(payload=lambda: {"made": "by a call"})),
    "naive datetime": SimpleNamespace(**values(at=dt.datetime(2026, 1, 1, 12, 0))),
    "offset datetime": SimpleNamespace(**values(at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=TOKYO))),
    "text given for a date and a datetime": SimpleNamespace(**values(day="2026-01-01", at="2026-01-01T00:00:00Z")),
    "numbers as text": SimpleNamespace(**values(count="12", ratio="0.25", text=12)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_every_kind_of_field_renders_as_drf_renders_it(case):
    rendered = assert_same(EveryKind, CASES[case])
    assert "secret" not in rendered


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_a_list_renders_each_row_as_drf_renders_it(zone):
    instances = list(CASES.values())
    with timezone.override(zone):
        fast = EveryKind(instances, many=True).data
        expected = [drf(EveryKind, instance) for instance in instances]
    assert [list(row) for row in fast] == [list(row) for row in expected]
    assert json.dumps(fast) == json.dumps(expected)


class WithoutRelated:
    """An object whose related row does not exist (as a row hidden by row-level security reads)."""

    def __init__(self) -> None:
        self.__dict__.update(values())

    @property
    def key(self) -> uuid.UUID:
        raise ObjectDoesNotExist


def test_a_missing_related_row_renders_null_as_in_drf():
    rendered = assert_same(EveryKind, WithoutRelated())
    assert rendered["key"] is None


class WithRelatedKey(OutputSerializer):
    id = serializers.UUIDField()
    supersedes = serializers.PrimaryKeyRelatedField(read_only=True, pk_field=serializers.UUIDField())


def test_a_null_related_key_renders_null_as_in_drf():
    event = HealthEvent(id=uuid.uuid4(), supersedes_id=None)
    assert assert_same(WithRelatedKey, event) == {"id": str(event.id), "supersedes": None}
    later = HealthEvent(id=uuid.uuid4(), supersedes_id=event.id)
    assert assert_same(WithRelatedKey, later)["supersedes"] == str(event.id)


class OwnRows(EveryKind):
    def to_representation(self, instance: Any) -> dict[str, Any]:
        return {**super().to_representation(instance), "extra": 1}


class Narrowed(EveryKind):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("text")


def test_a_subclass_renders_its_own_rows_and_fields_in_a_list_too():
    instances = [CASES["object"], CASES["mapping"]]
    assert [row["extra"] for row in OwnRows(instances, many=True).data] == [1, 1]
    assert OwnRows(instances[0]).data["extra"] == 1
    narrowed = Narrowed(instances, many=True).data
    assert [list(row) for row in narrowed] == [
        [name for name in drf(EveryKind, i) if name != "text"] for i in instances
    ]


def refuse_output_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """DRF's generic rendering fails for an OutputSerializer row (nested DRF serializers still render)."""
    generic = serializers.Serializer.to_representation

    def refuse(self: Any, instance: Any) -> Any:
        if isinstance(self, OutputSerializer):
            raise AssertionError(f"{type(self).__name__} rendered a row through DRF")
        return generic(self, instance)

    monkeypatch.setattr(serializers.Serializer, "to_representation", refuse)


def test_the_short_cut_renders_common_rows_without_drf(monkeypatch):
    expected = {name: drf(EveryKind, CASES[name]) for name in ("object", "mapping", "nulls", "numbers as text")}
    refuse_output_rows(monkeypatch)
    for name, rendered in expected.items():
        assert json.dumps(EveryKind(CASES[name]).data) == json.dumps(rendered)
        assert json.dumps(EveryKind([CASES[name]], many=True).data) == json.dumps([rendered])


def test_a_datetime_where_a_date_is_declared_is_refused_as_in_drf():
    instance = SimpleNamespace(**values(day=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)))
    with pytest.raises(AssertionError, match="Expected a `date`"):
        EveryKind(instance).data  # noqa: B018
    with pytest.raises(AssertionError, match="Expected a `date`"):
        drf(EveryKind, instance)


def test_a_missing_required_attribute_fails_as_in_drf():
    instance = SimpleNamespace(**{k: v for k, v in values().items() if k != "count"})
    with pytest.raises(AttributeError):
        EveryKind(instance).data  # noqa: B018
    with pytest.raises(AttributeError):
        drf(EveryKind, instance)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/St_Johns", "UTC"])
def test_datetimes_render_in_the_current_time_zone_as_in_drf(zone):
    instance = SimpleNamespace(**values(at=dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.UTC)))
    with timezone.override(zone):
        if zone == "America/St_Johns":
            # Year 1 has no room west of UTC: DRF refuses it, and so does the fast path.
            with pytest.raises(serializers.ValidationError):
                EveryKind(instance).data  # noqa: B018
            instance = SimpleNamespace(**values())
        rendered = assert_same(EveryKind, instance)
    assert rendered["at"].endswith("Z") == (zone == "UTC")


def test_the_declared_fields_are_what_the_schema_shows():
    serializer = EveryKind()
    assert list(serializer.fields) == list(EveryKind._declared_fields)
    assert [name for name, field in serializer.fields.items() if not field.write_only] == list(
        EveryKind(SimpleNamespace(**values(optional="x"))).data
    )


@pytest.mark.django_db
def test_patient_and_health_event_outputs_render_as_drf_and_take_the_short_cut(org_a, org_b, monkeypatch):
    with as_tenant(org_a):
        patient = PatientFactory(preferred_name="", email="a@example.org", ssn="123-45-6789")
        event = HealthEvent.objects.create(
            patient=patient,
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={"text": "Slept badly", "tags": ["sleep"]},
            occurred_at=dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
            source="staff",
        )
        patient.refresh_from_db()
        event.refresh_from_db()
        rendered = assert_same(PatientOutput, patient)
        event_rendered = assert_same(HealthEventOutput, event)
        refuse_output_rows(monkeypatch)
        assert PatientOutput([patient], many=True).data == [rendered]
        assert HealthEventOutput([event], many=True).data == [event_rendered]
    assert rendered["ssn_masked"].endswith("6789")
    assert "123-45" not in json.dumps(rendered)
    with as_tenant(org_b):
        assert not HealthEvent.objects.filter(pk=event.pk).exists()


GET_PATHS = [
    "/api/v1/patients/?limit=20",
    "/api/v1/patients/{patient}/",
    "/api/v1/patients/{patient}/consents/",
    "/api/v1/patients/{patient}/health-events/",
    "/api/v1/patients/{patient}/assessments/",
    "/api/v1/patients/{patient}/health-events/summary/",
    "/api/v1/patients/{patient}/medication-adherence/",
    "/api/v1/assessments/instruments/",
    "/api/v1/assessment-flags/",
    "/api/v1/encounters/",
    "/api/v1/clinical-events/",
    "/api/v1/biomarkers/patients/{patient}/series/?metric_type={metric}&{period}",
    "/api/v1/biomarkers/patients/{patient}/series/?metric_type={metric}&{period}&bucket=day",
    "/api/v1/biomarkers/patients/{patient}/latest/",
    "/api/v1/biomarkers/metrics/",
    "/api/v1/billing/entries/",
    "/api/v1/billing/patients/{patient}/balance/",
    "/api/v1/billing/installment-plans/",
    "/api/v1/billing/payers/",
    "/api/v1/billing/insurance-policies/",
    "/api/v1/billing/installments/failed/",
    "/api/v1/billing/provider/",
]


def without_clock(body: Any) -> Any:
    """A response without the window a report computes from the current time (adherence: the last 7 days)."""
    if isinstance(body, dict) and "days" in body:
        return {key: value for key, value in body.items() if key not in ("start", "end")}
    return body


@pytest.mark.usefixtures("committed")
def test_api_responses_on_the_demo_data_equal_drfs_own_rendering(monkeypatch):
    seeded = StringIO()
    call_command("seed_demo", "--json", stdout=seeded)
    harbor, summit = json.loads(seeded.getvalue())["organizations"]
    owner = next(user for user in harbor["users"] if user["role"] == Role.OWNER)
    client = Client()
    sign_in(client, owner["username"], owner["password"])
    patients = client.get("/api/v1/patients/?limit=200").json()["results"]
    summit_ids = {p["id"] for p in api_client(summit["api_key"]).get("/api/v1/patients/?limit=200").json()["results"]}
    assert patients
    assert not summit_ids & {p["id"] for p in patients}
    patient = next(
        p["id"]
        for p in patients
        if client.get(f"/api/v1/biomarkers/patients/{p['id']}/latest/").json()
        and client.get(f"/api/v1/patients/{p['id']}/health-events/").json()["results"]
    )
    metric = client.get(f"/api/v1/biomarkers/patients/{patient}/latest/").json()[0]["metric_type"]
    # What the demo data leaves out: an encounter, and a PHQ-9 whose item 9 raises a flag.
    organization_id = client.get("/api/v1/me/").json()["organization"]["id"]
    with context.tenant_context(uuid.UUID(organization_id), Role.OWNER):
        record = Patient.objects.get(pk=patient)
        clinical_services.encounter_create(
            patient=record, encounter_type="telehealth", started_at=timezone.now() - dt.timedelta(days=2)
        )
        timeline_services.assessment_complete(patient=record, instrument="phq9", answers=[2] * 8 + [1])
    end = timezone.now().replace(microsecond=0)
    period = f"start={(end - dt.timedelta(days=90)):%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    paths = [path.format(patient=patient, metric=metric, period=period) for path in GET_PATHS]

    fast = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        fast[path] = response.json()
    monkeypatch.setattr(OutputSerializer, "to_representation", serializers.Serializer.to_representation)
    monkeypatch.setattr(OutputListSerializer, "to_representation", serializers.ListSerializer.to_representation)
    for path in paths:
        assert without_clock(client.get(path).json()) == without_clock(fast[path]), path
    # The demo data fills what is compared: rows of every kind the short cut renders.
    series_raw, series_day = (fast[path] for path in paths if "/series/" in path)
    assert series_raw["points"]
    assert series_day["buckets"]
    for path in (
        "/api/v1/encounters/",
        "/api/v1/clinical-events/",
        "/api/v1/billing/entries/",
        "/api/v1/assessment-flags/",
    ):
        assert fast[path]["results"], path
    assert fast[f"/api/v1/patients/{patient}/assessments/"]["results"]
