from django.urls import path

from . import api

urlpatterns = [
    path("billing/entries/", api.EntryListApi.as_view(), name="billing-entry-list"),
    path("billing/entries/<uuid:entry_id>/", api.EntryDetailApi.as_view(), name="billing-entry-detail"),
    path("billing/charges/", api.ChargeCreateApi.as_view(), name="billing-charge-create"),
    path("billing/payments/", api.PaymentCreateApi.as_view(), name="billing-payment-create"),
    path("billing/patients/<uuid:patient_id>/balance/", api.PatientBalanceApi.as_view(), name="billing-balance"),
    path("billing/aging/", api.AgingApi.as_view(), name="billing-aging"),
    path("billing/totals/", api.TotalsApi.as_view(), name="billing-totals"),
    path("billing/installment-plans/", api.PlanListCreateApi.as_view(), name="billing-plan-list"),
    path("billing/installment-plans/<uuid:plan_id>/", api.PlanDetailApi.as_view(), name="billing-plan-detail"),
    path(
        "billing/installment-plans/<uuid:plan_id>/installments/<int:number>/outcome/",
        api.InstallmentOutcomeApi.as_view(),
        name="billing-installment-outcome",
    ),
    path("billing/installments/failed/", api.FailedInstallmentListApi.as_view(), name="billing-installments-failed"),
    path("billing/payers/", api.PayerListCreateApi.as_view(), name="billing-payer-list"),
    path("billing/payers/<uuid:payer_id>/", api.PayerDetailApi.as_view(), name="billing-payer-detail"),
    path("billing/insurance-policies/", api.PolicyListCreateApi.as_view(), name="billing-policy-list"),
    path("billing/insurance-policies/<uuid:policy_id>/", api.PolicyDetailApi.as_view(), name="billing-policy-detail"),
    path("billing/provider/", api.BillingProviderApi.as_view(), name="billing-provider"),
    path("billing/refunds/", api.RefundCreateApi.as_view(), name="billing-refund-create"),
    path("billing/credit-applications/", api.CreditApplyApi.as_view(), name="billing-credit-apply"),
]
