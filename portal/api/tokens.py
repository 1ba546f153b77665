"""Personal access tokens: create, authenticate (with the per-token rate limit), revoke. Every write is audited.

A token reads `scpp_<prefix>_<secret>`. The prefix is public (lists, audit events); the whole token is kept only
as its SHA-256, which is enough for 256 random bits: nothing to brute-force, and a lookup by hash is one index.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.refusals import over_limit, refusal_counted
from portal.audit.services import record_event
from portal.core.errors import NotFound
from portal.core.roles import can_request, is_approver, is_auditor

from .models import ApiToken, Scope

TOKEN_START = "scpp_"
PREFIX_CHARS = 8
WINDOW_SECONDS = 60
MAX_TOKEN_LENGTH = 200
TOKEN_SHAPE = re.compile(r"^(?P<prefix>scpp_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$")


class TokenRefused(Exception):
    """The token does not authenticate (malformed, unknown, expired, revoked, or its user is inactive)."""


class RefusalsLimited(Exception):
    """Too many refused tokens from one address in the window: answered 429 until it ends."""

    def __init__(self, retry_after: int, limit: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"More than {limit} calls from your address were refused in this window; wait {retry_after} s, and "
            "send a valid token."
        )


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: int) -> None:
        self.retry_after = retry_after
        self.limit = limit
        super().__init__(f"This token made {limit} calls in the last minute; wait {retry_after} s and try again.")


def _now() -> dt.datetime:
    return timezone.now()


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def scopes_allowed(user) -> list[str]:
    """The scopes `user`'s roles allow today: a token never grants more than its owner has."""
    if not user.is_authenticated or not user.is_active:
        return []
    allowed = [Scope.READ.value]
    if can_request(user):
        allowed.append(Scope.REQUEST.value)
    if is_approver(user):
        allowed.append(Scope.APPROVE.value)
    if is_auditor(user):
        allowed.append(Scope.AUDIT.value)
    return allowed


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token, shown to its owner once


class AlreadyCreated(Exception):
    """This creation key made a token already; its secret was shown then and cannot be shown again."""

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        super().__init__(
            f"The token “{token.name}” ({token.prefix}) was created already; its secret was shown once "
            "and cannot be shown again. Revoke it and create another if you did not copy it."
        )


def token_create(
    *, user, name: str, scopes: list[str], expires_at: dt.datetime, via: str = "profile", creation_key=None
) -> NewToken:
    """Create a token for `user` with `scopes` (each one its roles allow) that expires at `expires_at`."""
    if creation_key is not None:
        earlier = ApiToken.objects.filter(user=user, creation_key=creation_key).first()
        if earlier is not None:
            raise AlreadyCreated(earlier)
    now = _now()
    allowed = scopes_allowed(user)
    wanted = [s for s in Scope.values if s in set(scopes)]
    if not wanted or any(s not in allowed for s in scopes):
        raise ValueError(f"Choose scopes among {', '.join(allowed)}.")
    if not now < expires_at <= now + dt.timedelta(days=settings.CONFIG.api_token_max_days):
        raise ValueError(f"Choose an expiry within {settings.CONFIG.api_token_max_days} days.")
    while True:
        prefix = TOKEN_START + secrets.token_hex(PREFIX_CHARS // 2)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100],
            prefix=prefix,
            secret_hash=_digest(secret),
            scopes=wanted,
            created_at=now,
            expires_at=expires_at,
            creation_key=creation_key,
        )
        record_event(
            action=AuditAction.TOKEN_CREATED,
            outcome=Outcome.SUCCESS,
            payload={
                "token": prefix,
                "name": token.name,
                "scopes": wanted,
                "expires_at": expires_at.isoformat(),
                "via": via,
            },
            target=prefix,
            actor=user,
        )
    return NewToken(token, secret)


def token_revoke(*, token: ApiToken, by) -> bool:
    """Revoke `token` (its owner, an administrator, or None: the command line); False when it was revoked already."""
    if by is not None and by.pk != token.user_id and not by.is_superuser:
        raise PermissionError("Only the token's owner or an administrator can revoke it.")
    now = _now()
    with transaction.atomic():
        if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by):
            return False
        record_event(
            action=AuditAction.TOKEN_REVOKED,
            outcome=Outcome.SUCCESS,
            payload={
                "token": token.prefix,
                "name": token.name,
                "owner": token.user.get_username(),
                "by": "command line" if by is None else ("owner" if by.pk == token.user_id else "administrator"),
            },
            target=token.prefix,
            actor=by,
        )
    token.refresh_from_db()
    return True


def tokens_revoke_all(*, user, why: str) -> list[str]:
    """Revoke every live token of `user` at once (their access was revoked, or they were deactivated); each
    revocation is audited. Returns the revoked tokens' prefixes."""
    now = _now()
    with transaction.atomic():
        live = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
        ApiToken.objects.filter(pk__in=[t.pk for t in live]).update(revoked_at=now, revoked_by=None)
        for token in live:
            record_event(
                action=AuditAction.TOKEN_REVOKED,
                outcome=Outcome.SUCCESS,
                payload={"token": token.prefix, "name": token.name, "owner": user.get_username(), "by": why},
                target=token.prefix,
            )
    return [t.prefix for t in live]


def _refuse(reason: str, *, source_ip: str | None, prefix: str = "", user=None) -> Exception:
    """A token that does not authenticate: counted per source address (the first of a window is an event, the
    rest one event with their count), and a source over ANONYMOUS_REFUSAL_LIMIT is answered 429."""
    counted = refusal_counted(
        AuditAction.TOKEN_REFUSED,
        source=source_ip,
        kind=reason,
        payload={"token": prefix, "reason": reason},
        target=prefix,
        actor=user,
    )
    retry_after = over_limit(counted)
    if retry_after is not None:  # until this source's window ends
        return RefusalsLimited(retry_after, settings.CONFIG.anonymous_refusal_limit)
    return TokenRefused(reason)


def token_authenticate(raw: str, *, source_ip: str | None = None) -> ApiToken:
    """The live token `raw` names, counted against its rate limit; TokenRefused or RateLimited (audited) if not."""
    raw = raw.strip()
    shape = TOKEN_SHAPE.match(raw) if len(raw) <= MAX_TOKEN_LENGTH else None
    if shape is None:
        raise _refuse("malformed token", source_ip=source_ip)
    prefix = shape.group("prefix")
    token = ApiToken.objects.select_related("user").filter(secret_hash=_digest(raw)).first()
    if token is None:
        raise _refuse("unknown token", source_ip=source_ip, prefix=prefix[:32])
    now = _now()
    if token.revoked_at:
        raise _refuse("revoked", source_ip=source_ip, prefix=token.prefix, user=token.user)
    if token.expires_at <= now:
        raise _refuse("expired", source_ip=source_ip, prefix=token.prefix, user=token.user)
    if not token.user.is_active:
        raise _refuse("the token's user is inactive", source_ip=source_ip, prefix=token.prefix, user=token.user)
    _count_call(token, now=now, source_ip=source_ip)
    return token


def _count_call(token: ApiToken, *, now: dt.datetime, source_ip: str | None) -> None:
    """Count one call in the token's current minute; over the limit, RateLimited (audited once a minute)."""
    limit = settings.CONFIG.api_rate_limit
    with transaction.atomic():
        row = ApiToken.objects.select_for_update().get(pk=token.pk)
        started = row.window_started_at
        if started is None or (now - started).total_seconds() >= WINDOW_SECONDS:
            started, calls = now, 0
        else:
            calls = row.window_calls
        calls += 1
        fields = {"window_started_at": started, "window_calls": calls}
        if calls <= limit:
            fields.update(last_used_at=now, last_used_ip=source_ip)
        ApiToken.objects.filter(pk=token.pk).update(**fields)
    for name, value in fields.items():
        setattr(token, name, value)
    if calls > limit:
        retry_after = max(1, math.ceil(WINDOW_SECONDS - (now - started).total_seconds()))
        if calls == limit + 1:
            record_event(
                action=AuditAction.TOKEN_RATE_LIMITED,
                outcome=Outcome.DENIED,
                payload={"token": token.prefix, "limit_per_minute": limit, "retry_after": retry_after},
                target=token.prefix,
                actor=token.user,
            )
        raise RateLimited(retry_after, limit)


def tokens_of(user):
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_of(*, user, pk: int) -> ApiToken:
    """One of the user's own tokens. Anyone else's (or none) is NotFound, and the attempt is audited."""
    token = ApiToken.objects.filter(pk=pk, user=user).select_related("user").first()
    if token is None:
        record_event(
            action=AuditAction.TOKEN_ACCESS,
            outcome=Outcome.DENIED,
            payload={"token_id": pk},
            target=str(pk),
            actor=user,
        )
        raise NotFound(_("No such token."))
    return token


def token_by_prefix(prefix: str) -> ApiToken | None:
    return ApiToken.objects.filter(prefix=prefix).select_related("user").first()
