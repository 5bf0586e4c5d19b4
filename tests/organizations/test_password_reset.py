"""Self-service password reset by e-mail: Django's views in the admin's look, silent about unknown addresses."""

from __future__ import annotations

import re

from django.contrib.admin.models import LogEntry
from django.core import mail
from django.test import Client

from apps.organizations.roles import Role
from tests.conftest import add_member

RESET = "/account/password-reset/"


def test_the_admin_login_page_offers_the_reset(db):
    page = Client().get("/admin/login/").content.decode()

    assert f'<a href="{RESET}">Forgotten your login credentials?</a>' in page


def test_a_known_address_gets_a_link_that_sets_a_new_password(org_a):
    user = add_member(org_a, Role.CLINICIAN, email="clinician@a.example")
    client = Client()

    sent = client.post(RESET, {"email": "Clinician@A.example"})

    assert sent.status_code == 302
    assert sent["Location"] == f"{RESET}sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["clinician@a.example"]
    link = re.search(r"http://testserver(/account/password-reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "tidal-beacon-91x", "new_password2": "tidal-beacon-91x"}
    )
    assert done.status_code == 302
    assert done["Location"] == f"{RESET}done/"
    user.refresh_from_db()
    assert user.check_password("tidal-beacon-91x")
    # Resetting signs nobody in (a second factor may be required at login).
    assert "_auth_user_id" not in client.session
    assert LogEntry.objects.count() == 0


def test_an_unknown_address_gets_the_same_answer_and_no_mail(org_a):
    add_member(org_a, Role.CLINICIAN, email="clinician@a.example")
    known, unknown = Client(), Client()

    known_answer = known.post(RESET, {"email": "clinician@a.example"}, follow=True)
    unknown_answer = unknown.post(RESET, {"email": "nobody@a.example"}, follow=True)

    assert len(mail.outbox) == 1
    assert unknown_answer.redirect_chain == known_answer.redirect_chain == [(f"{RESET}sent/", 302)]
    assert unknown_answer.content == known_answer.content
