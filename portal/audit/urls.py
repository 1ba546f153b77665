from django.urls import path

from . import public, views

urlpatterns = [
    path("", views.event_list, name="audit_events"),
    path("events/<int:seq>/", views.event_detail, name="audit_event"),
    path("export.csv", views.export_csv, name="audit_export_csv"),
    path("export.jsonl", views.export_jsonl, name="audit_export_jsonl"),
    path("verify/", views.verify_now, name="audit_verify"),
    path("checkpoint", public.checkpoint, name="audit_checkpoint"),
    path("proof/consistency", public.consistency, name="audit_consistency"),
]
