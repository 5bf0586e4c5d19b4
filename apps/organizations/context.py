"""The tenant context: which organization and role the current database transaction acts for.

PostgreSQL row-level security reads `app.current_org`, `app.user_role` and `app.user_id`. They are set with
`set_config(..., true)` (transaction-local, bind parameters) so they die with the transaction and never leak
to the next request on a reused connection, nor to another client of a transaction pooler's server connection.
Behind such a pooler the same statement also sets the runtime role's timeouts (`KURA_DB_TRANSACTION_SETTINGS`),
which cannot ride on the connection there. Python code reads the same context from a ContextVar
(for audit rows and defaults).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, transaction

from .access_map import PARTNER_PHI, PHI_DATABASE_ROLES
from .roles import Role


@dataclass(frozen=True)
class TenantContext:
    """Who is acting, for which organization, with which role (and, for partners, which scopes)."""

    organization_id: uuid.UUID
    role: str
    user_id: int | None = None
    api_key_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    phi_access: bool = False
    # A partner that reaches only the patients with a valid data-sharing consent (`PatientScopedManager`).
    patient_consent_required: bool = False

    @property
    def is_partner(self) -> bool:
        return self.role == Role.PARTNER

    @property
    def database_role(self) -> str:
        """The value policies see in `app.user_role`: partners with the PHI scope are `partner_phi`."""
        if self.is_partner and self.phi_access:
            return PARTNER_PHI
        return self.role

    @property
    def can_read_phi(self) -> bool:
        return self.database_role in PHI_DATABASE_ROLES

    @property
    def actor(self) -> str:
        """Who acts, as one string (`key:<uuid>` or `user:<id>`; empty for a job acting as nobody), in
        `app.actor` for the policies that keep a caller's own rows to itself."""
        if self.api_key_id is not None:
            return f"key:{self.api_key_id}"
        return "" if self.user_id is None else f"user:{self.user_id}"


_current: ContextVar[TenantContext | None] = ContextVar("kura_tenant_context", default=None)


def current() -> TenantContext | None:
    """The active tenant context of this thread or task, if any."""
    return _current.get()


def current_organization_id() -> uuid.UUID | None:
    """Default for `organization` on tenant models: the organization of the active context."""
    ctx = _current.get()
    return ctx.organization_id if ctx else None


def current_user_id() -> int | None:
    ctx = _current.get()
    return ctx.user_id if ctx else None


def current_api_key_id() -> uuid.UUID | None:
    ctx = _current.get()
    return ctx.api_key_id if ctx else None


_SET_CONTEXT = (
    "SELECT set_config('app.current_org', %s, true), set_config('app.user_role', %s, true), "
    "set_config('app.user_id', %s, true), set_config('app.actor', %s, true)"
)
_SET_ONE = ", set_config(%s, %s, true)"


def _require_transaction(using: str) -> None:
    if not connections[using].in_atomic_block:
        # set_config(..., true) outside a transaction silently does nothing: refuse instead.
        raise RuntimeError("The tenant context must be set inside a transaction.")


def _write_settings(ctx: TenantContext | None, using: str) -> None:
    _require_transaction(using)
    values = ["", "", "", ""]
    if ctx is not None:
        values = [
            str(ctx.organization_id),
            ctx.database_role,
            "" if ctx.user_id is None else str(ctx.user_id),
            ctx.actor,
        ]
    statement = _SET_CONTEXT
    for name, value in settings.KURA_DB_TRANSACTION_SETTINGS.items():
        statement += _SET_ONE
        values += [name, value]
    with connections[using].cursor() as cursor:
        cursor.execute(statement, values)


def set_authenticated_user(user_id: int, using: str = "default") -> None:
    """Before the organization is known: lets the membership policy show this user's own memberships."""
    _require_transaction(using)
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT set_config('app.user_id', %s, true)", [str(user_id)])


@contextmanager
def activated(
    ctx: TenantContext | None, using: str = "default", *, restore: bool = True
) -> Iterator[TenantContext | None]:
    """Activate `ctx` in the transaction already open on `using`, restoring the previous one afterwards.

    `restore=False` when that transaction is the outermost one and ends right after: its COMMIT or ROLLBACK
    discards the settings (they are set transaction-local), so writing them back would be a wasted round trip.
    """
    previous = _current.get()
    token = _current.set(ctx)
    _write_settings(ctx, using)
    try:
        yield ctx
    finally:
        _current.reset(token)
    # Reached only on success: after an error the enclosing atomic block rolls back, and with it the settings.
    if restore and connections[using].in_atomic_block and not connections[using].needs_rollback:
        _write_settings(previous, using)


@contextmanager
def tenant_context(
    organization_id: uuid.UUID,
    role: str,
    *,
    user_id: int | None = None,
    api_key_id: uuid.UUID | None = None,
    scopes: frozenset[str] = frozenset(),
    phi_access: bool = False,
    patient_consent_required: bool = False,
    using: str = "default",
) -> Iterator[TenantContext]:
    """Enter a tenant explicitly (management commands, jobs, tests): one transaction with the context set."""
    ctx = TenantContext(
        organization_id=organization_id,
        role=role,
        user_id=user_id,
        api_key_id=api_key_id,
        scopes=scopes,
        phi_access=phi_access,
        patient_consent_required=patient_consent_required,
    )
    outermost = not connections[using].in_atomic_block
    with transaction.atomic(using=using), activated(ctx, using=using, restore=not outermost):
        yield ctx
