"""The portal's roles are Django groups; every permission check asks these helpers."""

REQUESTER = "requester"
APPROVER = "approver"
AUDITOR = "auditor"
ROLES = (REQUESTER, APPROVER, AUDITOR)


def has_role(user, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    cache = getattr(user, "_portal_roles", None)
    if cache is None:
        cache = set(user.groups.values_list("name", flat=True))
        user._portal_roles = cache
    return role in cache


def can_request(user) -> bool:
    return has_role(user, REQUESTER) or has_role(user, APPROVER)


def is_approver(user) -> bool:
    return has_role(user, APPROVER)


def is_auditor(user) -> bool:
    return has_role(user, AUDITOR)


def role_flags(user) -> dict:
    flags = {"can_request": can_request(user), "is_approver": is_approver(user), "is_auditor": is_auditor(user)}
    if flags["is_approver"]:
        from portal.approvals.selectors import pending_count_for

        flags["pending_approvals"] = pending_count_for(user=user)
    return flags
