"""Sign-in pages: single sign-on through the IdP (start, callback), password sign-in where allowed, sign-out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal.api.forms import TokenForm
from portal.api.tokens import scopes_allowed, tokens_of
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.core.errors import NotFound
from portal.core.middleware import client_ip
from portal.teams.selectors import access_for, team_roles_for

from .forms import LanguageForm, PreferencesForm
from .oidc import DID_NOT_CHECK_OUT, IdpUnavailable, issuer, issuer_problem, logout_url, oidc_enabled, oidc_setting
from .recheck import sso_session_begin
from .services import (
    oauth_code,
    password_login_refused,
    preferences_of,
    preferences_save,
    sso_callback_refused,
    sso_refuse,
)
from .sessions import sessions_of, user_sign_out_everywhere

SSO_DOWN = gettext_lazy(
    "The identity provider cannot be reached right now, so single sign-on is not possible. Try again soon."
)


def _problem(request, message: str, *, status: int, title: str = gettext_lazy("Sign-in refused"), groups=None):
    context = {"message": message, "title": title, "idp_groups": groups}
    return render(request, "registration/refused.html", context, status=status)


class PasswordLoginForm(AuthenticationForm):
    def clean(self):
        mode = settings.CONFIG.password_login
        if mode == "off":  # no backend is asked, so no failure signal: counted here, like other anonymous refusals
            password_login_refused(
                source=client_ip(self.request) if self.request else None, username=str(self.data.get("username", ""))
            )
            raise ValidationError(_("Password sign-in is switched off here; use single sign-on."), code="disabled")
        try:
            return super().clean()
        except ValidationError:
            if mode == "staff":
                raise ValidationError(
                    _("Password sign-in is for administrators only (break-glass); everyone else uses single sign-on."),
                    code="staff_only",
                ) from None
            raise


class LoginView(auth_views.LoginView):
    form_class = PasswordLoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "sso": oidc_enabled(),
            "password_login": settings.CONFIG.password_login,
        }


class SsoStartView(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)  # endpoints are read in get()

    def get(self, request):
        if not oidc_enabled():
            raise NotFound(_("Single sign-on is not configured here."))
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
        except IdpUnavailable:
            return _problem(request, SSO_DOWN, status=503, title=_("Single sign-on unavailable"))
        self.OIDC_RP_CLIENT_ID = oidc_setting("OIDC_RP_CLIENT_ID")
        return super().get(request)


class SsoCallbackView(OIDCAuthenticationCallbackView):
    """The IdP's answer. A callback whose state this session never issued (forged, replayed, another browser's,
    or an error sent by anyone) changes nothing here, signs nobody out, and is counted like other anonymous
    refusals: the first of a window is an event, a source over the limit is answered 429."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not oidc_enabled():
            raise NotFound(_("Single sign-on is not configured here."))
        state = request.GET.get("state", "")
        pending = request.session.get("oidc_states") or {}
        if not isinstance(state, str) or state not in pending:
            return self._stateless(request)
        wrong_issuer = issuer_problem(request.GET.get("iss"))
        if wrong_issuer:
            del pending[state]
            request.session["oidc_states"] = pending
            sso_refuse(issuer=issuer(), subject="", reason=wrong_issuer)
            return _problem(request, str(DID_NOT_CHECK_OUT), status=400)
        return super().get(request)

    def _stateless(self, request):
        retry_after = sso_callback_refused(source=client_ip(request), error=request.GET.get("error", ""))
        if retry_after is not None:
            response = _problem(
                request, _("Too many refused sign-ins from your address; wait and try again."), status=429
            )
            response["Retry-After"] = str(retry_after)
            return response
        return _problem(
            request,
            _("This sign-in did not start in this browser, or it was already used. Sign in again."),
            status=400,
        )

    def login_failure(self):
        request = self.request
        reason = getattr(request, "sso_refusal", None)
        if reason is None:
            error = request.GET.get("error", "")
            detail = (
                f"the identity provider answered {oauth_code(error)!r}"
                if error
                else "the identity provider's answer was incomplete"
            )
            sso_refuse(issuer=issuer(), subject="", reason=detail)
            reason = _("The identity provider did not sign you in. Sign in again.")
        return _problem(request, reason, status=403, groups=getattr(request, "sso_refusal_groups", None))

    def login_success(self):
        response = super().login_success()
        sso_session_begin(
            self.request.session,
            issuer=issuer(),
            subject=getattr(self.request, "sso_subject", ""),
            refresh_token=getattr(self.request, "sso_refresh_token", None),
        )
        return response


@require_POST
def logout(request):
    """Sign out here, and at the IdP too when the session came from it (RP-initiated logout)."""
    after = request.build_absolute_uri(reverse("login"))
    idp_logout = logout_url(request, after=after)
    auth.logout(request)
    return HttpResponseRedirect(idp_logout or reverse("login"))


def password_reset_allowed() -> bool:
    """Reset links go out by mail: only with a real mail backend (a console backend writes the link, token and
    all, to the log), and only while everyone may sign in with a password."""
    return settings.CONFIG.password_login == "on" and settings.CONFIG.email_real


def reset_gate(view):
    def gated(request, *args, **kwargs):
        if not password_reset_allowed():
            raise NotFound(_("Password reset is not offered here; ask an administrator, or use single sign-on."))
        return view(request, *args, **kwargs)

    return gated


def _audit(action: AuditAction, *, user=None, **payload) -> None:
    record_event(action=action, outcome=Outcome.SUCCESS, payload=payload, actor=user)


class PasswordChangeView(auth_views.PasswordChangeView):
    def form_valid(self, form):
        response = super().form_valid(form)
        _audit(AuditAction.PASSWORD_CHANGED, user=form.user, by="self")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form):
        _audit(AuditAction.PASSWORD_RESET_REQUESTED, email=form.cleaned_data["email"][:254])
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        _audit(AuditAction.PASSWORD_CHANGED, user=form.user, by="reset link")
        return response


@login_required
def profile(request, *, token_form=None, new_token=None, preferences_form=None, status=200):
    """Who I am here, where I am signed in, a way to end every one of those sessions, and my API tokens."""
    now = timezone.now()
    return render(
        request,
        "registration/profile.html",
        {
            "sessions": sessions_of(request.user),
            "current_key": request.session.session_key,
            "global_auditor": access_for(request.user).global_auditor,
            "teams": team_roles_for(request.user),
            "password_change": request.user.has_usable_password() and settings.CONFIG.password_login != "off",
            "tokens": [(t, t.state(now)) for t in tokens_of(request.user)],
            "token_form": token_form or TokenForm(allowed=scopes_allowed(request.user)),
            "new_token": new_token,
            "preferences_form": preferences_form or _preferences_form(request),
        },
        status=status,
    )


def _preferences_form(request):
    prefs = preferences_of(request.user)
    return PreferencesForm(initial={"language": prefs.language, "time_zone": prefs.time_zone}, language=get_language())


@require_POST
def language_switch(request):
    """The navigation's language switcher: a cookie for everyone, and the saved preference when signed in."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return HttpResponseRedirect(reverse("home"))
    # Back to the page the switch was made on (its Referer: the form does not echo the page's address).
    language, target = form.cleaned_data["language"], form.cleaned_data["next"] or request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("home")
    if request.user.is_authenticated:
        preferences_save(user=request.user, language=language)
    return _remember_language(HttpResponseRedirect(target), language)


def _remember_language(response, language: str):
    """The switcher's cookie, read by LocaleMiddleware (also before sign-in); empty: follow the browser."""
    if not language:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@login_required
@require_POST
def preferences(request):
    form = PreferencesForm(request.POST, language=get_language())
    if not form.is_valid():
        return profile(request, preferences_form=form, status=400)
    prefs = preferences_save(
        user=request.user, language=form.cleaned_data["language"], time_zone=form.cleaned_data["time_zone"]
    )
    translation.activate(prefs.language or translation.get_language_from_request(request))
    messages.success(request, _("Your preferences are saved."))
    return _remember_language(HttpResponseRedirect(reverse("profile") + "#preferences"), prefs.language)


@login_required
@require_POST
def sign_out_everywhere(request):
    ended = user_sign_out_everywhere(user=request.user)
    auth.logout(request)
    messages.success(
        request,
        ngettext("Signed out everywhere: ended %(n)d session.", "Signed out everywhere: ended %(n)d sessions.", ended)
        % {"n": ended},
    )
    return HttpResponseRedirect(reverse("login"))
