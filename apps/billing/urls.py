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
]
