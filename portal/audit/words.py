"""What an audit event means, in words a requester reads on their request's timeline (the action code stays in
the audit log and in the timeline's tooltip)."""

from __future__ import annotations

from typing import Any

WORDS = {
    "interface_request.submitted": "Submitted",
    "approval.auto_approved": "Approved automatically by policy",
    "approval.step_completed": "An approval step was completed",
    "approval.approved": "Approved",
    "approval.rejected": "Rejected",
    "approval.expired": "Expired without a decision",
    "interface_request.cancelled": "Cancelled",
    "interface_request.claimed": "The portal started carrying it out",
    "interface_request.retry_scheduled": "SCP could not be reached; the portal will try again",
    "scp.attach.intent": "Sending the attach to SCP",
    "scp.detach.intent": "Sending the detach to SCP",
    "interface_request.unknown": "SCP's answer was lost; the portal is checking the server",
    "interface_request.reconciled": "The portal checked the server",
    "interface_request.reconcile_undecided": "The portal could not tell yet whether it was applied",
    "interface_request.succeeded": "Done",
    "interface_request.failed": "Failed",
    "interface_request.applied_late": "SCP applied it late; the portal found it",
    "interface_request.watch_ended": "The portal stopped checking for a late apply",
    "notification.failed": "An email about it could not be sent",
}
SCP_READS = {"GET": "Read from SCP", "POST": "Sent to SCP", "DELETE": "Sent to SCP"}


def event_words(event: Any) -> str:
    """One line for an event: the phrase for its action, with what an SCP call came to."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action == "scp.call":
        status = payload.get("status")
        answer = f"answered {status}" if status else "no answer"
        return f"{SCP_READS.get(payload.get('method'), 'Called SCP')} ({answer}, {payload.get('latency_ms', '?')} ms)"
    return WORDS.get(event.action, event.action)
