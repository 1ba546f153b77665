from django.contrib import admin
from django.urls import include, path

from portal.core import views as core_views
from portal.identity import views as identity_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/login/", identity_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", identity_views.logout, name="logout"),
    path("oidc/authenticate/", identity_views.SsoStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", identity_views.SsoCallbackView.as_view(), name="oidc_authentication_callback"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("portal.interfaces.urls")),
    path("", include("portal.approvals.urls")),
    path("audit/", include("portal.audit.urls")),
]

handler404 = "portal.core.views.handler404"
