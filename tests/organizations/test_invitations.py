"""Invitations: owners invite people by e-mail into their own organization; the link creates an identity or adds
the organization to the one the person has; it works once, until it expires, unless revoked."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from apps.organizations import services
from apps.organizations.models import Invitation, Membership
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in
from tests.logins import password_only

ADD = "/admin/organizations/invitation/add/"
LIST = "/admin/organizations/invitation/"
NEW_PERSON = {
    "username": "new-clinician",
    "first_name": "Noor",
    "last_name": "Haddad",
    "password1": "kelp-orbit-lantern-42",
    "password2": "kelp-orbit-lantern-42",
}


@pytest.fixture
def owner_a(org_a):
    return add_member(org_a, Role.OWNER, username="a-owner")


def invite(client, django_capture_on_commit_callbacks, email="New.Person@Example.org", role=Role.CLINICIAN):
    """Invite through the admin; returns the link's path from the e-mail."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADD, {"email": email, "role": role})
    assert response.status_code == 302
    match = re.search(r"http://testserver(/invitations/[A-Za-z0-9_-]{43}/)", mail.outbox[-1].body)
    assert match is not None
    return match.group(1)


def memberships_of(user, *organizations):
    """(organization id, role, active) of every membership the user has in these organizations."""
    found = set()
    for organization in organizations:
        with as_tenant(organization):
            found |= set(
                Membership.objects.filter(user=user, organization_id=organization.id).values_list(
                    "organization_id", "role", "is_active"
                )
            )
    return found


def test_invitation_end_to_end_creates_an_identity_with_exactly_the_invited_membership(
    org_a, org_b, owner_a, django_capture_on_commit_callbacks
):
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.person@example.org"]
    assert "Clinic org-a" in mail.outbox[0].subject
    visitor = Client()
    page = visitor.get(link)
    assert page.status_code == 200
    assert "Clinic org-a" in page.content.decode()
    assert "Clinician" in page.content.decode()

    accepted = visitor.post(link, NEW_PERSON)

    assert accepted.status_code == 302
    assert accepted["Location"] == "/admin/login/"
    person = User.objects.get(username="new-clinician")
    assert (person.email, person.first_name, person.last_name) == ("new.person@example.org", "Noor", "Haddad")
    assert (person.is_staff, person.is_superuser, person.is_active) == (True, False, True)
    assert person.check_password("kelp-orbit-lantern-42")
    assert memberships_of(person, org_a, org_b) == {(org_a.id, Role.CLINICIAN.value, True)}
    assert logged_in(person).get("/admin/").status_code == 200
    with as_tenant(org_a):
        invitation = Invitation.objects.get()
    assert invitation.state == Invitation.State.ACCEPTED
    assert (invitation.accepted_by_id, invitation.invited_by_id) == (person.pk, owner_a.pk)


def test_a_person_of_another_organization_accepts_and_keeps_one_identity(
    org_a, org_b, owner_a, django_capture_on_commit_callbacks
):
    coach_b = add_member(org_b, Role.COACH, username="b-coach", email="coach@b.example")
    users_before = User.objects.count()
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks, email="coach@b.example")
    client = logged_in(coach_b)

    page = client.get(link)
    assert page.status_code == 200
    assert "signed in as <strong>b-coach</strong>" in page.content.decode()
    accepted = client.post(link)

    assert accepted.status_code == 302
    assert accepted["Location"] == "/admin/"
    assert User.objects.count() == users_before
    assert memberships_of(coach_b, org_a, org_b) == {
        (org_a.id, Role.CLINICIAN.value, True),
        (org_b.id, Role.COACH.value, True),
    }
    # The organization just joined is the active one.
    assert 'value="org-a" selected' in client.get("/admin/").content.decode()


def test_an_anonymous_visitor_can_sign_in_first_and_come_back_to_the_link(
    org_a, owner_a, django_capture_on_commit_callbacks
):
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks)

    page = Client().get(link).content.decode()

    assert f'href="/admin/login/?next={link}"' in page


def test_an_invitation_cannot_be_accepted_twice(org_a, org_b, owner_a, django_capture_on_commit_callbacks):
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks)
    assert Client().post(link, NEW_PERSON).status_code == 302
    coach_b = add_member(org_b, Role.COACH)
    users = User.objects.count()

    again_new = Client().post(link, {**NEW_PERSON, "username": "second-person"})
    again_existing = logged_in(coach_b).post(link)

    assert again_new.status_code == 410
    assert "already been accepted" in again_new.content.decode()
    assert again_existing.status_code == 410
    assert User.objects.count() == users
    assert memberships_of(coach_b, org_a, org_b) == {(org_b.id, Role.COACH.value, True)}


@pytest.mark.parametrize(
    ("close", "message"),
    [("expire", "has expired"), ("revoke", "was withdrawn")],
)
def test_an_expired_or_revoked_invitation_gives_a_clear_page_and_changes_nothing(org_a, org_b, owner_a, close, message):
    coach_b = add_member(org_b, Role.COACH)
    with as_tenant(org_a, user_id=owner_a.pk):
        invitation, token = services.invitation_create(email="late@example.org", role=Role.BILLING, invited_by=owner_a)
        if close == "expire":
            Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        else:
            services.invitation_revoke(invitation=invitation)
    link = f"/invitations/{token}/"
    users = User.objects.count()

    page = Client().get(link)
    new_person = Client().post(link, NEW_PERSON)
    existing = logged_in(coach_b).post(link)

    for response in (page, new_person, existing):
        assert response.status_code == 410
        assert message in response.content.decode()
    assert User.objects.count() == users
    assert memberships_of(coach_b, org_a, org_b) == {(org_b.id, Role.COACH.value, True)}


@pytest.mark.parametrize("token", ["A" * 43, "not-a-token", "A" * 43 + "\n"])
def test_an_unknown_or_malformed_link_is_a_404_page(db, token):
    response = Client().get(f"/invitations/{token}/")

    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_a_password_the_validators_refuse_creates_nothing(org_a, owner_a, django_capture_on_commit_callbacks):
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks)
    users = User.objects.count()

    response = Client().post(link, {**NEW_PERSON, "password1": "password", "password2": "password"})

    assert response.status_code == 400
    assert "This password is too common." in response.content.decode()
    assert User.objects.count() == users
    with as_tenant(org_a):
        assert Invitation.objects.get().state == Invitation.State.PENDING


def test_an_active_member_accepting_again_is_told_so(org_a, owner_a, django_capture_on_commit_callbacks):
    clinician = add_member(org_a, Role.CLINICIAN, email="c@a.example")
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks, email="c@a.example", role=Role.OWNER)

    response = logged_in(clinician).post(link)

    assert response.status_code == 409
    assert "already a member" in response.content.decode()
    assert memberships_of(clinician, org_a) == {(org_a.id, Role.CLINICIAN.value, True)}


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.COACH, Role.BILLING, Role.FRONT_DESK])
def test_only_owners_invite(org_a, role, django_capture_on_commit_callbacks):
    client = logged_in(add_member(org_a, role))

    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(ADD)
        posted = client.post(ADD, {"email": "someone@example.org", "role": Role.OWNER})

    assert (page.status_code, posted.status_code) == (403, 403)
    assert client.get(LIST).status_code == 403
    assert mail.outbox == []
    with as_tenant(org_a):
        assert Invitation.objects.count() == 0


def test_an_owner_sees_and_revokes_only_their_organizations_invitations(org_a, org_b, owner_a):
    owner_b = add_member(org_b, Role.OWNER)
    with as_tenant(org_b, user_id=owner_b.pk):
        theirs, _ = services.invitation_create(email="b-secret@example.org", role=Role.COACH, invited_by=owner_b)
    with as_tenant(org_a, user_id=owner_a.pk):
        mine, _ = services.invitation_create(email="a-person@example.org", role=Role.COACH, invited_by=owner_a)
    client = logged_in(owner_a)

    listing = client.get(LIST).content.decode()
    detail = client.get(f"{LIST}{theirs.pk}/change/", follow=True).content.decode()
    client.post(LIST, {"action": "revoke", "_selected_action": [str(theirs.pk), str(mine.pk)]})

    assert "a-person@example.org" in listing
    assert "b-secret@example.org" not in listing
    assert "b-secret@example.org" not in detail
    with as_tenant(org_b):
        assert Invitation.objects.get(pk=theirs.pk).state == Invitation.State.PENDING
    with as_tenant(org_a):
        assert Invitation.objects.get(pk=mine.pk).state == Invitation.State.REVOKED


def test_a_new_invitation_replaces_the_open_one_for_the_same_address(org_a, owner_a):
    with as_tenant(org_a, user_id=owner_a.pk):
        first, first_token = services.invitation_create(email="x@example.org", role=Role.COACH, invited_by=owner_a)
        second, _ = services.invitation_create(email="X@example.org", role=Role.BILLING, invited_by=owner_a)
        states = dict(Invitation.objects.values_list("id", "revoked_at"))

    assert states[first.pk] is not None
    assert states[second.pk] is None
    assert Client().get(f"/invitations/{first_token}/").status_code == 410


def test_the_token_is_stored_only_as_a_hash(org_a, owner_a):
    with as_tenant(org_a, user_id=owner_a.pk):
        invitation, token = services.invitation_create(email="h@example.org", role=Role.COACH, invited_by=owner_a)
        stored = Invitation.objects.values_list("token_hash", flat=True).get(pk=invitation.pk)
        history = list(Invitation.history.values())

    assert token not in stored
    assert len(stored) == 64
    assert all("token_hash" not in row for row in history)


def test_the_invitation_table_is_under_forced_row_level_security(org_a, org_b, owner_a):
    with as_tenant(org_a, user_id=owner_a.pk):
        services.invitation_create(email="rls@example.org", role=Role.COACH, invited_by=owner_a)

    with as_tenant(org_b):
        assert Invitation.objects.count() == 0
        assert Invitation.history.count() == 0
    assert Invitation.objects.count() == 0  # no tenant context: no rows


def test_a_former_member_invited_again_gets_their_membership_back_with_the_new_role(
    org_a, owner_a, django_capture_on_commit_callbacks
):
    former = add_member(org_a, Role.COACH, email="former@a.example")
    with as_tenant(org_a):
        Membership.objects.filter(user=former).update(is_active=False)
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks, email="former@a.example", role=Role.BILLING)

    response = logged_in(former).post(link)

    assert response.status_code == 302
    assert memberships_of(former, org_a) == {(org_a.id, Role.BILLING.value, True)}


def test_an_unreachable_mail_server_keeps_the_invitation_and_answers_normally(
    org_a, owner_a, django_capture_on_commit_callbacks, settings, caplog
):
    # A real SMTP client against a closed local port: the connection is refused, as when the relay is down.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in(owner_a).post(ADD, {"email": "unreachable@example.org", "role": Role.COACH})
    assert response.status_code == 302
    with as_tenant(org_a):
        assert list(Invitation.objects.values_list("email", flat=True)) == ["unreachable@example.org"]
    assert "could not be sent (ConnectionRefusedError)" in caplog.text
    assert "unreachable@example.org" not in caplog.text


def test_a_password_only_session_must_pass_the_second_factor_before_accepting(
    org_a, org_b, owner_a, django_capture_on_commit_callbacks
):
    coach_b = add_member(org_b, Role.COACH, username="b-coach-2", email="coach2@b.example")
    link = invite(logged_in(owner_a), django_capture_on_commit_callbacks, email="coach2@b.example")

    refused = password_only(coach_b).post(link)

    assert refused.status_code == 302
    assert refused["Location"] == f"/account/second-factor/?next={quote(link, safe='')}"
    assert memberships_of(coach_b, org_a, org_b) == {(org_b.id, Role.COACH.value, True)}
