"""Partners and their API keys in the admin are the owner's: no other staff role lists, issues or revokes them."""

from __future__ import annotations

import pytest

from apps.organizations import keys
from apps.organizations.models import APIKey, Organization, Partner
from apps.organizations.roles import Role
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in

pytestmark = pytest.mark.django_db

NOT_OWNERS = [Role.CLINICIAN, Role.COACH, Role.BILLING, Role.FRONT_DESK]
CHANGELIST = "/admin/organizations/apikey/"


def _key(organization: Organization, raw_key: str) -> APIKey:
    with as_tenant(organization):
        return APIKey.objects.get(prefix=keys.parse_prefix(raw_key))


@pytest.mark.parametrize("role", NOT_OWNERS)
def test_other_roles_cannot_list_issue_or_revoke_api_keys_and_the_key_keeps_working(org_a, role):
    raw_key = issue_key(org_a)
    key = _key(org_a, raw_key)
    client = logged_in(add_member(org_a, role))

    listing = client.get(CHANGELIST)
    revoke = client.post(CHANGELIST, {"action": "revoke", "_selected_action": [str(key.pk)]})
    pages = [
        client.get(f"{CHANGELIST}add/").status_code,
        client.get(f"{CHANGELIST}{key.pk}/change/").status_code,
        client.get("/admin/organizations/partner/").status_code,
        client.get("/admin/organizations/partner/add/").status_code,
    ]

    assert (listing.status_code, revoke.status_code, pages) == (403, 403, [403, 403, 403, 403])
    assert raw_key not in listing.content.decode()
    assert _key(org_a, raw_key).revoked_at is None
    assert api_client(raw_key).get("/api/v1/patients/").status_code == 200
    assert b"API keys" not in client.get("/admin/").content  # nor in the menu


def test_the_owner_lists_and_revokes_api_keys_of_its_own_organization_only(org_a, org_b):
    raw_key, other_key = issue_key(org_a), issue_key(org_b)
    key, other = _key(org_a, raw_key), _key(org_b, other_key)
    client = logged_in(add_member(org_a, Role.OWNER))

    listing = client.get(CHANGELIST)
    revoke = client.post(CHANGELIST, {"action": "revoke", "_selected_action": [str(key.pk), str(other.pk)]})

    assert (listing.status_code, revoke.status_code) == (200, 302)
    assert f"{CHANGELIST}{key.pk}/change/" in listing.content.decode()
    assert f"{CHANGELIST}{other.pk}/change/" not in listing.content.decode()
    assert api_client(raw_key).get("/api/v1/patients/").status_code == 401
    assert _key(org_b, other_key).revoked_at is None
    assert api_client(other_key).get("/api/v1/patients/").status_code == 200
    with as_tenant(org_b):
        assert Partner.objects.count() == 1


def test_an_action_on_a_forged_selection_changes_nothing_and_says_so(org_a, org_b):
    raw_key = issue_key(org_a)
    key = _key(org_a, raw_key)
    client = logged_in(add_member(org_a, Role.OWNER))

    revoke = client.post(CHANGELIST, {"action": "revoke", "index": "0", "_selected_action": [str(key.pk), "x"]})

    assert revoke.status_code == 302
    assert "The selection names rows that do not exist. Nothing was changed." in client.get(CHANGELIST).content.decode()
    assert _key(org_a, raw_key).revoked_at is None
    assert api_client(raw_key).get("/api/v1/patients/").status_code == 200
