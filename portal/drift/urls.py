from django.urls import path

from . import views

urlpatterns = [
    path("", views.report, name="drift_report"),
    path("scan/", views.scan_now, name="drift_scan"),
    path("export.csv", views.export_csv, name="drift_export_csv"),
]
