"""The portal's roles, answered from the user's teams and groups; every permission check asks these helpers.

- requester: a member of a team (requests on the servers the team owns);
- approver: in an approver group of a team (decides the team's requests where a policy step names the group);
- auditor: a team's auditor (that team's requests and events), or in the `auditor` group (everything).
"""

from portal.teams.selectors import access_for


def can_request(user) -> bool:
    return bool(access_for(user).member_team_ids)


def is_approver(user) -> bool:
    return bool(access_for(user).approver_team_ids)


def is_auditor(user) -> bool:
    access = access_for(user)
    return access.global_auditor or bool(access.auditor_team_ids)


def role_flags(user) -> dict:
    flags = {"can_request": can_request(user), "is_approver": is_approver(user), "is_auditor": is_auditor(user)}
    if flags["is_approver"]:
        from portal.approvals.selectors import pending_count_for

        flags["pending_approvals"] = pending_count_for(user=user)
    return flags
