from django.contrib import admin

from apps.organizations.admin_base import TenantModelAdmin
from apps.patients.admin_mixins import PHIAccessLoggedAdmin
from apps.patients.models import PHIAccessLog

from .models import BiomarkerLog
from .permissions import READING


@admin.register(BiomarkerLog)
class BiomarkerLogAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """Readings arrive through ingestion only; the admin shows them (and their history) read-only."""

    record_type = PHIAccessLog.RecordType.BIOMARKER_READING
    phi_rows_only = True

    list_display = [
        "patient",
        "metric_type",
        "value_numeric",
        "value_text",
        "unit",
        "source",
        "captured_at",
        "data_classification",
        "voided_at",
    ]
    list_filter = ["source", "metric_type", "data_classification", ("voided_at", admin.EmptyFieldListFilter)]
    list_select_related = ["patient"]
    date_hierarchy = "captured_at"
    ordering = ["-captured_at", "-id"]  # the latest readings first
    resource = READING
    readonly_fields = [
        "patient",
        "source",
        "source_reading_id",
        "metric_type",
        "value_numeric",
        "value_text",
        "unit",
        "raw_payload",
        "captured_at",
        "data_classification",
        "voided_at",
    ]
