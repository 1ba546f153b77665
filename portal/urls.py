from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal.api import views as api_views
from portal.api.api import api
from portal.core import views as core_views
from portal.identity import views as identity_views
from portal.identity.views import reset_gate

urlpatterns = [
    path("", core_views.home, name="home"),
    path("accounts/login/", identity_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", identity_views.logout, name="logout"),
    path("accounts/profile/", identity_views.profile, name="profile"),
    path("accounts/preferences/", identity_views.preferences, name="preferences"),
    path("language/", identity_views.language_switch, name="language_switch"),
    path("accounts/tokens/", api_views.token_new, name="api_token_new"),
    path("accounts/tokens/<int:pk>/revoke/", api_views.token_revoke_view, name="api_token_revoke"),
    path("accounts/sign-out-everywhere/", identity_views.sign_out_everywhere, name="sign_out_everywhere"),
    path("oidc/authenticate/", identity_views.SsoStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", identity_views.SsoCallbackView.as_view(), name="oidc_authentication_callback"),
    path("accounts/password_change/", identity_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password_reset/", reset_gate(identity_views.PasswordResetView.as_view()), name="password_reset"),
    path(
        "accounts/password_reset/done/",
        reset_gate(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        reset_gate(identity_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        reset_gate(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("scim/v2/", include("portal.identity.scim.urls")),
    path("", include("portal.interfaces.urls")),
    path("", include("portal.approvals.urls")),
    path("audit/", include("portal.audit.urls")),
    path("drift/", include("portal.drift.urls")),
]

handler404 = "portal.core.views.handler404"
