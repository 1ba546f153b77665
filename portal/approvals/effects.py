"""The approvals app's registrations at start-up: the approver's pending count in the navigation."""

from portal.core.roles import register_navigation_count

from .selectors import pending_count_for


def register_handlers() -> None:
    register_navigation_count("pending_approvals", needs="is_approver", count=lambda user: pending_count_for(user=user))
