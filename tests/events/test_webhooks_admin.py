"""Owners register webhook endpoints in the admin (the secret shown once), see deliveries and replay them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.events import services
from apps.events.models import WebhookDelivery, WebhookEndpoint
from apps.organizations.roles import Role
from apps.patients import services as patient_services
from tests.conftest import add_member, as_tenant, logged_in, make_organization

pytestmark = pytest.mark.usefixtures("committed")

ENDPOINTS = "/admin/events/webhookendpoint/"
DELIVERIES = "/admin/events/webhookdelivery/"


def _form(**fields: object) -> dict[str, object]:
    return {"url": "https://hooks.clinic.example/kura", "event_types": ["patient.created"], "is_active": "on", **fields}


def test_the_owner_registers_an_endpoint_and_sees_its_secret_once():
    org, other = make_organization("org-a"), make_organization("org-b")
    owner = logged_in(add_member(org, Role.OWNER))

    response = owner.post(f"{ENDPOINTS}add/", _form(), follow=True)

    assert response.status_code == 200
    with as_tenant(org):
        endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.event_types, endpoint.api_key_id) == (
        "https://hooks.clinic.example/kura",
        ["patient.created"],
        None,
    )
    assert f"signing secret, shown this once: {endpoint.secret}" in response.content.decode()
    listing = owner.get(ENDPOINTS).content.decode()
    assert endpoint.secret not in listing
    assert endpoint.secret not in owner.get(f"{ENDPOINTS}{endpoint.pk}/change/").content.decode()
    with as_tenant(other):
        assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.clinic.example/kura", "Use an https:// URL."),
        ("https://192.168.10.5/kura", "private, loopback or reserved"),
    ],
)
def test_a_url_production_refuses_is_a_form_error_and_stores_nothing(url, message):
    org = make_organization("org-a")
    owner = logged_in(add_member(org, Role.OWNER))

    with override_settings(KURA_WEBHOOK_HTTPS_ONLY=True, KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY=True):
        response = owner.post(f"{ENDPOINTS}add/", _form(url=url))

    assert response.status_code == 200
    assert message in response.content.decode()
    with as_tenant(org):
        assert WebhookEndpoint.objects.count() == 0


def test_the_owner_pauses_an_endpoint_and_replays_a_delivery():
    org = make_organization("org-a")
    owner = logged_in(add_member(org, Role.OWNER))
    with as_tenant(org):
        endpoint, _secret = services.webhook_endpoint_create(
            url="https://hooks.clinic.example/kura", event_types=["patient.created"]
        )
    with as_tenant(org):
        patient_services.patient_create(
            mrn="A-1", given_name="Ana", family_name="Lima", date_of_birth=dt.date(1990, 1, 1)
        )
    long_ago = timezone.now() - dt.timedelta(days=10)
    with as_tenant(org):
        assert services.webhook_fan_out(now=long_ago) == 1
        delivery = WebhookDelivery.objects.get()

    replay = owner.post(DELIVERIES, {"action": "replay", "_selected_action": [str(delivery.pk)]})
    pause = owner.post(f"{ENDPOINTS}{endpoint.pk}/change/", _form(is_active=""))

    assert (replay.status_code, pause.status_code) == (302, 302)
    with as_tenant(org):
        delivery.refresh_from_db()
        endpoint.refresh_from_db()
        assert delivery.give_up_at > timezone.now() + dt.timedelta(days=2)
        assert endpoint.is_active is False
        assert [h.is_active for h in endpoint.history.order_by("history_date")] == [True, False]
    assert owner.get(f"{DELIVERIES}{delivery.pk}/change/").status_code == 200


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.COACH, Role.BILLING, Role.FRONT_DESK])
def test_other_roles_cannot_register_endpoints(role):
    org = make_organization("org-a")
    client = logged_in(add_member(org, role))

    response = client.post(f"{ENDPOINTS}add/", _form())

    assert response.status_code == 403
    with as_tenant(org):
        assert WebhookEndpoint.objects.count() == 0
