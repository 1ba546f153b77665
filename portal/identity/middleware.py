from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from portal.core.problems import problem

from .recheck import sso_recheck, sso_recheck_due
from .services import preferences_of
from .sessions import session_end_expired, session_expiry, session_rekeyed, session_touch

MESSAGES = {
    "idle": _("You were signed out after a period without activity. Sign in again to continue."),
    "lifetime": _("Your session reached its maximum length. Sign in again to continue."),
    "idp": _("Your identity provider no longer vouches for this session. Sign in again to continue."),
}


def signed_out_response(request, reason: str):
    """What a request of a session that just ended gets: 401 under /api/, else the sign-in page with why."""
    if request.path.startswith("/api/"):
        return problem(401, MESSAGES[reason], headers={"WWW-Authenticate": 'Bearer realm="api"'})
    messages.info(request, MESSAGES[reason])
    response = redirect_to_login(request.get_full_path())
    if request.headers.get("HX-Request"):
        response["HX-Redirect"] = response["Location"]
    return response


class SessionLifetimeMiddleware:
    """End a signed-in session that has been idle too long or has lived past its absolute lifetime."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now()
            reason = session_expiry(request.session, now=now)
            if reason is not None:
                session_end_expired(request=request, reason=reason)
                return signed_out_response(request, reason)
            session_touch(request.session, now=now)
        return self.get_response(request)


class SessionRekeyMiddleware:
    """Django cycles a signed-in session's key on a password change (update_session_auth_hash): the tracked
    session follows the new key, so that "Sign out everywhere" and revocations still reach it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        before = request.session.session_key
        response = self.get_response(request)
        session_rekeyed(old_key=before, new_key=request.session.session_key)
        return response


class IdpRecheckMiddleware:
    """A session signed in through the IdP asks it again every OIDC_RECHECK_SECONDS (see recheck.py); one the
    IdP no longer vouches for is signed out here, before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.session.session_key:
            if sso_recheck_due(request.session, now=timezone.now().timestamp()) and sso_recheck(request):
                return signed_out_response(request, "idp")
        return self.get_response(request)


KOREAN_DEFAULT_ZONE = "Asia/Seoul"


class PreferencesMiddleware:
    """Show the pages in the signed-in user's saved language and time zone (otherwise the language comes from
    the switcher's cookie or the browser, through LocaleMiddleware, and times show in UTC, or in Korean time
    on Korean pages)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        prefs = preferences_of(user) if user is not None and user.is_authenticated else None
        if prefs is not None and prefs.language:
            translation.activate(prefs.language)
            request.LANGUAGE_CODE = prefs.language
        if prefs is not None and prefs.time_zone:
            timezone.activate(prefs.time_zone)
        elif translation.get_language().startswith("ko"):  # no zone chosen: Korean pages show Korean time
            timezone.activate(KOREAN_DEFAULT_ZONE)
        else:
            timezone.deactivate()
        return self.get_response(request)
