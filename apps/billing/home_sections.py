"""Billing's part of the home page (`apps.organizations.home`): links to the billing lists the role may open."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from apps.organizations.admin_base import may
from apps.organizations.home import HomeSection

from .permissions import CLAIM, CLEARINGHOUSE_FILE, INSTALLMENT_PLAN, INSURANCE_POLICY, LEDGER


def sections(request: HttpRequest) -> list[HomeSection]:
    # The billing desk's work (claims, clearinghouse answers) is the owner's and billing's, not every reader's.
    if not may(request, CLEARINGHOUSE_FILE, "view"):
        return []
    links = [
        (LEDGER, reverse("admin:billing_dashboard"), "Billing dashboard: balances and aging"),
        (CLAIM, reverse("admin:billing_claim_changelist"), "Claims"),
        (CLEARINGHOUSE_FILE, reverse("admin:billing_clearinghousefile_changelist"), "Clearinghouse files"),
        (LEDGER, reverse("admin:billing_ledgerentry_changelist"), "Ledger entries"),
        (INSTALLMENT_PLAN, reverse("admin:billing_installmentplan_changelist"), "Installment plans"),
        (INSURANCE_POLICY, reverse("admin:billing_insurancepolicy_changelist"), "Insurance policies"),
    ]
    shown = [(url, label) for resource, url, label in links if may(request, resource, "view")]
    if may(request, LEDGER, "desk"):
        shown.insert(0, (reverse("admin:billing_desk"), "Billing desk: the work queue"))
    return [HomeSection(title="Billing", template="admin/billing/home_links.html", context={"links": shown}, order=40)]
