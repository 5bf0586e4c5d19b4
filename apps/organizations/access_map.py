"""The permission map: which roles (and which partner scopes) may do what to which resource.

Each app declares its resources once, in `apps/<app>/permissions.py` (this module for organizations):

    PATIENT = declare(
        "patients.patient",
        read=STAFF_ROLES, write={Role.OWNER, Role.CLINICIAN, Role.FRONT_DESK}, scope="patients",
        restore=Rule(...),  # a special action, when one differs from read / write
    )

Everything that asks "may this caller do this" reads the map: the API's permission class (a view names its
`resource`, and `resource_actions` for methods that are special actions), the admin's `has_*_permission` (an
admin class names its `resource`), admin pages outside the model pages, the patient-page panels and the menus.
PostgreSQL's policies say the same through the SQL role functions; `tests/organizations/test_permission_matrix.py`
proves the two agree and walks every API operation and admin URL against the map.

Actions: `read` and `write` are the API's (safe methods read, the others write). The admin's `view` falls back
to `read` and `add` / `change` / `delete` to `write`, so a resource declares them only where the admin offers
less than the API (append-only tables: `admin_read_only=True`). An action nobody declared
is allowed to nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .roles import STAFF_ROLES, Role

if TYPE_CHECKING:
    from .context import TenantContext

ANY_KEY = "*"  # a partner rule any valid key satisfies (the key's own identity), whatever its scopes
PARTNER_PHI = "partner_phi"  # `app.user_role` of a partner key with PHI access


@dataclass(frozen=True)
class Rule:
    """Staff `roles` allowed, and the partner `scope` that allows a key (None: no partner key)."""

    roles: frozenset[str] = frozenset()
    scope: str | None = None
    # The action shows CLINICAL_PHI whatever the rows' classification (e.g. a full SSN): a key needs PHI access.
    phi: bool = False

    def allows(self, ctx: TenantContext | None) -> bool:
        if ctx is None:
            return False
        if self.phi and not ctx.can_read_phi:
            return False
        if ctx.is_partner:
            return self.scope is not None and (self.scope == ANY_KEY or self.scope in ctx.scopes)
        return ctx.role in self.roles


NOBODY = Rule()

# Admin actions answered by an API action unless a resource declares them.
_FALLBACK = {"view": "read", "add": "write", "change": "write", "delete": "write"}


@dataclass(frozen=True)
class Resource:
    """Something callers act on (a model, a report, a page), with one rule per action."""

    name: str
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def rule(self, action: str) -> Rule:
        if action in self.rules:
            return self.rules[action]
        return self.rules.get(_FALLBACK.get(action, ""), NOBODY)

    def allows(self, ctx: TenantContext | None, action: str) -> bool:
        """May the caller of `ctx` do `action` on this resource?"""
        return self.rule(action).allows(ctx)

    def roles(self, action: str) -> frozenset[str]:
        """The staff roles allowed `action`."""
        return self.rule(action).roles

    @property
    def actions(self) -> frozenset[str]:
        return frozenset(self.rules) | frozenset(_FALLBACK)


REGISTRY: dict[str, Resource] = {}


def permission_map() -> dict[str, Resource]:
    """Every resource of every app (importing each app's `permissions` module declares its resources)."""
    from .discovery import kura_app_modules

    list(kura_app_modules("permissions"))
    return dict(REGISTRY)


def roles(*members: str) -> frozenset[str]:
    """A set of role values (accepts `Role` members)."""
    return frozenset(str(member.value) if isinstance(member, Role) else member for member in members)


def declare(
    name: str,
    *,
    read: Iterable[str] = (),
    write: Iterable[str] = (),
    scope: str | None = None,
    admin_read_only: bool = False,
    **actions: Rule,
) -> Resource:
    """Declare a resource: staff roles that `read` and `write` it, the partner `scope` prefix (`<scope>:read`,
    `<scope>:write`; None keeps keys out), and any special action's own `Rule`. `admin_read_only`: the admin
    only shows it (append-only or service-made rows), whatever the API may write."""
    rules: dict[str, Rule] = {
        "read": Rule(roles(*read), f"{scope}:read" if scope else None),
        "write": Rule(roles(*write), f"{scope}:write" if scope else None),
    }
    if admin_read_only:
        rules.update(add=NOBODY, change=NOBODY, delete=NOBODY)
    rules.update(actions)
    return register(Resource(name, rules))


def register(resource: Resource) -> Resource:
    """Add a resource built by hand (rules `declare` cannot say) to the map."""
    if resource.name in REGISTRY:
        raise ValueError(f"Resource {resource.name!r} is declared twice.")
    REGISTRY[resource.name] = resource
    return resource


# --- who sees PHI --------------------------------------------------------------------------------------------

# Staff roles that read CLINICAL_PHI rows: everyone but the coach. Partner keys read them with `phi_access`.
PHI_READERS = roles(Role.OWNER, Role.CLINICIAN, Role.BILLING, Role.FRONT_DESK)
# The values of `app.user_role` that kura_phi_allowed() admits (tests/organizations/test_permission_matrix.py).
PHI_DATABASE_ROLES = PHI_READERS | {PARTNER_PHI}

OWNER_ONLY = roles(Role.OWNER)

# --- organizations' resources ----------------------------------------------------------------------------------

# The organization itself: every member sees it, the owner edits it; the operator creates and removes them.
ORGANIZATION = declare("organizations.organization", read=STAFF_ROLES, write=OWNER_ONLY, add=NOBODY, delete=NOBODY)
# Who works here: the owner manages memberships (and the people behind them) alone.
# People join only by invitation (no page adds an existing user); users themselves have no admin page at all.
MEMBERSHIP = declare("organizations.membership", read=OWNER_ONLY, write=OWNER_ONLY, add=NOBODY)
# Invitations are never edited or deleted: revoked, and sent again.
INVITATION = declare(
    "organizations.invitation",
    read=OWNER_ONLY,
    write=OWNER_ONLY,
    change=NOBODY,
    delete=NOBODY,
    revoke=Rule(OWNER_ONLY),
)
# Partners and their API keys reach patients' data: only the owner lists, issues or revokes them.
PARTNER = declare("organizations.partner", read=OWNER_ONLY, write=OWNER_ONLY)
API_KEY = declare("organizations.api_key", read=OWNER_ONLY, write=OWNER_ONLY, revoke=Rule(OWNER_ONLY))
# The caller itself (`/api/v1/me/`): anyone signed in, any key; staff switch their active organization.
CALLER = register(Resource("organizations.caller", {"read": Rule(STAFF_ROLES, ANY_KEY), "write": Rule(STAFF_ROLES)}))
# The OpenAPI schema and its Swagger UI hold no organization's data: served to anyone, signed in or not
# (drf-spectacular's SERVE_PERMISSIONS).
API_DOCS = register(Resource("organizations.api_docs", {"read": Rule(STAFF_ROLES, ANY_KEY)}))
