"""People in the admin: an owner manages memberships of their own organization, never another person's identity,
and no page lists, offers or accepts a user who is not a member of the active organization."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import User
from django.db import ProgrammingError, transaction

from apps.organizations import services
from apps.organizations.admin_base import TenantModelAdmin
from apps.organizations.models import Membership
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in

MEMBERSHIPS = "/admin/organizations/membership/"
B_NAMES = ("summit-only-owner", "summit-only-coach")


@pytest.fixture
def people(org_a, org_b):
    """Org A's owner; org B's own people; and a person who works at both (joined A by invitation)."""
    owner_a = add_member(org_a, Role.OWNER, username="harbor-boss")
    b_owner = add_member(org_b, Role.OWNER, username=B_NAMES[0], email="boss@b.example")
    b_coach = add_member(org_b, Role.COACH, username=B_NAMES[1], email="coach@b.example")
    shared = add_member(org_b, Role.CLINICIAN, username="both-clinics", email="both@b.example")
    with as_tenant(org_a):
        services.membership_create(user=shared, role=Role.COACH)
    return {"owner_a": owner_a, "b_owner": b_owner, "b_coach": b_coach, "shared": shared}


def identity(user):
    user.refresh_from_db()
    return user.username, user.email, user.is_active, user.is_staff, user.is_superuser, user.password


def memberships(organization):
    with as_tenant(organization):
        return set(
            Membership.objects.filter(organization_id=organization.id).values_list(
                "user__username", "role", "is_active"
            )
        )


def test_no_page_offers_a_way_to_add_a_person_to_the_organization(people, org_a):
    client = logged_in(people["owner_a"])

    add_page = client.get(f"{MEMBERSHIPS}add/")
    listing = client.get(MEMBERSHIPS).content.decode()

    assert add_page.status_code == 403
    for name in B_NAMES:
        assert name not in add_page.content.decode()
        assert name not in listing
    assert f'href="{MEMBERSHIPS}add/"' not in listing


def test_posting_a_membership_for_another_organizations_user_is_refused_and_stores_nothing(people, org_a, org_b):
    client = logged_in(people["owner_a"])
    before_a, before_b = memberships(org_a), memberships(org_b)

    response = client.post(f"{MEMBERSHIPS}add/", {"user": people["b_owner"].pk, "role": Role.OWNER, "is_active": "on"})

    assert response.status_code == 403
    assert memberships(org_a) == before_a
    assert memberships(org_b) == before_b


def test_no_user_picker_or_list_of_any_admin_page_shows_another_organizations_people(people, org_a):
    client = logged_in(people["owner_a"])
    models = list(admin.site._registry)
    pages = [f"/admin/{m._meta.app_label}/{m._meta.model_name}/add/" for m in models]
    pages += [f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in models]
    with as_tenant(org_a):
        membership = Membership.objects.get(user=people["shared"], organization_id=org_a.id)
        version = membership.history.latest()
    # The change form and a history version (simple-history's revert form) of a membership.
    pages += [f"{MEMBERSHIPS}{membership.pk}/change/", f"{MEMBERSHIPS}{membership.pk}/history/{version.pk}/"]
    # Django's autocomplete endpoint, asked for the membership's user field.
    pages.append("/admin/autocomplete/?app_label=organizations&model_name=membership&field_name=user&term=summit")

    shown = {page: client.get(page) for page in pages}

    unexpected = {page: r.status_code for page, r in shown.items() if r.status_code not in (200, 403)}
    assert unexpected == {}
    assert sum(response.status_code == 200 for response in shown.values()) > 20
    for page, response in shown.items():
        for name in B_NAMES:
            assert name not in response.content.decode(), page


def test_user_pickers_offer_only_active_members_of_the_organization(people, org_a):
    left = add_member(org_a, Role.COACH, username="left-the-clinic")
    with as_tenant(org_a):
        Membership.objects.filter(user=left).update(is_active=False)
    request = logged_in(people["owner_a"]).get(MEMBERSHIPS).wsgi_request
    field = Membership._meta.get_field("user")

    with as_tenant(org_a):
        for model_admin in admin.site._registry.values():
            offered = set(model_admin.get_field_queryset(None, field, request).values_list("username", flat=True))
            assert offered == {"harbor-boss", "both-clinics"}


def test_the_membership_form_changes_role_and_active_flag_never_the_person(people, org_a, org_b):
    client = logged_in(people["owner_a"])
    with as_tenant(org_a):
        membership = Membership.objects.get(user=people["shared"], organization_id=org_a.id)
    before = identity(people["shared"])

    response = client.post(
        f"{MEMBERSHIPS}{membership.pk}/change/",
        {"user": people["b_owner"].pk, "role": Role.BILLING, "is_active": "", "username": "renamed"},
    )

    assert response.status_code == 302
    assert ("both-clinics", Role.BILLING.value, False) in memberships(org_a)
    assert not any(name in B_NAMES for name, _, _ in memberships(org_a))
    assert identity(people["shared"]) == before
    assert memberships(org_b) == {
        (B_NAMES[0], Role.OWNER.value, True),
        (B_NAMES[1], Role.COACH.value, True),
        ("both-clinics", Role.CLINICIAN.value, True),
    }


def test_an_owner_removes_a_membership_and_the_person_keeps_their_identity(people, org_a, org_b):
    client = logged_in(people["owner_a"])
    with as_tenant(org_a):
        membership = Membership.objects.get(user=people["shared"], organization_id=org_a.id)
    before = identity(people["shared"])

    response = client.post(f"{MEMBERSHIPS}{membership.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert memberships(org_a) == {("harbor-boss", Role.OWNER.value, True)}
    assert ("both-clinics", Role.CLINICIAN.value, True) in memberships(org_b)
    assert identity(people["shared"]) == before


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.COACH, Role.BILLING, Role.FRONT_DESK])
def test_memberships_are_the_owners_alone(people, org_a, role):
    client = logged_in(add_member(org_a, role))
    with as_tenant(org_a):
        membership = Membership.objects.get(user=people["shared"], organization_id=org_a.id)
    before = memberships(org_a)

    listing = client.get(MEMBERSHIPS)
    changed = client.post(f"{MEMBERSHIPS}{membership.pk}/change/", {"role": Role.OWNER, "is_active": "on"})
    deleted = client.post(f"{MEMBERSHIPS}{membership.pk}/delete/", {"post": "yes"})

    assert (listing.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert memberships(org_a) == before


@pytest.mark.parametrize("whose", ["b_owner", "b_coach", "shared"])
def test_no_owner_reaches_another_persons_user_page_or_password_form(people, whose):
    client = logged_in(people["owner_a"])
    target = people[whose]
    before = identity(target)
    user_url = f"/admin/auth/user/{target.pk}/"

    pages = [client.get("/admin/auth/user/"), client.get(f"{user_url}change/"), client.get(f"{user_url}password/")]
    renamed = client.post(f"{user_url}change/", {"username": "taken-over", "is_active": ""})
    password = client.post(
        f"{user_url}password/", {"password1": "attacker-chosen-99", "password2": "attacker-chosen-99"}
    )

    assert [page.status_code for page in pages] == [404, 404, 404]
    assert (renamed.status_code, password.status_code) == (404, 404)
    assert identity(target) == before
    assert target.check_password("correct-horse-battery")


def test_a_person_changes_their_own_password(people):
    user = people["shared"]
    client = logged_in(user)

    response = client.post(
        "/admin/password_change/",
        {
            "old_password": "correct-horse-battery",
            "new_password1": "quiet-harbor-lamp-77",
            "new_password2": "quiet-harbor-lamp-77",
        },
    )

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("quiet-harbor-lamp-77")


def test_every_admin_page_class_keeps_the_global_admin_log_empty():
    # TenantModelAdmin is the one place that turns Django's LogEntry writes off.
    assert all(isinstance(model_admin, TenantModelAdmin) for model_admin in admin.site._registry.values())
    assert User not in admin.site._registry


def test_adding_changing_and_deleting_in_the_admin_writes_no_global_log_row(
    people, org_a, django_capture_on_commit_callbacks
):
    client = logged_in(people["owner_a"])
    with as_tenant(org_a):
        membership = Membership.objects.get(user=people["shared"], organization_id=org_a.id)

    with django_capture_on_commit_callbacks(execute=True):
        invited = client.post("/admin/organizations/invitation/add/", {"email": "p@example.org", "role": "coach"})
    added = client.post("/admin/organizations/partner/add/", {"name": "Wearable Co", "kind": "wearable"})
    changed = client.post(f"{MEMBERSHIPS}{membership.pk}/change/", {"role": Role.BILLING, "is_active": "on"})
    deleted = client.post(f"{MEMBERSHIPS}{membership.pk}/delete/", {"post": "yes"})
    own_password = client.post(
        "/admin/password_change/",
        {
            "old_password": "correct-horse-battery",
            "new_password1": "n3w-lighthouse-k",
            "new_password2": "n3w-lighthouse-k",
        },
    )

    assert [r.status_code for r in (invited, added, changed, deleted, own_password)] == [302] * 5
    assert LogEntry.objects.count() == 0


def test_the_last_active_owner_is_neither_demoted_deactivated_nor_removed(people, org_a):
    client = logged_in(people["owner_a"])
    with as_tenant(org_a):
        own = Membership.objects.get(user=people["owner_a"], organization_id=org_a.id)
    before = memberships(org_a)

    demoted = client.post(f"{MEMBERSHIPS}{own.pk}/change/", {"role": Role.CLINICIAN, "is_active": "on"})
    deactivated = client.post(f"{MEMBERSHIPS}{own.pk}/change/", {"role": Role.OWNER, "is_active": ""})
    removed = client.post(f"{MEMBERSHIPS}{own.pk}/delete/", {"post": "yes"})

    assert demoted.status_code == deactivated.status_code == 200
    assert "The organization needs an active owner" in demoted.content.decode()
    assert removed.status_code == 403
    assert memberships(org_a) == before


def test_with_a_second_owner_an_owner_may_step_down(people, org_a):
    client = logged_in(people["owner_a"])
    with as_tenant(org_a):
        shared = Membership.objects.get(user=people["shared"], organization_id=org_a.id)
        own = Membership.objects.get(user=people["owner_a"], organization_id=org_a.id)
    client.post(f"{MEMBERSHIPS}{shared.pk}/change/", {"role": Role.OWNER, "is_active": "on"})

    response = client.post(f"{MEMBERSHIPS}{own.pk}/change/", {"role": Role.CLINICIAN, "is_active": "on"})

    assert response.status_code == 302
    assert memberships(org_a) == {("harbor-boss", Role.CLINICIAN.value, True), ("both-clinics", Role.OWNER.value, True)}


def test_the_runtime_role_cannot_write_the_global_admin_log(org_a):
    owner = add_member(org_a, Role.OWNER)
    with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
        LogEntry.objects.log_actions(user_id=owner.pk, queryset=User.objects.filter(pk=owner.pk), action_flag=ADDITION)
    assert LogEntry.objects.count() == 0
