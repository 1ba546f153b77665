"""Who is calling: a personal access token (`Authorization: Bearer`), or a signed-in browser session with CSRF.

Tokens authenticate only here, under /api/; the HTML pages know sessions alone. Every operation then asks
`require_scope`: a token acts within its scopes and its owner's roles of the moment, a session within the roles.
"""

from __future__ import annotations

from ninja.security import HttpBearer, SessionAuth

from portal.audit.events import AuditAction
from portal.core import context
from portal.core.middleware import client_ip
from portal.interfaces.access import deny

from .models import Scope
from .tokens import scopes_allowed, token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        api_token = token_authenticate(token, source_ip=client_ip(request))
        request.user = api_token.user
        request.api_token = api_token
        context.rebind(actor_id=api_token.user.pk, actor_name=api_token.user.get_username(), api_token=api_token.prefix)
        return api_token.user


class BrowserSession(SessionAuth):
    """A signed-in session; unsafe methods need the CSRF token (X-CSRFToken), as the pages' forms do."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is not None and user.is_active:
            request.api_token = None
            return user
        return None


def require_scope(request, scope: Scope, *, role_needed: bool = True) -> None:
    """Refuse (403, audited) unless the caller holds `scope` now: token scopes ∩ the user's roles. With
    `role_needed` False the token's scope is enough (a requester withdrawing their own request needs no team)."""
    allowed = set(scopes_allowed(request.user)) if role_needed else {scope.value}
    token = getattr(request, "api_token", None)
    if token is not None and scope not in token.scopes:
        raise deny(
            user=request.user,
            action=AuditAction.TOKEN_REFUSED,
            target=token.prefix,
            reason=f"This token does not have the {scope} scope.",
        )
    if scope not in allowed:
        raise deny(
            user=request.user,
            action=AuditAction.API_ACCESS,
            target=request.path[:128],
            reason=f"Your roles do not allow the {scope} scope.",
        )


def caller_scopes(request) -> list[str]:
    allowed = scopes_allowed(request.user)
    token = getattr(request, "api_token", None)
    return [s for s in allowed if token is None or s in token.scopes]
