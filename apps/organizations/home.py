"""Where each member starts the day: the admin's home (`/admin/`) is each role's own page.

`ROLE_HOMES` names that page per role (one line per role). A role whose home is another page (the front desk's
today board, billing's work queue) is sent there; the others get the home page itself: the sections apps add,
then the list of what the role may open. An app adds sections as it adds panels to the patient page, by defining
`<app>.home_sections.sections(request) -> list[HomeSection]`, returning only what the caller's role may see (the
permission map decides; PostgreSQL narrows the rows as everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .discovery import kura_app_modules
from .roles import Role

if TYPE_CHECKING:
    from django.http import HttpRequest

# The home page of sections (the admin's index).
HOME_PAGE = "admin:index"
# The URL name of each role's home.
ROLE_HOMES: dict[str, str] = {
    Role.OWNER: HOME_PAGE,
    Role.CLINICIAN: HOME_PAGE,
    Role.COACH: HOME_PAGE,
    Role.BILLING: "admin:billing_desk",
    Role.FRONT_DESK: "admin:scheduling_today",
}
# Whose work a home shows: these roles oversee the whole clinic's day; the others see their own (their visits,
# their patients' flags, the notes they wrote).
OVERSEES_CLINIC = frozenset({Role.OWNER.value, Role.FRONT_DESK.value})


def home_url_name(role: str | None) -> str:
    """The URL name of `role`'s home (the shared home page for a role without one of its own)."""
    return ROLE_HOMES.get(role or "", HOME_PAGE)


def oversees_clinic(role: str | None) -> bool:
    """Does a home of `role` show the whole clinic's work, rather than the member's own?"""
    return role in OVERSEES_CLINIC


@dataclass(frozen=True)
class HomeSection:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


def home_sections(request: HttpRequest) -> list[HomeSection]:
    """Every installed app's sections of the home page for this caller, in `order`."""
    found: list[HomeSection] = []
    for module in kura_app_modules("home_sections"):
        found.extend(module.sections(request))
    return sorted(found, key=lambda section: section.order)
