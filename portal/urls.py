from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("portal.interfaces.urls")),
    path("", include("portal.approvals.urls")),
    path("audit/", include("portal.audit.urls")),
]

handler404 = "portal.core.views.handler404"
