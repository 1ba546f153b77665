"""The portal's roles, answered from the user's teams and groups; every permission check asks these helpers.

- requester: a member of a team (requests on the servers the team owns);
- approver: in an approver group of a team (decides the team's requests where a policy step names the group);
- auditor: a team's auditor (that team's requests and events), or in the `auditor` group (everything).
"""

from collections.abc import Callable
from typing import Any

from portal.teams.selectors import access_for


def can_request(user) -> bool:
    return bool(access_for(user).member_team_ids)


def is_approver(user) -> bool:
    return bool(access_for(user).approver_team_ids)


def is_auditor(user) -> bool:
    access = access_for(user)
    return access.global_auditor or bool(access.auditor_team_ids)


# Counts the navigation shows beside a section (the approver's pending decisions), registered by the domain apps
# at start-up: name -> (the role flag it needs, how to count for a user).
NAVIGATION_COUNTS: dict[str, tuple[str, Callable[[Any], int]]] = {}


def register_navigation_count(name: str, *, needs: str, count: Callable[[Any], int]) -> None:
    NAVIGATION_COUNTS[name] = (needs, count)


def role_flags(user) -> dict:
    flags: dict[str, Any] = {
        "can_request": can_request(user),
        "is_approver": is_approver(user),
        "is_auditor": is_auditor(user),
    }
    for name, (needs, count) in NAVIGATION_COUNTS.items():
        if flags.get(needs):
            flags[name] = count(user)
    return flags
