"""OpenID Connect on top of mozilla-django-oidc: endpoints from the provider's discovery document, settings from
the portal's configuration, the ID token's issuer and audience checked, and refusals audited."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from .services import SsoRefused, sso_refuse, sso_sign_in

DISCOVERY_TTL = 300.0
_discovery: dict[str, tuple[float, dict]] = {}

ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


DID_NOT_CHECK_OUT = gettext_lazy("The identity provider's answer did not check out; sign in again.")


class IdpUnavailable(Exception):
    pass


def oidc_enabled() -> bool:
    return settings.CONFIG.oidc_issuer is not None


def issuer() -> str:
    return str(settings.CONFIG.oidc_issuer).rstrip("/")


def provider_metadata() -> dict:
    """The IdP's discovery document (cached for a few minutes); its issuer must be the configured one."""
    url = issuer()
    cached = _discovery.get(url)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL:
        return cached[1]
    try:
        response = requests.get(f"{url}/.well-known/openid-configuration", timeout=settings.CONFIG.oidc_timeout)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise IdpUnavailable(
            f"the identity provider's discovery document could not be read ({type(exc).__name__})"
        ) from None
    if not isinstance(document, dict) or str(document.get("issuer", "")).rstrip("/") != url:
        raise IdpUnavailable("the identity provider's discovery document names another issuer")
    if not all(isinstance(document.get(key), str) for key in ENDPOINTS.values()):
        raise IdpUnavailable("the identity provider's discovery document lacks an endpoint")
    _discovery[url] = (time.monotonic(), document)
    return document


def oidc_setting(attr: str, *default):
    """mozilla-django-oidc's settings, answered from the portal's configuration and the discovery document."""
    config = settings.CONFIG
    if attr in ENDPOINTS:
        return provider_metadata()[ENDPOINTS[attr]]
    secret = config.oidc_client_secret.get_secret_value() if config.oidc_client_secret else ""
    fixed = {
        "OIDC_RP_CLIENT_ID": config.oidc_client_id,
        "OIDC_RP_CLIENT_SECRET": secret,
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_RP_IDP_SIGN_KEY": None,
        "OIDC_RP_SCOPES": config.oidc_scopes,
        "OIDC_USE_PKCE": True,
        "OIDC_PKCE_CODE_CHALLENGE_METHOD": "S256",
        "OIDC_USE_NONCE": True,
        "OIDC_STORE_ID_TOKEN": True,  # the hint for RP-initiated logout
        "OIDC_TIMEOUT": config.oidc_timeout,
        "OIDC_VERIFY_SSL": True,
        "OIDC_CREATE_USER": True,
    }
    if attr in fixed:
        return fixed[attr]
    return import_from_settings(attr, *default)


def issuer_problem(sent: str | None) -> str:
    """RFC 9207: what is wrong with an authorization response's `iss` ("" when nothing): it must name our
    issuer, and be there when the IdP's discovery document promises it (a mix-up attack answers with another
    IdP's code)."""
    if sent is None:
        try:
            promised = provider_metadata().get("authorization_response_iss_parameter_supported") is True
        except IdpUnavailable:
            promised = False
        return "the authorization response lacks the iss parameter its IdP promises" if promised else ""
    return "" if sent.rstrip("/") == issuer() else "the authorization response names another issuer"


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """Signs in IdP subjects. Asked only by the callback (which passes the nonce); inert otherwise."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # The parent reads every endpoint here; on every password sign-in too. Read them when needed instead.
        self.UserModel = get_user_model()

    OIDC_OP_TOKEN_ENDPOINT = property(lambda self: oidc_setting("OIDC_OP_TOKEN_ENDPOINT"))
    OIDC_OP_USER_ENDPOINT = property(lambda self: oidc_setting("OIDC_OP_USER_ENDPOINT"))
    OIDC_OP_JWKS_ENDPOINT = property(lambda self: oidc_setting("OIDC_OP_JWKS_ENDPOINT"))
    OIDC_RP_CLIENT_ID = property(lambda self: oidc_setting("OIDC_RP_CLIENT_ID"))
    OIDC_RP_CLIENT_SECRET = property(lambda self: oidc_setting("OIDC_RP_CLIENT_SECRET"))
    OIDC_RP_SIGN_ALGO = property(lambda self: oidc_setting("OIDC_RP_SIGN_ALGO"))
    OIDC_RP_IDP_SIGN_KEY = property(lambda self: oidc_setting("OIDC_RP_IDP_SIGN_KEY"))

    def get_user(self, user_id):
        """The session's user, only while the account is active (the parent's answers a deactivated one too)."""
        user = self.UserModel._default_manager.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None

    def authenticate(self, request, **kwargs):
        if request is None or "nonce" not in kwargs or not oidc_enabled():
            return None
        try:
            return super().authenticate(request, **kwargs)
        except SsoRefused as exc:
            request.sso_refusal = str(exc)
            request.sso_refusal_groups = exc.groups
        except (SuspiciousOperation, jwt.PyJWTError) as exc:
            request.sso_refusal = str(DID_NOT_CHECK_OUT)
            sso_refuse(issuer=issuer(), subject="", reason=f"{type(exc).__name__}: {str(exc)[:200]}")
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            request.sso_refusal = _("The identity provider refused the sign-in (it may have expired); sign in again.")
            sso_refuse(
                issuer=issuer(),
                subject="",
                reason=f"token or userinfo request refused ({status})",
                detail={"answer": _oauth_error(exc.response)},
            )
        except (requests.RequestException, IdpUnavailable) as exc:
            request.sso_refusal = _("The identity provider could not be reached; try again in a moment.")
            sso_refuse(issuer=issuer(), subject="", reason=f"{type(exc).__name__}: {str(exc)[:200]}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # an answer of the wrong shape
            request.sso_refusal = str(DID_NOT_CHECK_OUT)
            sso_refuse(issuer=issuer(), subject="", reason=f"malformed answer ({type(exc).__name__}: {str(exc)[:200]})")
        return None

    def get_token(self, payload):
        """The token endpoint's answer; its refresh token (if any) is kept for the session's re-checks."""
        answer = super().get_token(payload)
        refresh = answer.get("refresh_token") if isinstance(answer, dict) else None
        self.request.sso_refresh_token = refresh if isinstance(refresh, str) else None
        return answer

    def verify_token(self, token, **kwargs):
        if not isinstance(token, str):
            raise SuspiciousOperation("the token endpoint answered without an ID token")
        header = jwt.get_unverified_header(token)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO or not header.get("kid"):
            raise SuspiciousOperation(
                f"the token is not signed with {self.OIDC_RP_SIGN_ALGO} and a key id (alg {header.get('alg')!r})"
            )
        payload = super().verify_token(token, **kwargs)
        if "nonce" in kwargs:  # the ID token (userinfo JWTs come without a nonce)
            audience = payload.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if str(payload.get("iss", "")).rstrip("/") != issuer():
                raise SuspiciousOperation("the ID token was issued by another issuer")
            if self.OIDC_RP_CLIENT_ID not in audiences:
                raise SuspiciousOperation("the ID token is meant for another client")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            # Not SuspiciousOperation: the parent would swallow it and the refusal would read as a lost state.
            sso_refuse(
                issuer=issuer(),
                subject=str(payload.get("sub", "")),
                reason="the userinfo answer is about another subject",
            )
            raise SsoRefused(str(DID_NOT_CHECK_OUT))
        subject = str(payload["sub"])
        user = sso_sign_in(issuer=str(payload["iss"]).rstrip("/"), subject=subject, claims=claims)
        self.request.sso_subject = subject
        return user


def _oauth_error(response) -> str:
    """The OAuth error code of a refused token request (never the request, which carries the client secret)."""
    try:
        return str(response.json().get("error", ""))[:100]
    except (ValueError, AttributeError):
        return ""


def logout_url(request, *, after: str) -> str | None:
    """Where to send the browser to end the IdP session too (RP-initiated logout), or None."""
    id_token = request.session.get("oidc_id_token")
    if not oidc_enabled() or not id_token:
        return None
    try:
        endpoint = provider_metadata().get("end_session_endpoint")
    except IdpUnavailable:
        return None
    if not isinstance(endpoint, str):
        return None
    query = {"id_token_hint": id_token, "post_logout_redirect_uri": after, "client_id": settings.CONFIG.oidc_client_id}
    return f"{endpoint}?{urlencode(query)}"
