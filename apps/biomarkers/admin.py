from django.contrib import admin

from apps.organizations.admin_base import TenantModelAdmin

from .models import BiomarkerLog


@admin.register(BiomarkerLog)
class BiomarkerLogAdmin(TenantModelAdmin):
    """Readings arrive through ingestion only; the admin shows them (and their history) read-only."""

    list_display = [
        "metric_type",
        "value_numeric",
        "value_text",
        "unit",
        "source",
        "captured_at",
        "data_classification",
    ]
    list_filter = ["source", "metric_type", "data_classification"]
    date_hierarchy = "captured_at"
    edit_roles = frozenset()
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
    ]
