"""Admin for the timeline: events and responses are read-only (append-only tables, so the map offers no add,
change or delete); flags can be reviewed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.organizations.admin_base import TenantModelAdmin, may
from apps.patients.admin_mixins import PHIAccessLoggedAdmin
from apps.patients.models import PHIAccessLog

from ..models import AssessmentDefinition, AssessmentFlag, AssessmentResponse, HealthEvent
from ..permissions import ASSESSMENT, ASSESSMENT_FLAG, HEALTH_EVENT, INSTRUMENT
from . import services


@admin.register(HealthEvent)
class HealthEventAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.HEALTH_EVENT
    phi_rows_only = True
    resource = HEALTH_EVENT
    list_display = ["occurred_at", "patient", "event_type", "event_subtype", "source", "data_classification"]
    list_filter = ["event_type", "source", "data_classification"]
    list_select_related = ["patient"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]


@admin.register(AssessmentDefinition)
class AssessmentDefinitionAdmin(TenantModelAdmin):
    resource = INSTRUMENT
    list_display = ["name", "code", "min_answer", "max_answer", "is_active"]


@admin.register(AssessmentResponse)
class AssessmentResponseAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.ASSESSMENT
    phi_rows_only = True
    resource = ASSESSMENT
    list_display = ["completed_at", "patient", "instrument", "total", "severity"]
    list_filter = ["instrument", "severity"]
    list_select_related = ["patient"]
    ordering = ["-completed_at", "-id"]


class ReviewStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Needs review"), ("reviewed", "Reviewed"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        # "Needs review" is the default, so Django's implicit "All" entry is left out in favour of ours.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "open":
            return queryset.filter(reviewed_at__isnull=True)
        if value == "reviewed":
            return queryset.filter(reviewed_at__isnull=False)
        return queryset

    def value(self) -> str | None:
        return super().value() or "open"


@admin.register(AssessmentFlag)
class AssessmentFlagAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """The list of patients needing review: open PHQ-9 item 9 flags, oldest first."""

    record_type = PHIAccessLog.RecordType.ASSESSMENT
    phi_rows_only = True

    resource = ASSESSMENT_FLAG
    list_display = ["patient", "reason", "raised_at", "response_summary", "reviewed_at"]
    list_filter = [ReviewStatusFilter]
    list_select_related = ["patient", "response"]
    ordering = ["raised_at", "id"]
    actions = ["mark_reviewed"]

    @admin.display(description="Response")
    def response_summary(self, flag: AssessmentFlag) -> str:
        return f"{flag.response.instrument.upper()} total {flag.response.total} ({flag.response.severity})"

    def has_review_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "review")

    @admin.action(description="Mark selected as reviewed", permissions=["review"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[AssessmentFlag]) -> None:
        count = 0
        for flag in queryset.filter(reviewed_at__isnull=True):
            services.assessment_flag_review(flag=flag, user_id=request.user.pk)
            count += 1
        self.message_user(request, f"{count} flag(s) marked as reviewed.", messages.SUCCESS)
