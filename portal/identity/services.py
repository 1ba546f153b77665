"""Sign-in through the IdP: find or create the portal user of an IdP subject, and apply its groups' mappings."""

from __future__ import annotations

import re
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.refusals import over_limit, refusal_counted
from portal.audit.services import record_event
from portal.teams.selectors import forget_access

from .models import GroupMapping, Identity, Preferences, TeamRole
from .revocation import access_revoke, grants_of

MAX_GROUPS = 200
USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


class SsoRefused(Exception):
    """The IdP vouched for someone the portal will not sign in; the message is for them, the refusal is audited.
    `groups`: the groups the IdP sent, when they are why (shown to the person, so a mapping can be fixed)."""

    def __init__(self, message: str, groups: list[str] | None = None) -> None:
        self.groups = groups
        super().__init__(message)


def _clean_text(value, limit: int = 255) -> str:
    return "".join(c for c in str(value) if c.isprintable())[:limit]


def idp_groups(claims: dict) -> list[str]:
    """The groups claim as a list of names; anything else the IdP sends there counts as no groups."""
    raw = claims.get(settings.CONFIG.oidc_groups_claim)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    return sorted({_clean_text(g) for g in raw[:MAX_GROUPS] if isinstance(g, str) and _clean_text(g)})


def sso_refuse(
    *, issuer: str, subject: str, reason: str, detail: dict | None = None, groups: list[str] | None = None
) -> SsoRefused:
    """Audit a refused single sign-on (with the IdP's issuer and subject) and return the error to raise (with the
    IdP's `groups` when they are why)."""
    record_event(
        action=AuditAction.SSO_REFUSED,
        outcome=Outcome.DENIED,
        payload={"issuer": _clean_text(issuer), "subject": _clean_text(subject), "reason": reason, **(detail or {})},
        target=_clean_text(subject, 128),
    )
    return SsoRefused(reason, groups=groups)


OAUTH_ERROR = re.compile(r"^[a-z_]{1,40}$")


def oauth_code(error: str) -> str:
    """The OAuth error code of an error callback, when it is one (never the caller's free text)."""
    return error if OAUTH_ERROR.match(error or "") else ("unrecognised" if error else "")


def sso_callback_refused(*, source: str | None, error: str) -> int | None:
    """A callback whose state this session did not issue, counted like other anonymous refusals; the seconds
    to wait when its source is over the limit (None while it is not)."""
    reason = (
        "an error callback without a state this session issued"
        if error
        else "the callback's state was not issued to this session"
    )
    counted = refusal_counted(
        AuditAction.SSO_REFUSED,
        source=source,
        kind="callback without state",
        payload={"issuer": _configured_issuer(), "subject": "", "reason": reason, "error": oauth_code(error)},
    )
    return over_limit(counted)


def password_login_refused(*, source: str | None, username: str) -> None:
    """A password sign-in with PASSWORD_LOGIN=off: no backend is asked (so no failure signal), counted here."""
    refusal_counted(
        AuditAction.LOGIN_FAILED,
        source=source,
        kind="password sign-in off",
        payload={"username": username[:150], "reason": "password sign-in is off"},
    )


def _configured_issuer() -> str:
    return str(settings.CONFIG.oidc_issuer or "").rstrip("/")


def sso_sign_in(*, issuer: str, subject: str, claims: dict):
    """The portal user for this IdP subject, with groups and teams set to exactly what the IdP groups map to.

    A subject none of whose groups maps to anything is refused; if it had signed in before, everything its old
    groups granted (groups, team roles, API tokens, sessions) is revoked first, so removing someone from every
    IdP group ends their access at their next sign-in, not at their tokens' expiry."""
    groups = idp_groups(claims)
    mappings = mappings_for(groups)
    if not mappings:
        identity = Identity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        if identity is not None:
            _record_groups(identity, groups)
            access_revoke(user=identity.user, reason="no mapped IdP group", issuer=issuer, idp_groups=groups)
        raise refused_for_groups(issuer=issuer, subject=subject, groups=groups)
    with transaction.atomic():
        identity = Identity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
        user = identity.user if identity else new_user(claims, subject)
        if not user.is_active:
            sso_refuse(issuer=issuer, subject=subject, reason="the portal account is deactivated")
            raise SsoRefused(_("Your portal account is disabled. Ask your administrator."))
        email = claims.get("email")
        if isinstance(email, str) and "@" in email and len(email) <= 254 and email != user.email:
            user.email = _clean_text(email, 254)
            user.save(update_fields=["email"])
        before, after = grants_apply(user, mappings)
        if identity is None:
            identity = Identity(user=user, issuer=issuer, subject=subject)
        identity.last_login_at = timezone.now()
        _record_groups(identity, groups)
        record_event(
            action=AuditAction.SSO_LOGIN,
            outcome=Outcome.SUCCESS,
            payload={"issuer": issuer, "subject": subject, "idp_groups": groups, "before": before, "after": after},
            actor=user,
        )
    return user


def refused_for_groups(*, issuer: str, subject: str, groups: list[str]) -> SsoRefused:
    return sso_refuse(
        issuer=issuer,
        subject=subject,
        reason=_(
            "None of your identity provider groups gives access to this portal. Ask your administrator "
            "to add you to a group that does."
        ),
        detail={"idp_groups": groups},
        groups=groups,
    )


def mappings_for(groups: list[str]) -> list[GroupMapping]:
    return list(GroupMapping.objects.filter(idp_group__in=groups).select_related("portal_group", "team"))


def grants_apply(user, mappings: list[GroupMapping]) -> tuple[dict, dict]:
    """Set the user's groups and team roles to exactly what `mappings` grant; (before, after) by name."""
    portal_groups = sorted({m.portal_group for m in mappings if m.portal_group_id}, key=lambda g: g.name)
    member_of = sorted({m.team for m in mappings if m.team_id and m.team_role == TeamRole.MEMBER}, key=str)
    audits = sorted({m.team for m in mappings if m.team_id and m.team_role == TeamRole.AUDITOR}, key=str)
    before = grants_of(user)
    user.groups.set(portal_groups)
    user.teams.set(member_of)
    user.audited_teams.set(audits)
    forget_access(user)
    return before, grants_of(user)


def _record_groups(identity: Identity, groups: list[str]) -> None:
    identity.last_groups = groups
    identity.save()


def new_user(claims: dict, subject: str):
    User = get_user_model()
    wanted = claims.get("preferred_username") or (claims.get("email") or "").split("@")[0] or subject
    base = USERNAME_UNSAFE.sub("-", _clean_text(wanted, 140)).strip("-") or "user"
    username, n = base, 1
    while User.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    user = User(username=username)
    user.set_unusable_password()  # signs in through the IdP only
    user.save()
    return user


@transaction.atomic
def access_attempts_unlock(*, attempts) -> int:
    """Forget failed sign-ins (django-axes' records), lifting their lock-out; each unlock is audited."""
    count = 0
    for attempt in attempts:
        record_event(
            action=AuditAction.UNLOCKED,
            outcome=Outcome.SUCCESS,
            payload={
                "username": attempt.username or "",
                "address": attempt.ip_address or "",
                "failures": attempt.failures_since_start,
            },
        )
        attempt.delete()
        count += 1
    return count


# --- preferences ----------------------------------------------------------------------------------------------


def time_zones_for(language: str) -> list[str]:
    """The time zones a user can choose besides the default, Asia/Seoul and UTC first for Korean."""
    # The form's empty choice is the language's default (UTC; Asia/Seoul in Korean, where UTC is then offered)
    first = ["Asia/Seoul", "UTC"] if language.startswith("ko") else []
    rest = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return first + [z for z in rest if z not in first]


def preferences_of(user):
    """The user's saved preferences (unsaved defaults when there are none), read once per request."""

    cached = getattr(user, "_portal_preferences", None)
    if cached is None:
        cached = Preferences.objects.filter(user=user).first() or Preferences(user=user)
        user._portal_preferences = cached
    return cached


def preferences_save(*, user, language: str | None = None, time_zone: str | None = None):
    """Save a user's language and/or time zone (already validated), with an audit event when something changed."""

    prefs, _ = Preferences.objects.get_or_create(user=user)
    changes = {}
    for name, value in (("language", language), ("time_zone", time_zone)):
        if value is not None and value != getattr(prefs, name):
            changes[name] = {"from": getattr(prefs, name), "to": value}
            setattr(prefs, name, value)
    if changes:
        with transaction.atomic():
            prefs.save()
            record_event(
                action=AuditAction.PREFERENCES_CHANGED,
                outcome=Outcome.SUCCESS,
                payload=changes,
                actor=user,
                target=user.get_username()[:128],
            )
    user._portal_preferences = prefs
    return prefs


def language_of(user_id: int | None) -> str:
    """The language to write to a user in when they are not the one asking (emails, reasons a worker writes):
    their saved preference, else the portal's default."""

    if user_id is None:
        return settings.LANGUAGE_CODE
    chosen = Preferences.objects.filter(user_id=user_id).values_list("language", flat=True).first()
    return chosen or settings.LANGUAGE_CODE


def in_language_of(user_id: int | None):
    """Write what follows for this user (a reason they will read, their email): in their language."""
    return translation.override(language_of(user_id))
