"""What an audit event means, in words a requester reads on their request's timeline (the action code stays in
the audit log and in the timeline's tooltip)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

WORDS = {
    "interface_request.submitted": _("Submitted"),
    "approval.auto_approved": _("Approved automatically by policy"),
    "approval.step_completed": _("An approval step was completed"),
    "approval.approved": _("Approved"),
    "approval.rejected": _("Rejected"),
    "approval.expired": _("Expired without a decision"),
    "interface_request.cancelled": _("Cancelled"),
    "interface_request.claimed": _("The portal started carrying it out"),
    "interface_request.retry_scheduled": _("SCP could not be reached; the portal will try again"),
    "scp.attach.intent": _("Sending the attach to SCP"),
    "scp.detach.intent": _("Sending the detach to SCP"),
    "interface_request.unknown": _("SCP's answer was lost; the portal is checking the server"),
    "interface_request.reconciled": _("The portal checked the server"),
    "interface_request.reconcile_undecided": _("The portal could not tell yet whether it was applied"),
    "interface_request.succeeded": _("Done"),
    "interface_request.failed": _("Failed"),
    "interface_request.applied_late": _("SCP applied it late; the portal found it"),
    "interface_request.watch_ended": _("The portal stopped checking for a late apply"),
    "notification.failed": _("An email about it could not be sent"),
}
SCP_READS = {"GET": _("Read from SCP"), "POST": _("Sent to SCP"), "DELETE": _("Sent to SCP")}


def event_words(event: Any) -> str:
    """One line for an event: the phrase for its action, with what an SCP call came to."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action == "scp.call":
        status, ms = payload.get("status"), payload.get("latency_ms", "?")
        what = SCP_READS.get(payload.get("method"), _("Called SCP"))
        if status:
            return gettext("%(what)s (answered %(status)s, %(ms)s ms)") % {"what": what, "status": status, "ms": ms}
        return gettext("%(what)s (no answer, %(ms)s ms)") % {"what": what, "ms": ms}
    return str(WORDS.get(event.action, event.action))
