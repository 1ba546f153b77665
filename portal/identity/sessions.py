"""Session lifetime: an idle timeout and an absolute lifetime, and signing out every session of a user."""

from __future__ import annotations

import datetime as dt
from importlib import import_module

from django.conf import settings
from django.contrib import auth
from django.db import models, transaction
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.core.context import current

from .models import UserSession

STARTED = "_portal_started"  # epoch seconds, in the session
SEEN = "_portal_seen"
SEEN_RESOLUTION = 60  # seconds: the last-seen time is written at most this often


def _store(session_key: str):
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def session_started(*, request, user) -> None:
    """Note a new signed-in session (called on sign-in, after the session key has been cycled)."""
    now = timezone.now()
    request.session[STARTED] = request.session[SEEN] = now.timestamp()
    request.session.save()
    context = current()
    UserSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "started_at": now,
            "last_seen_at": now,
            "source_ip": context.source_ip,
            "user_agent": context.user_agent,
        },
    )


def session_expiry(session, *, now: dt.datetime) -> str | None:
    """Why this session has ended ("idle" or "lifetime"), or None while it is still good."""
    started, seen = session.get(STARTED), session.get(SEEN)
    if started is None or seen is None:
        return None  # a session from before this rule: its next sign-in starts the clocks
    stamp = now.timestamp()
    if stamp - started > settings.CONFIG.session_max_age:
        return "lifetime"
    if stamp - seen > settings.CONFIG.session_idle_timeout:
        return "idle"
    return None


def session_end_expired(*, request, reason: str) -> None:
    """Sign out a session that `session_expiry` found ended, and audit why."""
    record_event(
        action=AuditAction.SESSION_EXPIRED, outcome=Outcome.SUCCESS, payload={"reason": reason}, actor=request.user
    )
    auth.logout(request)


def session_touch(session, *, now: dt.datetime) -> None:
    if now.timestamp() - session.get(SEEN, 0) >= SEEN_RESOLUTION:
        session[SEEN] = now.timestamp()
        UserSession.objects.filter(session_key=session.session_key).update(last_seen_at=now)


def session_forget(session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def sessions_of(user, *, now: dt.datetime | None = None) -> list[UserSession]:
    """The user's live sessions; the ones that have ended without a sign-out (idle, too old) are forgotten here."""
    now = now or timezone.now()
    config = settings.CONFIG
    idle_since = now - dt.timedelta(seconds=config.session_idle_timeout + SEEN_RESOLUTION)
    started_since = now - dt.timedelta(seconds=config.session_max_age)
    UserSession.objects.filter(user=user).filter(
        models.Q(last_seen_at__lt=idle_since) | models.Q(started_at__lt=started_since)
    ).delete()
    return list(UserSession.objects.filter(user=user))


def sessions_end(user) -> int:
    """End every tracked session of `user` (their stored sessions are deleted: each browser is signed out at its
    next request); return how many. Part of the caller's transaction, which audits why."""
    with transaction.atomic():
        keys = list(UserSession.objects.select_for_update().filter(user=user).values_list("session_key", flat=True))
        for key in keys:
            _store(key).delete()
        UserSession.objects.filter(session_key__in=keys).delete()
    return len(keys)


def session_rekeyed(*, old_key: str | None, new_key: str | None) -> None:
    """Django gave a signed-in session a new key (a password change cycles it): the tracked session follows, so
    that "Sign out everywhere" still reaches it."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


@transaction.atomic
def user_sign_out_everywhere(*, user) -> int:
    """End every session of `user`, on every browser and machine; return how many were ended."""
    ended = sessions_end(user)
    record_event(
        action=AuditAction.SIGNED_OUT_EVERYWHERE, outcome=Outcome.SUCCESS, payload={"sessions": ended}, actor=user
    )
    return ended
