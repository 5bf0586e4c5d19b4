"""The billing desk: pages inside the admin site for the people who work the money.

Its home is the work queue (`work_queue.py`); from there, the dashboard (aging as of any day), a patient's
ledger, posting a payment (date received, method, reference, payer) across charges of any kind, the payments
list and each payment's page, superbills and statements for any period, the statement run for every patient
who owes something, and receipts. Pages are thin: parse a form, call a selector or service, render. What a role
may do is the map's (`LEDGER`)."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from apps.organizations.access import object_or_404
from apps.organizations.admin_base import guarded_view, may
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog

from . import documents, selectors, services, work_queue
from .models import EntryKind, LedgerApplication, LedgerEntry, Payer, PaymentMethod, TransactionType
from .permissions import CLAIM, CLEARINGHOUSE_FILE, INSTALLMENT_PLAN, LEDGER
from .templatetags.billing_format import money

PAYMENTS_PER_PAGE = 50
# The methods staff record at the desk (an 835's insurance remittance is posted by its import).
DESK_METHODS = [(m.value, m.label) for m in PaymentMethod if m != PaymentMethod.INSURANCE]
# Methods whose payments carry a reference (check number, processor id): the same one is posted once.
METHODS_WITH_REFERENCE = {PaymentMethod.CHECK, PaymentMethod.EFT}
# A service's field -> the payment form's field; the others go above the form, said once, in words.
PAYMENT_FORM_FIELDS = {"external_reference": "external_reference", "payer": "payer", "received_on": "received_on"}


def add_service_errors(form: forms.Form, error: ValidationError, renames: dict[str, str]) -> None:
    """A service's field errors shown on the form's matching fields (the others above the form), each once."""
    fields = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    for field, errors in fields.items():
        name = renames.get(field, field)
        for message in dict.fromkeys(errors):
            form.add_error(name if name in form.fields else None, message)


class CentsField(forms.DecimalField):
    """An amount typed in currency units ("12.50"), cleaned to integer cents (1250); never a float."""

    def __init__(self, *, max_cents: int | None = None, **kwargs: Any) -> None:
        maximum = None if max_cents is None else Decimal(max_cents) / 100
        super().__init__(min_value=0, max_value=maximum, decimal_places=2, **kwargs)

    def clean(self, value: Any) -> int | None:
        amount = super().clean(value)
        # Exact: the amount has at most two decimal places.
        return None if amount is None else int(amount * 100)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _charge_label(charge: LedgerEntry, outstanding: int) -> str:
    what = charge.description or charge.get_transaction_type_display()
    return (
        f"{charge.service_date:%Y-%m-%d} · {charge.get_transaction_type_display()} · {what} "
        f"(owed {money(outstanding, charge.currency)})"
    )


class PaymentForm(forms.Form):
    """Posting money received: who paid, when, how and under what reference; an amount for each open charge
    (of any kind), plus an optional amount kept as credit."""

    kind = forms.ChoiceField(
        label="Paid by", choices=[(k.value, k.label) for k in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT)]
    )
    payer = forms.ModelChoiceField(
        queryset=Payer.objects.none(), required=False, help_text="For an insurance payment: the insurer that paid."
    )
    received_on = forms.DateField(
        label="Date received", widget=DateInput(), required=False, help_text="Today when left empty."
    )
    method = forms.ChoiceField(choices=DESK_METHODS)
    external_reference = forms.CharField(
        label="Check number or reference",
        max_length=100,
        required=False,
        help_text="The check number, or the card processor's or bank's reference (needed for a check or EFT).",
    )
    credit = CentsField(required=False, help_text="Amount to keep as credit (prepayment).")
    credit_type = forms.ChoiceField(
        label="Credit for", choices=[("", "---------"), *TransactionType.choices], required=False
    )

    def __init__(self, *args: Any, charges: list[tuple[LedgerEntry, int]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = selectors.payer_list()  # type: ignore[attr-defined]
        self.fields["received_on"].initial = timezone.localdate()
        self.charges = charges
        for charge, outstanding in charges:
            self.fields[f"charge_{charge.pk}"] = CentsField(
                max_cents=outstanding, required=False, label=_charge_label(charge, outstanding)
            )

    def clean_received_on(self) -> dt.date:
        received: dt.date = self.cleaned_data["received_on"] or timezone.localdate()
        if received > timezone.localdate():
            raise ValidationError("Must not be in the future.")
        return received

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == EntryKind.INSURANCE_PAYMENT and not data.get("payer"):
            self.add_error("payer", "Name the insurer that paid.")
        if data.get("kind") == EntryKind.PAYMENT and data.get("payer"):
            self.add_error("payer", "Only an insurance payment names a payer.")
        if data.get("method") in METHODS_WITH_REFERENCE and not data.get("external_reference"):
            self.add_error("external_reference", "Give the check number or reference of this payment.")
        if not any(data.get(f"charge_{charge.pk}") for charge, _ in self.charges) and not data.get("credit"):
            raise ValidationError("Enter an amount for at least one charge, or an amount kept as credit.")
        return data

    def allocations(self) -> list[services.Allocation]:
        return [
            services.Allocation(charge=charge, amount_cents=self.cleaned_data[f"charge_{charge.pk}"])
            for charge, _ in self.charges
            if self.cleaned_data.get(f"charge_{charge.pk}")
        ]


class PeriodForm(forms.Form):
    """The period of a superbill, a statement or the statement run (`?from=...&to=...`)."""

    def __init__(self, data: Any, *, default: tuple[dt.date, dt.date]) -> None:
        given = {name: data[name] for name in ("from", "to") if data.get(name)}
        super().__init__({"from": default[0].isoformat(), "to": default[1].isoformat(), **given})
        self.fields["from"] = forms.DateField(label="From", widget=DateInput())
        self.fields["to"] = forms.DateField(label="To", widget=DateInput())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "from" in data and "to" in data:
            try:
                documents.check_period(data["from"], data["to"])
            except ValidationError as error:
                add_service_errors(self, error, {"date_from": "from", "date_to": "to"})
        return data

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        return self.cleaned_data["from"], self.cleaned_data["to"]


class AsOfForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=DateInput())

    def __init__(self, data: Any, *, today: dt.date) -> None:
        super().__init__({"as_of": data.get("as_of") or today.isoformat()})


class DeskPages:
    """The desk's pages, mounted on the ledger admin's URLs (their names are `admin:billing_<page>`)."""

    def __init__(self, admin_site: admin.AdminSite) -> None:
        self.admin_site = admin_site

    def urls(self) -> list[URLPattern]:
        def view(page: Any, action: str) -> Any:
            return guarded_view(self.admin_site, page, LEDGER, action)

        return [
            path("desk/", view(self.desk, "desk"), name="billing_desk"),
            path("dashboard/", view(self.dashboard, "read"), name="billing_dashboard"),
            path("payments/", view(self.payments, "read"), name="billing_payments"),
            path("payment/<uuid:entry_id>/", view(self.payment, "read"), name="billing_payment"),
            path("statements/", view(self.statement_run, "desk"), name="billing_statement_run"),
            path("patient/<uuid:patient_id>/", view(self.patient_ledger, "read"), name="billing_patient_ledger"),
            path("patient/<uuid:patient_id>/pay/", view(self.post_payment, "write"), name="billing_post_payment"),
            path("patient/<uuid:patient_id>/superbill/", view(self.superbill, "read"), name="billing_superbill"),
            path("patient/<uuid:patient_id>/statement/", view(self.statement, "statement"), name="billing_statement"),
            path("receipt/<uuid:entry_id>/", view(self.receipt, "receipt"), name="billing_receipt"),
        ]

    def _render(self, request: HttpRequest, template: str, title: str, status: int = 200, **extra: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": LedgerEntry._meta,
            # The desk's pages name the desk in their breadcrumbs only for those who may open it.
            "can_use_desk": may(request, LEDGER, "desk"),
            **extra,
        }
        return TemplateResponse(request, f"admin/billing/{template}", context, status=status)

    @staticmethod
    def _patient(patient_id: uuid.UUID) -> Patient:
        return object_or_404(Patient.objects.for_current_organization(), patient_id)

    @staticmethod
    def _mark_reads(patient_ids: Any) -> None:
        """Patients named beside what they owe or paid: each is a read of that patient's ledger."""
        phi_reads.mark(record_type=PHIAccessLog.RecordType.LEDGER_ENTRY, patient_ids=list(patient_ids))

    # --- the work queue ------------------------------------------------------------------------------------

    def desk(self, request: HttpRequest) -> HttpResponse:
        sections = work_queue.work_queue(allowed=lambda resource, action: may(request, resource, action))
        self._mark_reads(work_queue.patients_in(sections))
        batches = selectors.claim_batch_list()[:5] if may(request, CLAIM, "read") else []
        return self._render(
            request,
            "desk.html",
            "Billing desk",
            sections=sections,
            batches=batches,
            can_download=may(request, CLAIM, "download"),
            can_import=may(request, CLEARINGHOUSE_FILE, "upload"),
            can_export=may(request, LEDGER, "export"),
        )

    # --- dashboard -------------------------------------------------------------------------------------------

    def dashboard(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate()
        form = AsOfForm(request.GET, today=today)
        as_of = min(form.cleaned_data["as_of"], today) if form.is_valid() else today
        aging = selectors.aging(as_of=as_of)
        totals = selectors.organization_totals(as_of=as_of)
        largest = selectors.largest_balances(as_of=as_of)
        patients = Patient.objects.for_current_organization().in_bulk([row[0] for row in largest])
        top = [{"patient": patients.get(pid), "currency": cur, "net_cents": net} for pid, cur, net in largest]
        failed = list(selectors.installment_outstanding(selectors.failed_installments()).select_related("patient"))
        self._mark_reads([pid for pid, _, _ in largest if pid in patients] + [c.patient_id for c in failed])
        if form.is_valid() and request.GET.get("format") == "csv":
            return self._dashboard_csv(as_of, aging, totals, top)
        return self._render(
            request,
            "dashboard.html",
            "Billing dashboard",
            status=200 if form.is_valid() else 400,
            form=form,
            as_of=as_of,
            aging=list(aging.values()),
            totals=totals,
            largest=top,
            failed=failed,
        )

    @staticmethod
    def _dashboard_csv(
        as_of: dt.date, aging: dict[str, selectors.Aging], totals: list[dict[str, Any]], top: list[dict[str, Any]]
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

    # --- patient ledger and payments -------------------------------------------------------------------------

    def patient_ledger(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        rows, running = [], 0
        entries = list(selectors.ledger_entry_list(patient_id=patient.pk).select_related("payer"))
        self._mark_reads({entry.patient_id for entry in entries if entry.carries_phi})
        for entry in entries:
            change = documents.signed_amount(entry)
            running += change
            rows.append({"entry": entry, "change_cents": change, "running_cents": running})
        rows.reverse()  # newest first
        return self._render(
            request,
            "patient_ledger.html",
            f"Ledger of {patient}",
            patient=patient,
            rows=rows,
            balances=list(selectors.balances(patient_id=patient.pk).values()),
            # Each link only for the roles the map lets follow it.
            can_post=may(request, LEDGER, "write"),
            can_statement=may(request, LEDGER, "statement"),
            can_receipt=may(request, LEDGER, "receipt"),
            can_add_plan=may(request, INSTALLMENT_PLAN, "add"),
        )

    def post_payment(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        open_charges = [
            (charge, charge.open_cents)
            for charge in selectors.ledger_entry_list(patient_id=patient.pk).filter(kind=EntryKind.CHARGE)
            if charge.open_cents > 0
        ]
        form = PaymentForm(request.POST or None, charges=open_charges)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            allocations = form.allocations()
            credit = data.get("credit") or 0
            currencies = {a.charge.currency for a in allocations} or {"USD"}
            try:
                if len(currencies) > 1:
                    raise ValidationError("Post one payment per currency.")
                payment = services.payment_post(
                    patient=patient,
                    kind=data["kind"],
                    amount_cents=sum(a.amount_cents for a in allocations) + credit,
                    currency=currencies.pop(),
                    allocations=allocations,
                    allow_credit=credit > 0,
                    transaction_type=data.get("credit_type") or None,
                    metadata={"method": data["method"]},
                    external_reference=data["external_reference"],
                    received_on=data["received_on"],
                    payer=data.get("payer"),
                )
            except ValidationError as error:
                add_service_errors(form, error, PAYMENT_FORM_FIELDS)
            else:
                messages.success(request, f"Payment of {money(payment.amount_cents, payment.currency)} posted.")
                return redirect(reverse("admin:billing_patient_ledger", args=[patient.pk]))
        return self._render(request, "post_payment.html", f"Post a payment for {patient}", patient=patient, form=form)

    def payments(self, request: HttpRequest) -> HttpResponse:
        page = Paginator(selectors.payment_list().select_related("patient", "payer"), PAYMENTS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        self._mark_reads({payment.patient_id for payment in page})
        return self._render(request, "payments.html", "Payments", page=page)

    def payment(self, request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
        payment = object_or_404(selectors.payment_list().select_related("patient", "payer"), entry_id)
        applications = list(
            LedgerApplication.objects.filter(source=payment).select_related("target").order_by("created_at", "id")
        )
        self._mark_reads({payment.patient_id})
        return self._render(
            request,
            "payment.html",
            f"{payment.get_kind_display()} of {money(payment.amount_cents, payment.currency)}",
            payment=payment,
            applications=applications,
            unapplied_cents=payment.open_cents,
            can_receipt=may(request, LEDGER, "receipt"),
        )

    # --- documents -------------------------------------------------------------------------------------------

    def _document_response(
        self, request: HttpRequest, document: dict[str, Any], name: str, **extra: Any
    ) -> HttpResponse:
        if request.GET.get("format") == "pdf":
            response = HttpResponse(documents.render_pdf(document), content_type="application/pdf")
            response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
            return response
        nonce = str(request.csp_nonce)  # type: ignore[attr-defined]
        return HttpResponse(documents.render_html({**document, **extra}, csp_nonce=nonce))

    def _period_form(self, request: HttpRequest) -> PeriodForm:
        return PeriodForm(request.GET, default=documents.default_period(timezone.localdate()))

    def _period_refused(self, request: HttpRequest, form: PeriodForm, title: str) -> HttpResponse:
        return self._render(request, "period_page.html", title, status=400, form=form)

    def superbill(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        form = self._period_form(request)
        if not form.is_valid():
            return self._period_refused(request, form, f"Superbill for {patient}")
        date_from, date_to = form.period
        document = documents.superbill(patient=patient, date_from=date_from, date_to=date_to)
        name = f"superbill-{date_from:%Y%m%d}-{date_to:%Y%m%d}"
        return self._document_response(request, document, name, period_form=form)

    def statement(self, request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
        patient = self._patient(patient_id)
        form = self._period_form(request)
        if not form.is_valid():
            return self._period_refused(request, form, f"Statement for {patient}")
        date_from, date_to = form.period
        document = documents.statement(patient=patient, date_from=date_from, date_to=date_to)
        return self._document_response(request, document, f"statement-{date_to:%Y%m%d}", period_form=form)

    def statement_run(self, request: HttpRequest) -> HttpResponse:
        form = self._period_form(request)
        if not form.is_valid():
            return self._period_refused(request, form, "Statement run")
        date_from, date_to = form.period
        document = documents.statement_batch(date_from=date_from, date_to=date_to)
        return self._document_response(request, document, f"statements-{date_to:%Y%m%d}", period_form=form)

    def receipt(self, request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
        payment = object_or_404(selectors.ledger_entry_list(), entry_id)
        try:
            document = documents.receipt(payment=payment)
        except ValidationError:
            raise Http404 from None
        return self._document_response(request, document, f"receipt-{payment.pk}")
