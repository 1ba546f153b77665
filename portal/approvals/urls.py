from django.urls import path

from . import views

urlpatterns = [
    path("approvals/", views.queue, name="approval_queue"),
    path("approvals/<int:pk>/decide/", views.decide, name="approval_decide"),
]
