def navigation(request):
    """Flags the navigation needs: which sections this user may see, and the approver's pending count."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from portal.core.roles import role_flags

    return role_flags(user)
