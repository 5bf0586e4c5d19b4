from typing import Any

from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, Any]:
    """The active organization and the user's memberships, for the organization switcher."""
    ctx = getattr(request, "tenant", None)
    memberships = getattr(request, "memberships", [])
    active = next((m for m in memberships if ctx and m.organization_id == ctx.organization_id), None)
    return {"kura_tenant": ctx, "kura_memberships": memberships, "kura_active_membership": active}
