"""Access that ends when it should: a user's grants, API tokens and sessions taken away at once, with one event.

Called when the IdP no longer gives someone any mapped group, when their IdP link is removed, when the IdP ends
their session or no longer knows them, and when they are deactivated (here, in the admin, or through SCIM).
"""

from __future__ import annotations

from django.db import transaction

from portal.api.models import ApiToken
from portal.api.tokens import tokens_revoke_all
from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.teams.models import Team
from portal.teams.selectors import forget_access

from .models import UserSession
from .sessions import sessions_end


def grants_of(user) -> dict:
    """What the user holds now: portal groups, teams as a member, teams as an auditor (by name)."""
    return {
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "member_of": sorted(Team.objects.filter(members=user).values_list("name", flat=True)),
        "audits": sorted(Team.objects.filter(auditors=user).values_list("name", flat=True)),
    }


def holds_access(user) -> bool:
    """Whether revoking would take anything: a grant, a live API token or a tracked session."""
    return (
        any(grants_of(user).values())
        or ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
        or UserSession.objects.filter(user=user).exists()
    )


def grants_clear(user) -> dict:
    """Remove every portal group and team role of `user`; return what they held."""
    before = grants_of(user)
    user.groups.clear()
    user.teams.clear()
    user.audited_teams.clear()
    forget_access(user)
    return before


def access_revoke(*, user, reason: str, clear_grants: bool = True, by=None, **detail) -> dict:
    """End `user`'s access now: their grants (unless `clear_grants` is False: a deactivated account keeps its
    roles for when it comes back), every API token and every session. One `auth.access_revoked` event says why
    and what went; each token's revocation is its own event too."""
    with transaction.atomic():
        before = grants_clear(user) if clear_grants else grants_of(user)
        tokens = tokens_revoke_all(user=user, why=reason)
        sessions = sessions_end(user)
        summary = {
            "user": user.get_username(),
            "reason": reason,
            "grants_removed": before if clear_grants else {},
            "tokens_revoked": tokens,
            "sessions_ended": sessions,
            **detail,
        }
        record_event(
            action=AuditAction.ACCESS_REVOKED,
            outcome=Outcome.SUCCESS,
            payload=summary,
            actor=by,
            target=user.get_username()[:128],
        )
    return summary
