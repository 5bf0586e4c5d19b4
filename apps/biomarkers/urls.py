from django.urls import path

from . import api

urlpatterns = [
    path("biomarkers/metrics/", api.MetricListApi.as_view(), name="biomarker-metric-list"),
    path("biomarkers/readings/", api.ReadingBulkCreateApi.as_view(), name="biomarker-reading-bulk-create"),
    path("biomarkers/readings/<uuid:reading_id>/void/", api.ReadingVoidApi.as_view(), name="biomarker-reading-void"),
    path(
        "biomarkers/readings/<uuid:reading_id>/history/",
        api.ReadingHistoryApi.as_view(),
        name="biomarker-reading-history",
    ),
    path("biomarkers/imports/", api.RecordImportApi.as_view(), name="biomarker-record-import"),
    path("biomarkers/out-of-reference/", api.OutOfReferenceApi.as_view(), name="biomarker-out-of-reference"),
    path("biomarkers/patients/<uuid:patient_id>/series/", api.SeriesApi.as_view(), name="biomarker-series"),
    path("biomarkers/patients/<uuid:patient_id>/latest/", api.LatestApi.as_view(), name="biomarker-latest"),
]
