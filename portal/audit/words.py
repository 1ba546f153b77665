"""What an audit event means, in words a requester reads on their request's timeline (the action code stays in
the audit log and in the timeline's tooltip). The words of each action are the catalogue's."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .events import AuditAction, action_named

SCP_READS = {"GET": _("Read from SCP"), "POST": _("Sent to SCP"), "DELETE": _("Sent to SCP")}


def event_words(event: Any) -> str:
    """One line for an event: the phrase for its action, with what an SCP call came to."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action == AuditAction.SCP_CALL:
        status, ms = payload.get("status"), payload.get("latency_ms", "?")
        what = SCP_READS.get(str(payload.get("method")), _("Called SCP"))
        if status:
            return gettext("%(what)s (answered %(status)s, %(ms)s ms)") % {"what": what, "status": status, "ms": ms}
        return gettext("%(what)s (no answer, %(ms)s ms)") % {"what": what, "ms": ms}
    action = action_named(event.action)
    return str(action.words) if action is not None else event.action
