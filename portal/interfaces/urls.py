from django.urls import path

from . import views, watch

SERVER = "servers/<str:server_id>"

urlpatterns = [
    path("servers/", views.server_list, name="server_list"),
    path(f"{SERVER}/", views.server_detail, name="server_detail"),
    path(f"{SERVER}/attach/", views.attach, name="attach"),
    path(f"{SERVER}/attach/check-ip/", views.check_ip, name="check_ip"),
    path(f"{SERVER}/detach/<str:port_id>/", views.detach, name="detach"),
    path("requests/", views.my_requests, name="my_requests"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request_cancel"),
    path("requests/<int:pk>/receipt/", views.request_receipt, name="request_receipt"),
    path("requests/<int:pk>/changed/", watch.request_changed, name="request_changed"),  # RequestWatchMiddleware
]
