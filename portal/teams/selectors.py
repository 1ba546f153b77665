"""Who belongs where: a user's teams by role, and the servers those teams own. Every scoped read starts here."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps

from .models import ServerOwnership, Team
from .scope import ServerScope

GLOBAL_AUDITOR_GROUP = "auditor"


@dataclass(frozen=True)
class Access:
    """One user's place in the organisation, read once per HTTP request (cached on the user object)."""

    group_names: frozenset[str]
    member_team_ids: frozenset[int]
    approver_team_ids: frozenset[int]
    auditor_team_ids: frozenset[int]
    global_auditor: bool

    @property
    def visible_team_ids(self) -> frozenset[int]:
        return self.member_team_ids | self.approver_team_ids | self.auditor_team_ids


NO_ACCESS = Access(frozenset(), frozenset(), frozenset(), frozenset(), False)


def access_for(user) -> Access:
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    cached = getattr(user, "_portal_access", None)
    if cached is not None:
        return cached
    groups = dict(user.groups.values_list("pk", "name"))
    access = Access(
        group_names=frozenset(groups.values()),
        member_team_ids=frozenset(Team.objects.filter(members=user).values_list("pk", flat=True)),
        approver_team_ids=frozenset(
            Team.objects.filter(approver_groups__in=list(groups)).values_list("pk", flat=True).distinct()
        ),
        auditor_team_ids=frozenset(Team.objects.filter(auditors=user).values_list("pk", flat=True)),
        global_auditor=GLOBAL_AUDITOR_GROUP in groups.values(),
    )
    user._portal_access = access
    return access


def forget_access(user) -> None:
    """Drop the cached access (after memberships change within one request, e.g. at sign-in)."""
    for name in ("_portal_access", "_portal_scopes"):
        if hasattr(user, name):
            delattr(user, name)


def _scope(team_ids: frozenset[int]) -> ServerScope:
    if not team_ids:
        return ServerScope()
    rules: dict[int, list[tuple[str, str]]] = {pk: [] for pk in team_ids}
    for team_id, kind, value in ServerOwnership.objects.filter(team_id__in=team_ids).values_list(
        "team_id", "kind", "value"
    ):
        rules[team_id].append((kind, value))
    names = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
    return ServerScope.of([(pk, names[pk], rules[pk]) for pk in sorted(team_ids)])


def server_scope_for(user, *, to_request: bool = False) -> ServerScope:
    """The servers `user` may see (their teams' as member, approver or auditor), or may request on (as member)."""
    access = access_for(user)
    cache = getattr(user, "_portal_scopes", None)
    if cache is None:
        cache = {}
        if user is not None and user.is_authenticated:
            user._portal_scopes = cache
    key = "request" if to_request else "view"
    if key not in cache:
        cache[key] = _scope(access.member_team_ids if to_request else access.visible_team_ids)
    return cache[key]


def requesting_team(user, server) -> Team | None:
    """The team on whose behalf `user` asks for `server`: the first (by name) of their teams that owns it."""
    ids = server_scope_for(user, to_request=True).owning_team_ids(server)
    return Team.objects.filter(pk__in=ids).order_by("name").first() if ids else None


def audit_request_scope(user):
    """None when `user` audits everything; otherwise a queryset of the ids of the requests they may audit."""
    access = access_for(user)
    if access.global_auditor:
        return None
    # By the model's name, as a foreign key names it: teams sit below the apps whose records they scope.
    requests = apps.get_model("interfaces", "InterfaceRequest")
    return requests.objects.filter(team_id__in=access.auditor_team_ids).values("pk")


def team_roles_for(user) -> list[tuple[str, list[str]]]:
    """The user's teams by name, each with the roles the user holds in it (member, approver, auditor)."""
    access = access_for(user)
    names = dict(Team.objects.filter(pk__in=access.visible_team_ids).values_list("pk", "name"))
    roles = {
        "member": access.member_team_ids,
        "approver": access.approver_team_ids,
        "auditor": access.auditor_team_ids,
    }
    return [
        (name, [role for role, ids in roles.items() if pk in ids])
        for pk, name in sorted(names.items(), key=lambda item: item[1])
    ]
