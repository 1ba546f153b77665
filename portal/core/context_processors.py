from portal.core.roles import role_flags
from portal.core.version_watch import version_problems_safe


def navigation(request):
    """Flags the navigation needs: which sections this user may see, and the approver's pending count."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    flags = role_flags(user)
    if user.is_staff:  # administrators see what SCP's version lists say about the pinned API versions
        flags["scp_version_problems"] = version_problems_safe()
    return flags
