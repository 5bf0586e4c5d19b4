"""Billing staff UI in the admin: dashboard, patient ledger, payment posting, documents, 837P export.

Coaches see none of it (and the database shows them no billing row anyway); clinicians may look (the
database shows them clinical charges only); owner, billing and front desk post payments.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from apps.organizations.access import object_or_404
from apps.organizations.admin_base import (
    AutocompleteSelectOfValidIds,
    TenantInline,
    TenantModelAdmin,
    guarded_view,
    may,
)
from apps.patients import phi_reads
from apps.patients.admin_mixins import PHIAccessLoggedAdmin
from apps.patients.models import Patient, PHIAccessLog
from apps.patients.selectors import patient_list

from . import adjustment_codes, claims, documents, selectors, services, x12, x12_answers
from .codes import ISO_4217
from .models import (
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimStatus,
    ClearinghouseFile,
    Denial,
    EntryKind,
    InstallmentPlan,
    InsurancePolicy,
    LedgerEntry,
    Payer,
    PaymentStatus,
    ProviderAdjustment,
    TransactionType,
    UnmatchedRemittance,
)
from .permissions import CLAIM, CLEARINGHOUSE_FILE, INSTALLMENT_PLAN, INSURANCE_POLICY, LEDGER, PAYER, PROVIDER
from .templatetags.billing_format import cents


def _date_param(request: HttpRequest, name: str, default: dt.date) -> dt.date:
    raw = request.GET.get(name)
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise Http404 from None


def _uuid_param(request: HttpRequest, name: str) -> uuid.UUID | None:
    """A link's id parameter; a malformed one is ignored (the form then asks for it)."""
    try:
        return uuid.UUID(request.GET.get(name, ""))
    except ValueError:
        return None


@admin.register(Payer)
class PayerAdmin(TenantModelAdmin):
    resource = PAYER
    list_display = ["name", "payer_id"]
    search_fields = ["name", "payer_id"]


@admin.register(InsurancePolicy)
class InsurancePolicyAdmin(TenantModelAdmin):
    resource = INSURANCE_POLICY
    list_display = ["__str__", "patient", "payer", "priority", "subscriber_relationship", "is_active"]
    list_select_related = ["patient", "payer"]
    list_filter = ["priority", "is_active"]
    raw_id_fields = ["patient"]


@admin.register(BillingProvider)
class BillingProviderAdmin(TenantModelAdmin):
    resource = PROVIDER
    list_display = ["legal_name", "npi", "tax_id", "taxonomy_code"]


@admin.register(InstallmentPlan)
class InstallmentPlanAdmin(TenantModelAdmin):
    """Plans are created through the service (it writes one ledger charge per installment) and never edited;
    each installment's card outcome is recorded from the plan's page."""

    resource = INSTALLMENT_PLAN
    list_display = ["__str__", "patient", "program", "total_cents", "currency", "installment_count", "first_due_date"]
    list_select_related = ["patient"]
    readonly_fields = ["remaining", "schedule"]

    @admin.display(description="Remaining")
    def remaining(self, obj: InstallmentPlan) -> str:
        return f"{cents(selectors.installment_plan_remaining(plan=obj))} {obj.currency}"

    @admin.display(description="Installments")
    def schedule(self, obj: InstallmentPlan) -> str:
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="{}">Record payment outcome</a>'
            "</td></tr>",
            (
                (
                    row["metadata"]["installment_number"],
                    row["service_date"],
                    cents(row["amount_cents"]),
                    cents(row["outstanding_cents"]),
                    PaymentStatus(row["payment_status"]).label,
                    reverse("admin:billing_installment_outcome", args=[row["pk"]]),
                )
                for row in selectors.installment_rows(plan=obj)
            ),
        )
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr>",
            "No.",
            "Due",
            "Amount",
            "Outstanding",
            "Status",
        )
        return format_html("<table>{}{}</table>", header, rows)

    def get_urls(self) -> list[URLPattern]:
        outcome = path(
            "installment/<uuid:charge_id>/outcome/",
            guarded_view(self.admin_site, self.record_outcome, INSTALLMENT_PLAN, "write"),
            name="billing_installment_outcome",
        )
        return [outcome, *super().get_urls()]

    def _page(self, request: HttpRequest, form: forms.Form, title: str, submit: str, intro: str = "") -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "form": form,
            "submit_label": submit,
            "intro": intro,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/form_page.html", context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None) -> Any:
        if not self.has_add_permission(request):
            raise PermissionDenied
        # The patient ledger links here with the patient picked.
        form = InstallmentPlanForm(
            request.POST or None, initial={"patient": _uuid_param(request, "patient")}, admin_site=self.admin_site
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                plan = services.installment_plan_create(
                    patient=data["patient"],
                    program=data["program"],
                    total_cents=data["total"],
                    currency=data["currency"],
                    installment_count=data["installment_count"],
                    first_due_date=data["first_due_date"],
                    interval_days=data["interval_days"],
                    external_reference=data["external_reference"],
                )
            except ValidationError as error:
                _add_service_errors(form, error, {"total_cents": "total"})
            else:
                messages.success(request, f"Plan created with {plan.installment_count} installments.")
                return redirect(reverse("admin:billing_installmentplan_change", args=[plan.pk]))
        return self._page(request, form, "Add installment plan", "Create plan", intro=REMAINDER_NOTE)

    def record_outcome(self, request: HttpRequest, charge_id: uuid.UUID) -> HttpResponse:
        charge = object_or_404(selectors.ledger_entry_list().filter(installment_plan__isnull=False), charge_id)
        form = InstallmentOutcomeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.installment_payment_record(
                    charge=charge,
                    succeeded=form.cleaned_data["outcome"] == "succeeded",
                    external_reference=form.cleaned_data["external_reference"],
                    amount_cents=form.cleaned_data.get("amount") or None,
                )
            except ValidationError as error:
                _add_service_errors(form, error, {"amount_cents": "amount"})
            else:
                messages.success(request, "Payment outcome recorded.")
                return redirect(reverse("admin:billing_installmentplan_change", args=[charge.installment_plan_id]))
        outstanding = selectors.remaining_cents(charge)
        title = f"Installment {charge.metadata.get('installment_number')}: payment outcome"
        intro = f"Due {charge.service_date:%Y-%m-%d}, outstanding {cents(outstanding)} {charge.currency}."
        return self._page(request, form, title, "Record outcome", intro=intro)


REMAINDER_NOTE = (
    "The schedule always sums to the total: when it does not divide evenly, the remainder cents are added to the "
    "first installment."
)


def _add_service_errors(form: forms.Form, error: ValidationError, renames: dict[str, str]) -> None:
    """A service's field errors shown on the form's matching fields (the others above the form)."""
    fields = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for field, errors in fields.items():
        name = renames.get(field, field)
        for message in errors:
            form.add_error(name if name in form.fields else None, message)


@admin.register(ClaimBatch)
class ClaimBatchAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """A batch's page shows its 837P file: a read of every claim on it. Each batch can be downloaded again."""

    resource = CLAIM
    record_type = PHIAccessLog.RecordType.CLAIM_FILE
    list_display = ["__str__", "file_name", "usage_indicator", "created_at", "download_link"]
    list_filter = ["usage_indicator"]

    logs_list_rows = False  # the list shows names and dates of files, no claim

    def log_phi_read(self, request: HttpRequest, records: Sequence[Any]) -> None:
        patient_ids = Claim.objects.filter(batch__in=records).values_list("patient_id", flat=True)
        phi_reads.mark(record_type=self.record_type, patient_ids=list(patient_ids))

    @admin.display(description="file")
    def download_link(self, obj: ClaimBatch) -> str:
        return format_html('<a href="{}">Download</a>', reverse("admin:billing_claimbatch_download", args=[obj.pk]))

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<uuid:batch_id>/download/",
            guarded_view(self.admin_site, self.download, CLAIM, "download"),
            name="billing_claimbatch_download",
        )
        return [download, *super().get_urls()]

    def download(self, request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
        batch = object_or_404(ClaimBatch.objects.for_current_organization(), batch_id)
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.CLAIM_FILE,
            patient_ids=list(Claim.objects.filter(batch=batch).values_list("patient_id", flat=True)),
        )
        response = HttpResponse(batch.file_bytes(), content_type="application/edi-x12")
        response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
        return response


class ClaimLineInline(TenantInline):
    resource = CLAIM
    model = ClaimLine
    fields = readonly_fields = ("line_number", "control_number", "charge")
    can_delete = False


@admin.register(Claim)
class ClaimAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    resource = CLAIM
    record_type = PHIAccessLog.RecordType.CLAIM_FILE
    list_display = [
        "submitter_claim_id",
        "status",
        "frequency_code",
        "payer",
        "service_date",
        "total_cents",
        "currency",
        "payer_claim_control_number",
    ]
    list_filter = ["status", "frequency_code"]
    inlines = [ClaimLineInline]
    actions = ["correct_claims", "void_claims"]

    def has_correct_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "correct")

    def _replace(self, request: HttpRequest, queryset: QuerySet[Claim], service: Any, verb: str) -> None:
        made = 0
        for claim in queryset:
            try:
                service(claim=claim)
            except ValidationError as error:
                self.message_user(request, f"{claim}: {' '.join(error.messages)}", messages.ERROR)
            else:
                made += 1
        if made:
            self.message_user(request, f"{made} {verb} claim(s) ready to send.", messages.SUCCESS)

    @admin.action(description="Correct: make a replacement claim (frequency 7)", permissions=["correct"])
    def correct_claims(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        self._replace(request, queryset, claims.claim_correct, "corrected")

    @admin.action(description="Void: make a void claim (frequency 8)", permissions=["correct"])
    def void_claims(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        self._replace(request, queryset, claims.claim_void, "void")


class ClearinghouseFileForm(forms.Form):
    file = forms.FileField(
        label="999, 277CA or 835 file",
        help_text="An acknowledgement or remittance file from the clearinghouse (X12, ASCII).",
    )


MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@admin.register(ClearinghouseFile)
class ClearinghouseFileAdmin(TenantModelAdmin):
    """Answers received from the clearinghouse (999, 277CA, 835), and the page that imports one. The list shows
    what each import did (claim ids, batch numbers), not the file, which names patients."""

    resource = CLEARINGHOUSE_FILE
    list_display = ["__str__", "kind", "payer_name", "trace_number", "payment", "paid_on", "created_at", "outcome"]
    list_filter = ["kind"]
    fields = readonly_fields = (
        "kind",
        "interchange_control_number",
        "payer_name",
        "trace_number",
        "payment",
        "paid_on",
        "sha256",
        "outcome",
        "created_at",
    )

    @admin.display(description="payment")
    def payment(self, obj: ClearinghouseFile) -> str:
        return cents(obj.payment_cents)

    change_list_template = "admin/billing/clearinghousefile/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/",
            guarded_view(self.admin_site, self.upload, CLEARINGHOUSE_FILE, "upload"),
            name="billing_clearinghousefile_upload",
        )
        return [upload, *super().get_urls()]

    def upload(self, request: HttpRequest) -> HttpResponse:
        form = ClearinghouseFileForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > MAX_UPLOAD_BYTES:
                    raise ValidationError({"file": "The file is larger than 20 MB."})
                result = x12_answers.clearinghouse_file_import(content=upload.read())
            except ValidationError as error:
                for message in error.message_dict.get("file", error.messages):
                    form.add_error("file", message)
            else:
                if result.created:
                    messages.success(
                        request, f"Imported {result.file}: {x12_answers.outcome_text(result.file.outcome)}."
                    )
                else:
                    messages.info(request, f"{result.file} was imported before: nothing was applied again.")
                return redirect(reverse("admin:billing_clearinghousefile_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a clearinghouse file",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/clearinghouse_upload.html", context, status=200)


def _claim_link(claim: Claim | None, text: str) -> str:
    if claim is None:
        return text
    return format_html('<a href="{}">{}</a>', reverse("admin:billing_claim_change", args=[claim.pk]), text)


@admin.register(Denial)
class DenialAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """The denial queue: claim lines the payer denied, with the reason and remark codes and what they mean, open
    ones first. A denial is resolved when a later remittance pays the line or reverses the claim."""

    resource = CLEARINGHOUSE_FILE
    record_type = PHIAccessLog.RecordType.CLAIM_FILE
    list_display = ["claim_id", "patient", "service_date", "amount", "reasons", "remarks", "payer", "state"]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["claim__patient", "claim_line__charge", "file"]
    fields = readonly_fields = ("claim_id", "patient", "service_date", "amount", "reasons", "remarks", "payer", "state")

    def patient_id_of(self, obj: Denial) -> Any:
        return obj.claim.patient_id

    def get_queryset(self, request: HttpRequest) -> QuerySet[Denial]:
        return super().get_queryset(request).order_by(F("resolved_at").desc(nulls_first=True), "-created_at")

    @admin.display(description="claim")
    def claim_id(self, obj: Denial) -> str:
        return _claim_link(obj.claim, obj.claim.submitter_claim_id)

    @admin.display(description="patient")
    def patient(self, obj: Denial) -> str:
        return obj.claim.patient.display_name

    @admin.display(description="service date")
    def service_date(self, obj: Denial) -> dt.date:
        return obj.claim_line.charge.service_date

    @admin.display(description="amount")
    def amount(self, obj: Denial) -> str:
        return f"{cents(obj.amount_cents)} {obj.claim.currency}"

    @admin.display(description="reason codes")
    def reasons(self, obj: Denial) -> str:
        return format_html_join(
            "", "<div>{}</div>", ((adjustment_codes.describe_adjustment(c),) for c in obj.reason_codes)
        )

    @admin.display(description="remark codes")
    def remarks(self, obj: Denial) -> str:
        return format_html_join("", "<div>{}</div>", ((adjustment_codes.describe_remark(c),) for c in obj.remark_codes))

    @admin.display(description="remittance")
    def payer(self, obj: Denial) -> str:
        return f"{obj.file.payer_name} {obj.file.trace_number} ({obj.file.paid_on or obj.file.created_at.date()})"

    @admin.display(description="state")
    def state(self, obj: Denial) -> str:
        return f"resolved {obj.resolved_at:%Y-%m-%d}" if obj.resolved_at else "open"


@admin.register(UnmatchedRemittance)
class UnmatchedRemittanceAdmin(TenantModelAdmin):
    """The unmatched work queue: claims and lines of remittances that matched nothing of the organization or could
    not take the answer; nothing of them was posted."""

    resource = CLEARINGHOUSE_FILE
    list_display = [
        "claim_id",
        "control_number",
        "procedure",
        "service_date",
        "charged",
        "paid",
        "reason",
        "remittance",
        "created_at",
    ]
    list_filter = ["reason", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["claim", "file"]
    fields = readonly_fields = (*list_display, "resolved_at")

    @admin.display(description="claim id (CLP01)")
    def claim_id(self, obj: UnmatchedRemittance) -> str:
        return _claim_link(obj.claim, obj.submitter_claim_id)

    @admin.display(description="charged")
    def charged(self, obj: UnmatchedRemittance) -> str:
        return cents(obj.charge_cents)

    @admin.display(description="paid")
    def paid(self, obj: UnmatchedRemittance) -> str:
        return cents(obj.paid_cents)

    @admin.display(description="remittance")
    def remittance(self, obj: UnmatchedRemittance) -> str:
        return f"{obj.file.payer_name} {obj.file.trace_number}".strip()


@admin.register(ProviderAdjustment)
class ProviderAdjustmentAdmin(TenantModelAdmin):
    """Provider-level adjustments (835 PLB): what payers withheld from (or added to) a whole payment."""

    resource = CLEARINGHOUSE_FILE
    list_display = ["reason", "reference", "amount", "fiscal_period_end", "remittance", "created_at"]
    list_select_related = ["file"]
    fields = readonly_fields = tuple(list_display)

    @admin.display(description="reason")
    def reason(self, obj: ProviderAdjustment) -> str:
        description = adjustment_codes.PROVIDER_ADJUSTMENT_REASONS.get(obj.reason_code, "not in the table")
        return f"{obj.reason_code} {description}"

    @admin.display(description="amount withheld")
    def amount(self, obj: ProviderAdjustment) -> str:
        return cents(obj.amount_cents)

    @admin.display(description="remittance")
    def remittance(self, obj: ProviderAdjustment) -> str:
        return f"{obj.file.payer_name} {obj.file.trace_number}".strip()


class CentsField(forms.DecimalField):
    """An amount typed in currency units ("12.50"), cleaned to integer cents (1250); never a float."""

    def __init__(self, *, max_cents: int | None = None, **kwargs: Any) -> None:
        maximum = None if max_cents is None else Decimal(max_cents) / 100
        super().__init__(min_value=0, max_value=maximum, decimal_places=2, **kwargs)

    def clean(self, value: Any) -> int | None:
        amount = super().clean(value)
        # Exact: the amount has at most two decimal places.
        return None if amount is None else int(amount * 100)


class PaymentForm(forms.Form):
    """Posting a payment: an amount for each open charge, plus an optional amount kept as credit."""

    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT)])
    method = forms.ChoiceField(choices=[("card", "Card"), ("cash", "Cash"), ("check", "Check"), ("eft", "EFT")])
    external_reference = forms.CharField(max_length=100, required=False)
    credit = CentsField(required=False, help_text="Amount to keep as credit (prepayment).")
    credit_type = forms.ChoiceField(choices=TransactionType.choices, required=False)

    def __init__(self, *args: Any, charges: list[tuple[LedgerEntry, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.charges = charges
        for charge, outstanding in charges:
            self.fields[f"charge_{charge.pk}"] = CentsField(
                max_cents=outstanding,
                required=False,
                label=f"{charge.service_date:%Y-%m-%d} {charge.description or charge.get_transaction_type_display()} "
                f"(owed {cents(outstanding)} {charge.currency})",
            )


class InstallmentPlanForm(forms.Form):
    """A program enrollment paid in installments; the plan's charges are created by the service."""

    patient = forms.ModelChoiceField(queryset=patient_list())
    program = forms.CharField(max_length=200)
    total = CentsField(help_text="In currency units, e.g. 1000.01.")
    currency = forms.ChoiceField(choices=[(c, c) for c in sorted(ISO_4217)], initial="USD")
    installment_count = forms.IntegerField(min_value=1, max_value=120)
    first_due_date = forms.DateField(help_text="YYYY-MM-DD")
    interval_days = forms.IntegerField(min_value=1, max_value=366, initial=30)
    external_reference = forms.CharField(
        max_length=100, required=False, help_text="The card processor's subscription id (stored, never called)."
    )

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The admin's patient search: patients named and found as everywhere else, never a list of all of them.
        widget = AutocompleteSelectOfValidIds(InstallmentPlan._meta.get_field("patient"), admin_site)
        self.fields["patient"] = forms.ModelChoiceField(queryset=patient_list(), widget=widget)


class InstallmentOutcomeForm(forms.Form):
    """The card processor's verdict on one installment."""

    outcome = forms.ChoiceField(choices=[("succeeded", "Payment succeeded"), ("failed", "Payment failed")])
    external_reference = forms.CharField(max_length=100, help_text="The processor's payment id.")
    amount = CentsField(required=False, help_text="Leave empty for what is still owed.")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    resource = LEDGER
    record_type = PHIAccessLog.RecordType.LEDGER_ENTRY

    def log_phi_read(self, request: HttpRequest, records: Sequence[Any]) -> None:
        super().log_phi_read(request, [entry for entry in records if entry.carries_phi])

    list_display = [
        "created_at",
        "patient",
        "kind",
        "transaction_type",
        "payment_status",
        "amount_cents",
        "currency",
        "service_date",
        "claim",
    ]
    list_filter = ["kind", "transaction_type", "payment_status", "currency"]
    list_select_related = ["patient"]
    actions = ["export_837p"]
    change_list_template = "admin/billing/ledgerentry/change_list.html"

    def has_export_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "export")

    @admin.action(description="Send the ready claims as an 837P batch", permissions=["export"])
    def export_837p(self, request: HttpRequest, queryset: QuerySet[LedgerEntry]) -> HttpResponse | None:
        provider = BillingProvider.objects.for_current_organization().first()
        if provider is not None and provider.is_live and request.POST.get("confirm_production") != "yes":
            # Production data goes to the payers: the sender confirms first.
            context = {
                **self.admin_site.each_context(request),
                "title": "Send a production claim batch?",
                "ready_claims": selectors.claim_list(status=ClaimStatus.READY).count(),
                "unclaimed_charges": LedgerEntry.objects.unclaimed_insurance_charges()
                .for_current_organization()
                .count(),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/billing/confirm_production_batch.html", context)
        try:
            batch = x12.claim_batch_export()
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return None
        if batch is None:
            self.message_user(request, "No claims ready to send.", messages.INFO)
            return None
        response = HttpResponse(batch.file_bytes(), content_type="application/edi-x12")
        response["Content-Disposition"] = f'attachment; filename="{batch.file_name}"'
        return response

    def get_urls(self) -> list[URLPattern]:
        def view(page: Any, action: str) -> Any:
            return guarded_view(self.admin_site, page, LEDGER, action)

        return [
            path("dashboard/", view(self.dashboard, "read"), name="billing_dashboard"),
            path("patient/<uuid:patient_id>/", view(self.patient_ledger, "read"), name="billing_patient_ledger"),
            path("patient/<uuid:patient_id>/pay/", view(self.post_payment, "write"), name="billing_post_payment"),
            path("patient/<uuid:patient_id>/superbill/", view(self.superbill, "read"), name="billing_superbill"),
            path("patient/<uuid:patient_id>/statement/", view(self.statement, "statement"), name="billing_statement"),
            path("receipt/<uuid:entry_id>/", view(self.receipt, "receipt"), name="billing_receipt"),
            *super().get_urls(),
        ]

    # --- dashboard ---------------------------------------------------------------------------------------

    def dashboard(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        as_of = min(_date_param(request, "as_of", today), today)
        aging = selectors.aging(as_of=as_of)
        totals = selectors.organization_totals(as_of=as_of)
        largest = selectors.largest_balances(as_of=as_of)
        patients = Patient.objects.for_current_organization().in_bulk([row[0] for row in largest])
        top = [{"patient": patients.get(pid), "currency": cur, "net_cents": net} for pid, cur, net in largest]
        failed = list(selectors.failed_installments().select_related("patient"))
        # Patients by MRN beside what they owe: each row shown (or exported) is a read of that patient's ledger.
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.LEDGER_ENTRY,
            patient_ids=[pid for pid, _, _ in largest if pid in patients] + [c.patient_id for c in failed],
        )
        if request.GET.get("format") == "csv":
            return self._dashboard_csv(as_of, aging, totals, top)
        context = {
            **self.admin_site.each_context(request),
            "title": "Billing dashboard",
            "as_of": as_of,
            "aging": list(aging.values()),
            "totals": totals,
            "largest": top,
            "failed": failed,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/dashboard.html", context)

    def _dashboard_csv(
        self, as_of: dt.date, aging: dict[str, selectors.Aging], totals: list[dict[str, Any]], top: list[dict[str, Any]]
    ) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="billing-{as_of:%Y-%m-%d}.csv"'
        writer = csv.writer(response)
        writer.writerow(["section", "as_of", "currency", "name", "value_cents"])
        for report in aging.values():
            for bucket, amount in report.buckets.items():
                writer.writerow(["aging", as_of, report.currency, bucket, amount])
            writer.writerow(["aging", as_of, report.currency, "credit", report.credit])
        for row in totals:
            name = f"{row['transaction_type']}/{row['kind']}/{row['payment_status']} ({row['count']})"
            writer.writerow(["totals", as_of, row["currency"], name, row["amount_cents"]])
        for row in top:
            mrn = row["patient"].mrn if row["patient"] else ""
            writer.writerow(["largest_balance", as_of, row["currency"], mrn, row["net_cents"]])
        return response

    # --- patient ledger and payments -----------------------------------------------------------------------

    def _patient(self, patient_id: uuid.UUID) -> Patient:
        return object_or_404(Patient.objects.for_current_organization(), patient_id)

    def patient_ledger(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        rows, running = [], 0
        entries = list(selectors.ledger_entry_list(patient_id=patient.pk))
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.LEDGER_ENTRY,
            patient_ids=[entry.patient_id for entry in entries if entry.carries_phi],
        )
        for entry in entries:
            change = documents._signed(entry)
            running += change
            rows.append({"entry": entry, "change_cents": change, "running_cents": running})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ledger of {patient}",
            "patient": patient,
            "rows": rows,
            "balances": list(selectors.balances(patient_id=patient.pk).values()),
            # Each link only for the roles the map lets follow it.
            "can_post": may(request, LEDGER, "write"),
            "can_statement": may(request, LEDGER, "statement"),
            "can_receipt": may(request, LEDGER, "receipt"),
            "can_add_plan": may(request, INSTALLMENT_PLAN, "add"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/patient_ledger.html", context)

    def post_payment(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        open_charges = []
        for charge in selectors.ledger_entry_list(patient_id=patient.pk).filter(kind=EntryKind.CHARGE):
            if charge.open_cents > 0:
                open_charges.append((charge, charge.open_cents))
        form = PaymentForm(request.POST or None, charges=open_charges)
        if request.method == "POST" and form.is_valid():
            allocations = [
                services.Allocation(charge=charge, amount_cents=form.cleaned_data[f"charge_{charge.pk}"])
                for charge, _ in open_charges
                if form.cleaned_data.get(f"charge_{charge.pk}")
            ]
            credit = form.cleaned_data.get("credit") or 0
            total = sum(a.amount_cents for a in allocations) + credit
            currencies = {a.charge.currency for a in allocations} or {"USD"}
            try:
                if len(currencies) > 1:
                    raise ValidationError({"currency": "Post one payment per currency."})
                payment = services.payment_post(
                    patient=patient,
                    kind=form.cleaned_data["kind"],
                    amount_cents=total,
                    currency=currencies.pop(),
                    allocations=allocations,
                    allow_credit=credit > 0,
                    transaction_type=form.cleaned_data.get("credit_type") or None,
                    metadata={"method": form.cleaned_data["method"]},
                    external_reference=form.cleaned_data["external_reference"],
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    form.add_error(None, f"{field}: {' '.join(errors)}")
            else:
                messages.success(request, f"Payment of {cents(payment.amount_cents)} posted.")
                return redirect(reverse("admin:billing_patient_ledger", args=[patient.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Post a payment for {patient}",
            "patient": patient,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/post_payment.html", context)

    # --- documents -----------------------------------------------------------------------------------------

    def _document_response(self, request: HttpRequest, document: dict[str, Any], name: str) -> HttpResponse:
        if request.GET.get("format") == "pdf":
            response = HttpResponse(documents.render_pdf(document), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
            return response
        nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
        return HttpResponse(documents.render_html(document, csp_nonce=nonce))

    def _period(self, request: HttpRequest) -> tuple[dt.date, dt.date]:
        today = timezone.localdate()
        return _date_param(request, "from", today.replace(day=1)), _date_param(request, "to", today)

    def superbill(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        date_from, date_to = self._period(request)
        try:
            document = documents.superbill(patient=self._patient(patient_id), date_from=date_from, date_to=date_to)
        except ValidationError:
            raise Http404 from None
        return self._document_response(request, document, f"superbill-{date_from:%Y%m%d}-{date_to:%Y%m%d}")

    def statement(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        date_from, date_to = self._period(request)
        try:
            document = documents.statement(patient=self._patient(patient_id), date_from=date_from, date_to=date_to)
        except ValidationError:
            raise Http404 from None
        return self._document_response(request, document, f"statement-{date_to:%Y%m%d}")

    def receipt(self, request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
        payment = object_or_404(selectors.ledger_entry_list(), entry_id)
        try:
            document = documents.receipt(payment=payment)
        except ValidationError:
            raise Http404 from None
        return self._document_response(request, document, f"receipt-{payment.pk}")
