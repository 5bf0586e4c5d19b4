"""Admin for the timeline: events and responses are read-only (append-only tables, so the map offers no add,
change or delete); flags can be reviewed."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apps.organizations.access import object_or_404
from apps.organizations.admin_base import TenantModelAdmin, guarded_view, may
from apps.patients.admin_mixins import PHIAccessLoggedAdmin
from apps.patients.models import PHIAccessLog

from ..models import AssessmentDefinition, AssessmentFlag, AssessmentResponse, HealthEvent
from ..notes.serializers import person_name
from ..permissions import ASSESSMENT, ASSESSMENT_FLAG, HEALTH_EVENT, INSTRUMENT
from . import selectors, services
from .administer import administer_view, answered_items


@admin.register(HealthEvent)
class HealthEventAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.HEALTH_EVENT
    phi_rows_only = True
    resource = HEALTH_EVENT
    list_display = ["occurred_at", "patient", "event_type", "details", "source", "data_classification"]
    list_filter = ["event_type", "source", "data_classification"]
    list_select_related = ["patient"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]

    @admin.display(description="details")
    def details(self, event: HealthEvent) -> str:
        return event.summary


@admin.register(AssessmentDefinition)
class AssessmentDefinitionAdmin(TenantModelAdmin):
    resource = INSTRUMENT
    list_display = ["name", "code", "min_answer", "max_answer", "is_active"]


@admin.register(AssessmentResponse)
class AssessmentResponseAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    record_type = PHIAccessLog.RecordType.ASSESSMENT
    phi_rows_only = True
    resource = ASSESSMENT
    list_display = ["completed_at", "patient", "assessment"]
    list_filter = ["instrument", "severity"]
    list_select_related = ["patient"]
    ordering = ["-completed_at", "-id"]
    readonly_fields = ["answers_with_items"]

    @admin.display(description="assessment")
    def assessment(self, response: AssessmentResponse) -> str:
        return response.summary

    @admin.display(description="answers")
    def answers_with_items(self, response: AssessmentResponse) -> SafeString:
        return answered_items(response)

    def get_urls(self) -> list[URLPattern]:
        page = guarded_view(self.admin_site, administer_view, ASSESSMENT, "write")
        return [
            path("administer/<uuid:patient_id>/<slug:instrument>/", page, name="clinical_assessment_administer"),
            *super().get_urls(),
        ]


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
    list_display = ["patient", "reason", "raised_at", "response_summary", "reviewed_at", "reviewer", "review"]
    list_filter = [ReviewStatusFilter]
    list_select_related = ["patient", "response", "reviewed_by"]
    ordering = ["raised_at", "id"]

    @admin.display(description="Response")
    def response_summary(self, flag: AssessmentFlag) -> str:
        return flag.response.summary

    @admin.display(description="Reviewed by")
    def reviewer(self, flag: AssessmentFlag) -> str:
        return person_name(flag.reviewed_by) if flag.reviewed_by is not None else "—"

    @admin.display(description="Review")
    def review(self, flag: AssessmentFlag) -> SafeString:
        if flag.reviewed_at is not None:
            return format_html("{}: {}", flag.get_review_action_display() or "Reviewed", flag.review_comment)
        return format_html('<a href="{}">Review</a>', reverse("admin:clinical_assessmentflag_review", args=[flag.pk]))

    def has_review_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "review")

    def get_urls(self) -> list[URLPattern]:
        page = guarded_view(self.admin_site, self.review_view, ASSESSMENT_FLAG, "review")
        return [path("<uuid:flag_id>/review/", page, name="clinical_assessmentflag_review"), *super().get_urls()]

    def review_view(self, request: HttpRequest, flag_id: uuid.UUID) -> HttpResponse:
        """Record what was done about a flag: an action of the list and a comment."""
        flag = object_or_404(selectors.assessment_flag_list().select_related("response"), flag_id)
        form = FlagReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.assessment_flag_review(
                    flag=flag,
                    user_id=request.user.pk,
                    action=form.cleaned_data["action"],
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, "Review recorded.")
                return redirect(reverse("admin:clinical_assessmentflag_changelist"))
        self.log_phi_read(request, [flag])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Review flag",
            "intro": f"{flag.get_reason_display()}: {self.response_summary(flag)}, {flag.raised_at:%Y-%m-%d %H:%M}.",
            "form": form,
            "submit_label": "Record review",
        }
        return TemplateResponse(request, "admin/clinical/note_page.html", context)


class FlagReviewForm(forms.Form):
    action = forms.ChoiceField(choices=AssessmentFlag.ReviewAction.choices, widget=forms.RadioSelect)
    comment = forms.CharField(max_length=services.REVIEW_COMMENT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4}))
