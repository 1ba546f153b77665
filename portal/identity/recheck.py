"""A session signed in through the IdP asks it again every OIDC_RECHECK_SECONDS, so the IdP's word keeps counting.

The re-check exchanges the session's refresh token at the IdP's token endpoint, then reads userinfo with the new
access token. A refused refresh (the IdP session ended, the user is disabled or gone) signs the session out; a
changed set of groups changes the user's grants (none left: their access is revoked). An IdP that does not answer
keeps the session for one more interval, asked again each minute; after that the session ends.

The refresh token is kept in the session encrypted (Fernet, with a key derived from SECRET_KEY): the session
table never holds it in the clear, and it never reaches a log line or an event.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import requests
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event

from .models import UserSession
from .oidc import IdpUnavailable, PortalOIDCBackend, oidc_setting
from .revocation import access_revoke
from .services import grants_apply, idp_groups, mappings_for

SSO = "_portal_sso"  # in the session: issuer, subject, sealed refresh token, last check, last check answered
RETRY_SECONDS = 60  # an IdP that did not answer is asked again after this long


def _fernet() -> Fernet:
    secret = settings.CONFIG.secret_key.get_secret_value().encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"portal.identity.refresh-token:" + secret).digest()))


def _seal(token: str | None) -> str:
    return _fernet().encrypt(token.encode()).decode() if token else ""


def _unseal(sealed: str) -> str | None:
    try:
        return _fernet().decrypt(sealed.encode()).decode() if sealed else None
    except InvalidToken:  # SECRET_KEY changed since: as good as none
        return None


def sso_session_begin(session, *, issuer: str, subject: str, refresh_token: str | None) -> None:
    """Note that this session came from the IdP (called right after the sign-in)."""
    now = timezone.now().timestamp()
    session[SSO] = {"issuer": issuer, "subject": subject, "refresh": _seal(refresh_token), "checked": now, "ok": now}


def sso_recheck_due(session, *, now: float) -> bool:
    every = settings.CONFIG.oidc_recheck_seconds
    data = session.get(SSO)
    return bool(every and isinstance(data, dict) and now - float(data.get("checked", 0)) >= every)


@dataclass(frozen=True)
class Answer:
    ended: str | None = None  # why the session ends; None: it stays
    unavailable: str | None = None  # the IdP did not answer (the session stays a while)
    refresh_token: str | None = None
    claims: dict | None = None


def _ask_idp(refresh_token: str | None) -> Answer:
    """The IdP's word on this session now: a fresh token and the user's claims, or why the session ends."""
    if not refresh_token:
        return Answer(ended="the identity provider gave this session no refresh token")
    config = settings.CONFIG
    secret = config.oidc_client_secret.get_secret_value() if config.oidc_client_secret else ""
    try:
        response = requests.post(
            oidc_setting("OIDC_OP_TOKEN_ENDPOINT"),
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": config.oidc_client_id,
                "client_secret": secret,
            },
            timeout=config.oidc_timeout,
        )
        if response.status_code >= 500:
            return Answer(unavailable=f"the token endpoint answered {response.status_code}")
        if response.status_code != 200:
            return Answer(ended=f"the identity provider refused to renew the session ({_error_code(response)})")
        tokens = response.json()
        access_token = tokens.get("access_token") if isinstance(tokens, dict) else None
        if not isinstance(access_token, str):
            return Answer(ended="the identity provider renewed the session without an access token")
        claims = PortalOIDCBackend().get_userinfo(access_token, None, {})
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500:
            return Answer(unavailable=f"userinfo answered {status}")
        return Answer(ended=f"the identity provider refused userinfo ({status})")
    except (requests.RequestException, IdpUnavailable) as exc:
        return Answer(unavailable=type(exc).__name__)
    except ValueError:
        return Answer(ended="the identity provider's answer was not JSON")
    new_refresh = tokens.get("refresh_token")
    return Answer(
        refresh_token=new_refresh if isinstance(new_refresh, str) and new_refresh else refresh_token,
        claims=claims if isinstance(claims, dict) else {},
    )


def _error_code(response) -> str:
    try:
        code = response.json().get("error", "")
    except (ValueError, AttributeError):
        code = ""
    return "".join(c for c in str(code) if c.isalnum() or c == "_")[:40] or str(response.status_code)


def sso_recheck(request) -> str | None:
    """Ask the IdP about this session (it is due). None: it stays; else the reason it was signed out."""
    session, user = request.session, request.user
    now = timezone.now().timestamp()
    with transaction.atomic():
        # One re-check per session at a time: a parallel request (an htmx poll) waits, then sees it done.
        UserSession.objects.select_for_update().filter(session_key=session.session_key).first()
        stored = type(session)(session_key=session.session_key).get(SSO)
        if isinstance(stored, dict) and not sso_recheck_due({SSO: stored}, now=now):
            session[SSO] = stored
            return None
        data = dict(session[SSO])
        answer = _ask_idp(_unseal(data.get("refresh", "")))
        if answer.unavailable is not None:
            if now - float(data.get("ok", 0)) <= 2 * settings.CONFIG.oidc_recheck_seconds:
                data["checked"] = now - settings.CONFIG.oidc_recheck_seconds + RETRY_SECONDS
                session[SSO] = data
                return None
            return _end(request, data, f"the identity provider could not be asked ({answer.unavailable})")
        if answer.ended is not None:
            return _end(request, data, answer.ended)
        claims = answer.claims or {}
        if str(claims.get("sub", "")) != data["subject"]:
            return _end(request, data, "the identity provider's userinfo is about another subject")
        groups = idp_groups(claims)
        mappings = mappings_for(groups)
        if not mappings:
            access_revoke(user=user, reason="no mapped IdP group", issuer=data["issuer"], idp_groups=groups)
            return _end(request, data, "no IdP group maps to anything in the portal any more")
        before, after = grants_apply(user, mappings)
        if before != after:
            record_event(
                action=AuditAction.SSO_RECHECKED,
                outcome=Outcome.SUCCESS,
                payload={
                    "issuer": data["issuer"],
                    "subject": data["subject"],
                    "idp_groups": groups,
                    "before": before,
                    "after": after,
                },
                actor=user,
            )
        data.update(refresh=_seal(answer.refresh_token), checked=now, ok=now)
        session[SSO] = data
    return None


def _end(request, data: dict, reason: str) -> str:
    record_event(
        action=AuditAction.SSO_SESSION_ENDED,
        outcome=Outcome.SUCCESS,
        payload={"issuer": data.get("issuer", ""), "subject": data.get("subject", ""), "reason": reason},
        actor=request.user,
    )
    auth.logout(request)
    return reason
