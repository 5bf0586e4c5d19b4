"""Test database and tenant fixtures.

The test database is created and migrated by the *owner* role (which therefore owns the tables); every test
then runs on the `default` connection, i.e. the runtime role, so RLS is really in force.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections
from django.test import Client

from apps.organizations import context, key_canary, keys, services
from apps.organizations.models import APIKey, Organization
from apps.organizations.roles import Role, Scope
from tests.factories import UserFactory
from tests.logins import fully_logged_in

KEEP_TABLES = ("django_migrations", "django_content_type", "auth_permission")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> Iterator[None]:
    owner, default = connections["owner"], connections["default"]
    original_name = owner.settings_dict["NAME"]
    with django_db_blocker.unblock():
        test_name = owner.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        default.close()
        default.settings_dict["NAME"] = test_name
    yield
    with django_db_blocker.unblock():
        default.close()
        # A connection opened in asgiref's thread for thread-sensitive calls (job runner passes) would keep a
        # session on the test database.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        owner.creation.destroy_test_db(original_name, verbosity=0)


@pytest.fixture
def committed(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits, no wrapping test transaction: for request-level isolation tests.

    Inside pytest's per-test transaction a context set outside the request's transaction would still appear to
    work; here every request commits or rolls back on its own, exactly as in production.
    """
    with django_db_blocker.unblock():
        yield
        truncate_all()


def truncate_all() -> None:
    """Empty every table the tests fill (as the owner), and put back the key canary as migrate left it."""
    connections["default"].close()
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables "
            "WHERE schemaname = 'public' AND NOT tablename = ANY(%s)",
            [list(KEEP_TABLES)],
        )
        tables = cursor.fetchone()[0]
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    key_canary.canary_ensure(using="owner")


def make_organization(slug: str) -> Organization:
    return services.organization_create(name=f"Clinic {slug}", slug=slug, organization_id=uuid.uuid4())


@pytest.fixture
def org_a(db: None) -> Organization:
    return make_organization("org-a")


@pytest.fixture
def org_b(db: None) -> Organization:
    return make_organization("org-b")


def add_member(organization: Organization, role: str, **user_fields: Any) -> AbstractBaseUser:
    """A staff user with one membership."""
    user = UserFactory(**user_fields)
    with context.tenant_context(organization.id, Role.OWNER):
        services.membership_create(user=user, role=role)
    return user


def issue_key(
    organization: Organization,
    *,
    scopes: list[str] | None = None,
    phi_access: bool = False,
    requires_patient_consent: bool = False,
) -> str:
    """A partner API key for the organization; returns the raw key. The partner is the clinic's own integration
    unless `requires_patient_consent` (then it reaches only patients with a valid data-sharing consent)."""
    with context.tenant_context(organization.id, Role.OWNER):
        partner = services.partner_create(
            name=f"Partner {uuid.uuid4().hex[:6]}", requires_patient_consent=requires_patient_consent
        )
        _, raw = services.api_key_create(
            partner=partner, name="test key", scopes=scopes or list(Scope.values), phi_access=phi_access
        )
    return raw


def as_key(organization: Organization, raw_key: str) -> Any:
    """The tenant context of a request made with partner key `raw_key` (its own idempotency records show)."""
    with context.tenant_context(organization.id, Role.OWNER):
        key = APIKey.objects.get(prefix=keys.parse_prefix(raw_key))
    return context.tenant_context(
        organization.id, Role.PARTNER, api_key_id=key.pk, scopes=frozenset(key.scopes), phi_access=key.phi_access
    )


def as_tenant(organization: Organization, role: str = Role.OWNER, **kwargs: Any) -> Any:
    return context.tenant_context(organization.id, role, **kwargs)


def phi_access_log(organization: Organization) -> list[tuple[Any, ...]]:
    """The organization's PHI access log, oldest first: (patient id, record type, record count, path)."""
    from apps.patients.models import PHIAccessLog

    with as_tenant(organization):
        return list(
            PHIAccessLog.objects.order_by("id").values_list("patient_id", "record_type", "record_count", "path")
        )


def logged_in(user: AbstractBaseUser) -> Client:
    """A client signed in as `user` with password and second factor (a confirmed TOTP device is set up)."""
    return fully_logged_in(user)


def api_client(raw_key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")


@pytest.fixture
def member() -> Callable[..., AbstractBaseUser]:
    return add_member


pytest_plugins = ["tests.live"]  # the gunicorn-served app (`gunicorn_server`) for tests/fuzz and tests/load


def csp_directives(response: Any) -> dict[str, list[str]]:
    """A response's Content-Security-Policy as {directive: [sources]} (the header's order is not fixed)."""
    parts = [part.strip().split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: values for name, *values in parts}
