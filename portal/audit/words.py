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
    collapsed = getattr(event, "timeline_words", None)
    if collapsed is not None:
        return collapsed
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action == AuditAction.SCP_CALL:
        status, ms = payload.get("status"), payload.get("latency_ms", "?")
        what = SCP_READS.get(str(payload.get("method")), _("Called SCP"))
        if status:
            return gettext("%(what)s (answered %(status)s, %(ms)s ms)") % {"what": what, "status": status, "ms": ms}
        return gettext("%(what)s (no answer, %(ms)s ms)") % {"what": what, "ms": ms}
    action = action_named(event.action)
    return str(action.words) if action is not None else event.action


def _read_key(event: Any):
    payload = event.payload if isinstance(event.payload, dict) else {}
    if event.action != AuditAction.SCP_CALL or payload.get("method") != "GET":
        return None
    return (payload.get("status"), event.actor_name)


def timeline_lines(events) -> list[Any]:
    """The timeline's events with each run of identical SCP reads (a poll until a port is ACTIVE) as one line:
    its first event, saying how many reads and their latency range. Every event stays in the audit log."""
    lines: list[Any] = []
    run: list[Any] = []

    def close_run() -> None:  # the run of reads so far, as one line
        if len(run) > 1:
            head = run[0]
            latencies = [
                e.payload.get("latency_ms") for e in run if isinstance(e.payload.get("latency_ms"), int | float)
            ]
            span = f"{min(latencies):g}–{max(latencies):g}" if latencies else "?"
            head.timeline_words = gettext("%(what)s %(n)d times (answered %(status)s, %(ms)s ms)") % {
                "what": SCP_READS["GET"],
                "n": len(run),
                "status": head.payload.get("status") or "—",
                "ms": span,
            }
        if run:
            lines.append(run[0])

    for event in events:
        key = _read_key(event)
        if run and key == _read_key(run[0]):
            run.append(event)
            continue
        close_run()
        run = [event] if key is not None else []
        if key is None:
            lines.append(event)
    close_run()
    return lines
