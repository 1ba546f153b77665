"""The action catalogue: every action the audit log can hold, one member each, with what it means.

`record_event` takes members only, so a misspelt action is an AttributeError where it is written, not an event
that silently drops out of the filter, the timeline and the metrics, which all read this catalogue. The values
are the strings stored in the chain: a member's value never changes once events carry it.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import Outcome


class Category(StrEnum):
    REQUEST = "request"  # a request's life
    APPROVAL = "approval"  # decisions on it
    SCP = "scp"  # calls to SCP
    REFUSAL = "refusal"  # something a user asked for and was refused
    AUTH = "auth"  # sign-in, sessions, passwords, preferences
    TOKEN = "token"  # personal API tokens
    AUDIT = "audit"  # reading the log itself
    DRIFT = "drift"  # SCP against the portal's records
    ADMIN = "admin"  # changes made in the Django admin
    SYSTEM = "system"  # the portal's own machinery (tasks, mail, effects)


class AuditAction(str, Enum):  # noqa: UP042 (members carry more than their value)
    """One audit action: its stored value, the outcome it usually has, its category and its words."""

    outcome: Outcome
    category: Category
    words: Promise

    def __new__(cls, value: str, outcome: Outcome, category: Category, words: Promise) -> AuditAction:
        member = str.__new__(cls, value)
        member._value_ = value
        member.outcome = outcome
        member.category = category
        member.words = words
        return member

    def __str__(self) -> str:
        return self.value

    # A request's life
    SUBMITTED = "interface_request.submitted", Outcome.SUCCESS, Category.REQUEST, _("Submitted")
    CANCELLED = "interface_request.cancelled", Outcome.SUCCESS, Category.REQUEST, _("Cancelled")
    CLAIMED = (
        "interface_request.claimed", Outcome.SUCCESS, Category.REQUEST, _("The portal started carrying it out")
    )  # fmt: skip
    WAITING = (
        "interface_request.waiting", Outcome.PENDING, Category.REQUEST,
        _("Waits for another change on the same server to settle"),
    )  # fmt: skip
    RETRY_SCHEDULED = (
        "interface_request.retry_scheduled", Outcome.PENDING, Category.REQUEST,
        _("SCP could not be reached; the portal will try again"),
    )  # fmt: skip
    UNKNOWN = (
        "interface_request.unknown", Outcome.UNKNOWN, Category.REQUEST,
        _("SCP's answer was lost; the portal is checking the server"),
    )  # fmt: skip
    RECONCILED = "interface_request.reconciled", Outcome.SUCCESS, Category.REQUEST, _("The portal checked the server")
    RECONCILE_UNDECIDED = (
        "interface_request.reconcile_undecided", Outcome.UNKNOWN, Category.REQUEST,
        _("The portal could not tell yet whether it was applied"),
    )  # fmt: skip
    SUCCEEDED = "interface_request.succeeded", Outcome.SUCCESS, Category.REQUEST, _("Done")
    FAILED = "interface_request.failed", Outcome.FAILURE, Category.REQUEST, _("Failed")
    APPLIED_LATE = (
        "interface_request.applied_late", Outcome.SUCCESS, Category.REQUEST,
        _("SCP applied it late; the portal found it"),
    )  # fmt: skip
    WATCH_ENDED = (
        "interface_request.watch_ended", Outcome.SUCCESS, Category.REQUEST,
        _("The portal stopped checking for a late apply"),
    )  # fmt: skip
    INVALID = "interface_request.invalid", Outcome.FAILURE, Category.REQUEST, _("The request's input was refused")
    # Decisions
    AUTO_APPROVED = (
        "approval.auto_approved", Outcome.SUCCESS, Category.APPROVAL, _("Approved automatically by policy")
    )  # fmt: skip
    STEP_COMPLETED = (
        "approval.step_completed", Outcome.SUCCESS, Category.APPROVAL, _("An approval step was completed")
    )  # fmt: skip
    DECISION_RECORDED = (
        "approval.recorded", Outcome.SUCCESS, Category.APPROVAL, _("An approval was recorded; more are needed")
    )  # fmt: skip
    APPROVED = "approval.approved", Outcome.SUCCESS, Category.APPROVAL, _("Approved")
    REJECTED = "approval.rejected", Outcome.SUCCESS, Category.APPROVAL, _("Rejected")
    EXPIRED = "approval.expired", Outcome.FAILURE, Category.APPROVAL, _("Expired without a decision")
    # SCP
    SCP_CALL = "scp.call", Outcome.SUCCESS, Category.SCP, _("Called SCP")
    ATTACH_INTENT = "scp.attach.intent", Outcome.PENDING, Category.SCP, _("Sending the attach to SCP")
    DETACH_INTENT = "scp.detach.intent", Outcome.PENDING, Category.SCP, _("Sending the detach to SCP")
    WRITE_INTENT = "scp.write.intent", Outcome.PENDING, Category.SCP, _("Sending the change to SCP")
    VERSION_WARNING = (
        "scp.version_warning", Outcome.FAILURE, Category.SCP, _("SCP's API version is deprecated or expired")
    )  # fmt: skip
    # Refusals
    SUBMIT_REFUSED = "interface_request.submit", Outcome.DENIED, Category.REFUSAL, _("A submission was refused")
    CANCEL_REFUSED = "interface_request.cancel", Outcome.DENIED, Category.REFUSAL, _("A cancellation was refused")
    REQUEST_ACCESS = (
        "interface_request.access", Outcome.DENIED, Category.REFUSAL, _("Access to a request was refused")
    )  # fmt: skip
    SERVER_ACCESS = "server.access", Outcome.DENIED, Category.REFUSAL, _("Access to a server was refused")
    APPROVE_REFUSED = "approval.approve", Outcome.DENIED, Category.REFUSAL, _("An approval was refused")
    REJECT_REFUSED = "approval.reject", Outcome.DENIED, Category.REFUSAL, _("A rejection was refused")
    DECIDE_REFUSED = "approval.decide", Outcome.DENIED, Category.REFUSAL, _("A decision was refused")
    QUEUE_REFUSED = "approval.queue", Outcome.DENIED, Category.REFUSAL, _("The approval queue was refused")
    AUDIT_ACCESS = "audit.access", Outcome.DENIED, Category.REFUSAL, _("The audit log was refused")
    API_ACCESS = "api.access", Outcome.DENIED, Category.REFUSAL, _("An API call was refused")
    HTTP_REJECTED = "request.rejected", Outcome.DENIED, Category.REFUSAL, _("A malformed web request was refused")
    # Sign-in and account
    LOGIN = "auth.login", Outcome.SUCCESS, Category.AUTH, _("Signed in")
    LOGOUT = "auth.logout", Outcome.SUCCESS, Category.AUTH, _("Signed out")
    LOGIN_FAILED = "auth.login_failed", Outcome.FAILURE, Category.AUTH, _("A sign-in failed")
    LOCKED_OUT = "auth.locked_out", Outcome.DENIED, Category.AUTH, _("Locked out after failed sign-ins")
    UNLOCKED = "auth.unlocked", Outcome.SUCCESS, Category.AUTH, _("A lock-out was lifted")
    SSO_LOGIN = "auth.sso_login", Outcome.SUCCESS, Category.AUTH, _("Signed in with single sign-on")
    SSO_REFUSED = "auth.sso_refused", Outcome.DENIED, Category.AUTH, _("A single sign-on was refused")
    SESSION_EXPIRED = "auth.session_expired", Outcome.SUCCESS, Category.AUTH, _("A session expired")
    ACCESS_REVOKED = "auth.access_revoked", Outcome.SUCCESS, Category.AUTH, _("A user's access was revoked")
    SSO_RECHECKED = (
        "auth.sso_rechecked", Outcome.SUCCESS, Category.AUTH, _("The identity provider changed a user's access")
    )  # fmt: skip
    SSO_SESSION_ENDED = (
        "auth.sso_session_ended", Outcome.SUCCESS, Category.AUTH, _("The identity provider ended a session")
    )  # fmt: skip
    SIGNED_OUT_EVERYWHERE = (
        "auth.signed_out_everywhere", Outcome.SUCCESS, Category.AUTH, _("Signed out of every session")
    )  # fmt: skip
    PASSWORD_CHANGED = "auth.password_changed", Outcome.SUCCESS, Category.AUTH, _("A password was changed")
    PASSWORD_RESET_REQUESTED = (
        "auth.password_reset_requested", Outcome.SUCCESS, Category.AUTH, _("A password reset was asked for")
    )  # fmt: skip
    PREFERENCES_CHANGED = (
        "account.preferences_changed", Outcome.SUCCESS, Category.AUTH, _("Language or time zone changed")
    )  # fmt: skip
    # Provisioning over SCIM
    SCIM_USER_CREATED = "scim.user_created", Outcome.SUCCESS, Category.AUTH, _("An IdP provisioned a user")
    SCIM_USER_CHANGED = "scim.user_changed", Outcome.SUCCESS, Category.AUTH, _("An IdP changed a user")
    SCIM_USER_DELETED = "scim.user_deleted", Outcome.SUCCESS, Category.AUTH, _("An IdP deprovisioned a user")
    SCIM_GROUP_CREATED = "scim.group_created", Outcome.SUCCESS, Category.AUTH, _("An IdP pushed a group")
    SCIM_GROUP_CHANGED = "scim.group_changed", Outcome.SUCCESS, Category.AUTH, _("An IdP changed a group")
    SCIM_GROUP_DELETED = "scim.group_deleted", Outcome.SUCCESS, Category.AUTH, _("An IdP removed a group")
    SCIM_REFUSED = "scim.refused", Outcome.DENIED, Category.AUTH, _("A SCIM call was refused")
    SCIM_CLIENT_CHANGED = (
        "scim.client_changed", Outcome.SUCCESS, Category.AUTH, _("A SCIM client was added or its token changed")
    )  # fmt: skip
    # API tokens
    TOKEN_CREATED = "api_token.created", Outcome.SUCCESS, Category.TOKEN, _("An API token was created")
    TOKEN_REFUSED = "api_token.refused", Outcome.DENIED, Category.TOKEN, _("An API token was refused")
    TOKEN_RATE_LIMITED = (
        "api_token.rate_limited", Outcome.DENIED, Category.TOKEN, _("An API token went over its rate limit")
    )  # fmt: skip
    TOKEN_REVOKED = "api_token.revoked", Outcome.SUCCESS, Category.TOKEN, _("An API token was revoked")
    TOKEN_ACCESS = "api_token.access", Outcome.DENIED, Category.TOKEN, _("Access to an API token was refused")
    # The audit log itself
    EXPORTED = "audit.exported", Outcome.SUCCESS, Category.AUDIT, _("The audit log was exported")
    VERIFY_STARTED = "audit.verify_started", Outcome.SUCCESS, Category.AUDIT, _("A verification of the log began")
    CHECKPOINT_REFUSED = (
        "audit.checkpoint_refused", Outcome.FAILURE, Category.AUDIT, _("A checkpoint was not signed: the log changed")
    )  # fmt: skip
    RECEIPT_ISSUED = "audit.receipt_issued", Outcome.SUCCESS, Category.AUDIT, _("A request's receipt was issued")
    STREAM_FAILED = (
        "audit.stream_failed", Outcome.FAILURE, Category.AUDIT, _("A SIEM stream's receiver stopped taking events")
    )  # fmt: skip
    STREAM_RECOVERED = (
        "audit.stream_recovered", Outcome.SUCCESS, Category.AUDIT, _("A SIEM stream caught up again")
    )  # fmt: skip
    WITNESS_REFUSED = (
        "audit.witness_refused", Outcome.FAILURE, Category.AUDIT, _("A witness did not cosign a checkpoint")
    )  # fmt: skip
    # Drift
    DRIFT_SCANNED = "drift.scanned", Outcome.SUCCESS, Category.DRIFT, _("SCP was scanned for drift")
    DRIFT_REQUESTED = "drift.requested", Outcome.SUCCESS, Category.DRIFT, _("A drift scan was asked for")
    # The portal's machinery
    TASK_ABANDONED = "task.abandoned", Outcome.FAILURE, Category.SYSTEM, _("A background task was abandoned")
    NOTIFICATION_FAILED = (
        "notification.failed", Outcome.FAILURE, Category.SYSTEM, _("An email about it could not be sent")
    )  # fmt: skip
    EFFECT_FAILED = (
        "effect.failed", Outcome.FAILURE, Category.SYSTEM, _("A follow-up step failed; the portal tries again")
    )  # fmt: skip
    # The Django admin: admin.<model>.<verb>
    ADMIN_POLICY_ADDED = "admin.approvalpolicy.added", Outcome.SUCCESS, Category.ADMIN, _("A policy was added")
    ADMIN_POLICY_CHANGED = "admin.approvalpolicy.changed", Outcome.SUCCESS, Category.ADMIN, _("A policy was changed")
    ADMIN_POLICY_DELETED = "admin.approvalpolicy.deleted", Outcome.SUCCESS, Category.ADMIN, _("A policy was deleted")
    ADMIN_TEAM_ADDED = "admin.team.added", Outcome.SUCCESS, Category.ADMIN, _("A team was added")
    ADMIN_TEAM_CHANGED = "admin.team.changed", Outcome.SUCCESS, Category.ADMIN, _("A team was changed")
    ADMIN_TEAM_DELETED = "admin.team.deleted", Outcome.SUCCESS, Category.ADMIN, _("A team was deleted")
    ADMIN_MAPPING_ADDED = (
        "admin.groupmapping.added", Outcome.SUCCESS, Category.ADMIN, _("An IdP group mapping was added")
    )  # fmt: skip
    ADMIN_MAPPING_CHANGED = (
        "admin.groupmapping.changed", Outcome.SUCCESS, Category.ADMIN, _("An IdP group mapping was changed")
    )  # fmt: skip
    ADMIN_MAPPING_DELETED = (
        "admin.groupmapping.deleted", Outcome.SUCCESS, Category.ADMIN, _("An IdP group mapping was deleted")
    )  # fmt: skip
    ADMIN_USER_ADDED = "admin.user.added", Outcome.SUCCESS, Category.ADMIN, _("A user was added")
    ADMIN_USER_CHANGED = "admin.user.changed", Outcome.SUCCESS, Category.ADMIN, _("A user was changed")
    ADMIN_USER_DELETED = "admin.user.deleted", Outcome.SUCCESS, Category.ADMIN, _("A user was deleted")
    ADMIN_USER_PASSWORD = (
        "admin.user.password_changed", Outcome.SUCCESS, Category.ADMIN, _("A user's password was set by an admin")
    )  # fmt: skip
    ADMIN_IDENTITY_ADDED = "admin.identity.added", Outcome.SUCCESS, Category.ADMIN, _("An IdP link was added")
    ADMIN_IDENTITY_CHANGED = "admin.identity.changed", Outcome.SUCCESS, Category.ADMIN, _("An IdP link was changed")
    ADMIN_IDENTITY_DELETED = (
        "admin.identity.deleted", Outcome.SUCCESS, Category.ADMIN, _("An IdP link was removed")
    )  # fmt: skip
    ADMIN_GROUP_ADDED = "admin.group.added", Outcome.SUCCESS, Category.ADMIN, _("A group was added")
    ADMIN_GROUP_CHANGED = "admin.group.changed", Outcome.SUCCESS, Category.ADMIN, _("A group was changed")
    ADMIN_GROUP_DELETED = "admin.group.deleted", Outcome.SUCCESS, Category.ADMIN, _("A group was deleted")
    ADMIN_LOCKOUT_ADDED = (
        "admin.accessattempt.added", Outcome.SUCCESS, Category.ADMIN, _("A sign-in lock-out was added")
    )  # fmt: skip
    ADMIN_LOCKOUT_CHANGED = (
        "admin.accessattempt.changed", Outcome.SUCCESS, Category.ADMIN, _("A sign-in lock-out was changed")
    )  # fmt: skip
    ADMIN_LOCKOUT_DELETED = (
        "admin.accessattempt.deleted", Outcome.SUCCESS, Category.ADMIN, _("A sign-in lock-out was lifted")
    )  # fmt: skip


def action_named(value: str) -> AuditAction | None:
    """The member stored as `value` (None for a string that is no action: an old or edited filter)."""
    return _BY_VALUE.get(value)


def admin_action(model_name: str, verb: str) -> AuditAction:
    """The admin's change of a model (`admin.<model>.<verb>`); a model the catalogue lacks is a programming error."""
    return _BY_VALUE[f"admin.{model_name}.{verb}"]


def actions_in(category: Category) -> tuple[AuditAction, ...]:
    return tuple(a for a in AuditAction if a.category == category)


_BY_VALUE: dict[str, AuditAction] = {action.value: action for action in AuditAction}
