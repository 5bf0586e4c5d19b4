"""Billing in the admin: thin pages of payers, policies, the provider, plans, claims, batches, clearinghouse files
and the ledger (the 837P export is the ledger list's action). The billing desk's pages are in `desk.py`, mounted
on the ledger's URLs.

Coaches see none of it (and the database shows them no billing row anyway); clinicians may look (the
database shows them clinical charges only); owner, billing and front desk post payments.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from apps.organizations import context as tenant_context
from apps.organizations.access import object_or_404
from apps.organizations.admin_base import (
    TenantInline,
    TenantModelAdmin,
    guarded_view,
    may,
)
from apps.patients import phi_reads
from apps.patients.admin_mixins import PHIAccessLoggedAdmin, patient_picker
from apps.patients.models import PHIAccessLog
from apps.patients.selectors import patient_list

from . import adjustment_codes, claims, clearinghouse, selectors, services, sftp, tasks, x12, x12_answers
from .codes import ISO_4217
from .desk import CentsField, DeskPages, add_service_errors
from .models import (
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimStatus,
    ClearinghouseConnection,
    ClearinghouseFile,
    Denial,
    EligibilityCheck,
    InstallmentPlan,
    InsurancePolicy,
    LedgerEntry,
    Payer,
    PaymentMethod,
    PaymentStatus,
    ProviderAdjustment,
    UnmatchedRemittance,
)
from .permissions import (
    CLAIM,
    CLEARINGHOUSE_CONNECTION,
    CLEARINGHOUSE_FILE,
    ELIGIBILITY,
    INSTALLMENT_PLAN,
    INSURANCE_POLICY,
    LEDGER,
    PAYER,
    PROVIDER,
)
from .templatetags.billing_format import cents, money


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
    list_display = ["__str__", "patient", "program", "total", "installment_count", "first_due_date", "created_at"]
    list_select_related = ["patient"]
    readonly_fields = ["remaining", "schedule"]
    ordering = ["-created_at"]

    @admin.display(description="Total", ordering="total_cents")
    def total(self, obj: InstallmentPlan) -> str:
        return money(obj.total_cents, obj.currency)

    @admin.display(description="Remaining")
    def remaining(self, obj: InstallmentPlan) -> str:
        return money(selectors.installment_plan_remaining(plan=obj), obj.currency)

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
                add_service_errors(form, error, {"total_cents": "total"})
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
                add_service_errors(form, error, {"amount_cents": "amount"})
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


@admin.register(ClaimBatch)
class ClaimBatchAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """A batch's page shows its 837P file: a read of every claim on it. Each batch can be downloaded again."""

    resource = CLAIM
    record_type = PHIAccessLog.RecordType.CLAIM_FILE
    list_display = ["__str__", "file_name", "usage_indicator", "created_at", "download_link"]
    list_filter = ["usage_indicator"]

    logs_list_rows = False  # the list shows names and dates of files, no claim

    def get_list_display(self, request: HttpRequest) -> Sequence[str]:
        """The download link only for those who may download (owner and billing)."""
        shown = super().get_list_display(request)
        return shown if may(request, CLAIM, "download") else [name for name in shown if name != "download_link"]

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
        "patient",
        "status",
        "frequency_code",
        "payer",
        "service_date",
        "total",
        "payer_claim_control_number",
        "created_at",
    ]
    list_select_related = ["patient", "payer"]
    list_filter = ["status", "frequency_code"]
    ordering = ["-created_at"]

    @admin.display(description="Total", ordering="total_cents")
    def total(self, obj: Claim) -> str:
        return money(obj.total_cents, obj.currency)

    inlines = [ClaimLineInline]
    actions = ["correct_claims", "void_claims", "create_secondary_claims"]

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

    @admin.action(
        description="Create secondary claim: bill the secondary policy after the primary's 835", permissions=["correct"]
    )
    def create_secondary_claims(self, request: HttpRequest, queryset: QuerySet[Claim]) -> None:
        self._replace(request, queryset, claims.claim_create_secondary, "secondary")


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


@admin.register(EligibilityCheck)
class EligibilityCheckAdmin(PHIAccessLoggedAdmin, TenantModelAdmin):
    """Eligibility checks, newest first: each 270 asked (from check-in) and what the payer's 271 answered. Asked
    and answered through the clearinghouse, never edited here."""

    resource = ELIGIBILITY
    record_type = PHIAccessLog.RecordType.PATIENT
    list_display = [
        "patient",
        "payer",
        "member_id",
        "asked_at",
        "status",
        "copay",
        "coinsurance",
        "deductible_remaining",
        "answered_at",
    ]
    list_filter = ["status"]
    list_select_related = ["policy__patient", "policy__payer"]
    date_hierarchy = "asked_at"
    fields = readonly_fields = (*list_display, "trace_number", "uploaded_at")

    def patient_id_of(self, obj: EligibilityCheck) -> Any:
        return obj.policy.patient_id

    @admin.display(description="patient")
    def patient(self, obj: EligibilityCheck) -> str:
        return obj.policy.patient.display_name

    @admin.display(description="payer")
    def payer(self, obj: EligibilityCheck) -> str:
        return obj.policy.payer.name

    @admin.display(description="member id")
    def member_id(self, obj: EligibilityCheck) -> str:
        return obj.policy.member_id_masked

    @admin.display(description="copay")
    def copay(self, obj: EligibilityCheck) -> str:
        return cents(obj.copay_cents)

    @admin.display(description="coinsurance")
    def coinsurance(self, obj: EligibilityCheck) -> str:
        return "" if obj.coinsurance_percent is None else f"{obj.coinsurance_percent.normalize():f} %"

    @admin.display(description="deductible left")
    def deductible_remaining(self, obj: EligibilityCheck) -> str:
        return cents(obj.deductible_remaining_cents)


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


class SecretTextarea(forms.Textarea):
    """A textarea that never writes a value back into the page (a secret is typed in, not shown)."""

    def format_value(self, value: Any) -> None:
        return None


class ClearinghouseConnectionForm(forms.ModelForm):
    """The connection's settings; the private key is write-only: never shown, kept when left empty."""

    new_private_key = forms.CharField(
        label="private key",
        required=False,
        strip=True,
        widget=SecretTextarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text="The account's private key (OpenSSH or PEM, without a passphrase). It is stored encrypted and "
        "never shown again; leave empty to keep the stored key.",
    )

    class Meta:
        model = ClearinghouseConnection
        fields = clearinghouse.CONNECTION_FIELDS

    def clean_new_private_key(self) -> str:
        value: str = self.cleaned_data["new_private_key"]
        if value:
            sftp.validate_private_key(value)
        elif self.instance._state.adding:
            raise ValidationError("Paste the account's private key.")
        return value


@admin.register(ClearinghouseConnection)
class ClearinghouseConnectionAdmin(TenantModelAdmin):
    """The organization's SFTP account at its clearinghouse (set by the owner), and the exchange run from it:
    send the ready claims, fetch the answers now (they are also fetched every ten minutes), test the connection."""

    resource = CLEARINGHOUSE_CONNECTION
    form = ClearinghouseConnectionForm
    list_display = ["__str__", "port", "outbound_folder", "inbound_folder", "is_active", "live"]
    readonly_fields = ["public_key", "host_key_fingerprint", "live"]
    actions = ["send_claims", "receive_answers", "check_connection"]

    def get_fields(self, request: HttpRequest, obj: ClearinghouseConnection | None = None) -> list[str]:
        fields = [*clearinghouse.CONNECTION_FIELDS, "new_private_key", "live"]
        if obj is not None:
            fields[fields.index("host_key") + 1 : fields.index("host_key") + 1] = ["host_key_fingerprint"]
            fields.insert(fields.index("new_private_key") + 1, "public_key")
        if not self.has_change_permission(request, obj):
            fields.remove("new_private_key")
        return fields

    @admin.display(description="public key (give it to the clearinghouse)")
    def public_key(self, obj: ClearinghouseConnection) -> str:
        try:
            return sftp.public_key_of(obj.private_key)
        except ValueError:
            return "unavailable"

    @admin.display(description="host key fingerprint")
    def host_key_fingerprint(self, obj: ClearinghouseConnection) -> str:
        return sftp.host_key_fingerprint(obj.host_key)

    @admin.display(description="files sent as", boolean=False)
    def live(self, obj: ClearinghouseConnection | None = None) -> str:
        provider = BillingProvider.objects.for_current_organization().first()
        if provider is not None and provider.is_live:
            return "production data (ISA15 P): the billing provider is live"
        return "test data (ISA15 T) until the billing provider is marked live"

    def save_model(self, request: HttpRequest, obj: ClearinghouseConnection, form: Any, change: bool) -> None:
        saved = clearinghouse.clearinghouse_connection_save(
            **{name: form.cleaned_data[name] for name in clearinghouse.CONNECTION_FIELDS},
            private_key=form.cleaned_data["new_private_key"] or None,
        )
        obj.pk, obj._state.adding = saved.pk, False

    def has_exchange_permission(self, request: HttpRequest) -> bool:
        return may(request, self.resource, "exchange")

    @admin.action(description="Send the ready claims to the clearinghouse", permissions=["exchange"])
    def send_claims(self, request: HttpRequest, queryset: QuerySet[ClearinghouseConnection]) -> TemplateResponse | None:
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
            return TemplateResponse(request, "admin/billing/confirm_production_send.html", context)
        tasks.clearinghouse_send_request(organization_id=_organization_id())
        self.message_user(request, "The ready claims will be sent to the clearinghouse in a moment.", messages.INFO)
        return None

    @admin.action(description="Fetch the clearinghouse's answers now", permissions=["exchange"])
    def receive_answers(self, request: HttpRequest, queryset: QuerySet[ClearinghouseConnection]) -> None:
        tasks.clearinghouse_receive_request(organization_id=_organization_id())
        self.message_user(request, "The clearinghouse's answers will be fetched in a moment.", messages.INFO)

    @admin.action(description="Test the connection", permissions=["exchange"])
    def check_connection(self, request: HttpRequest, queryset: QuerySet[ClearinghouseConnection]) -> None:
        try:
            clearinghouse.clearinghouse_connection_check()
        except (sftp.ExchangeError, ValidationError) as error:
            message = str(error) if isinstance(error, sftp.ExchangeError) else " ".join(error.messages)
            self.message_user(request, f"The connection does not work: {message}", messages.ERROR)
        else:
            self.message_user(request, "Connected: the server is the pinned one and every folder is there.")


def _organization_id() -> uuid.UUID:
    ctx = tenant_context.current()
    assert ctx is not None  # admin pages run in the request's tenant context
    return ctx.organization_id


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
        self.fields["patient"] = patient_picker(InstallmentPlan, admin_site)


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
        "amount",
        "service_date",
        "method",
        "external_reference",
        "claim",
    ]
    list_filter = ["kind", "transaction_type", "payment_status", "currency"]
    list_select_related = ["patient", "claim"]
    ordering = ["-created_at"]

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj: LedgerEntry) -> str:
        return money(obj.amount_cents, obj.currency)

    @admin.display(description="Method")
    def method(self, obj: LedgerEntry) -> str:
        return PaymentMethod(obj.metadata["method"]).label if obj.metadata.get("method") else ""

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
        return [*DeskPages(self.admin_site).urls(), *super().get_urls()]
