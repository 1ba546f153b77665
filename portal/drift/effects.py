"""The drift report's handler of outbox effects: a scan asked for on the page runs as a task of its own."""

from portal.audit.models import Effect
from portal.audit.outbox import register

from .services import SCAN_EFFECT
from .tasks import drift_scan_task


def _scan(effect: Effect) -> None:
    drift_scan_task.enqueue(trigger=str(effect.args.get("trigger", "page")))


def register_handlers() -> None:
    register(SCAN_EFFECT, _scan)
