"""The audit trail: simple-history on every domain model, each row naming the organization and the actor.

The history table copies the audited row's `organization_id` (so the same RLS policies apply) and records
the acting staff user (`history_user`) or partner API key (`history_api_key_id`) from the tenant context.
"""

from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

from . import context


def _history_user(request: Any = None, **_: Any) -> Any:
    user_id = context.current_user_id()
    if user_id is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model()(pk=user_id)


class HistoryActorMixin(models.Model):
    """Extra columns of every history table."""

    history_api_key_id = models.UUIDField(null=True, blank=True, default=context.current_api_key_id)

    class Meta:
        abstract = True


class TenantHistoricalRecords(HistoricalRecords):
    """HistoricalRecords with Kura's actor columns, saved on the same database alias as the audited row."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("bases", [HistoryActorMixin])
        kwargs.setdefault("get_user", _history_user)
        kwargs.setdefault("use_base_model_db", True)
        super().__init__(**kwargs)
