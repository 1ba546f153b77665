"""The audit app's handler of outbox effects: the verification an auditor asked for runs as a task of its own
(it can take longer than an effect's delivery lease)."""

from . import refusals
from .models import Effect
from .outbox import register
from .tasks import verify_audit_chain
from .verification import VERIFY_EFFECT
from .witnessing import WITNESS_EFFECT, witness_deliver


def _verify(effect: Effect) -> None:
    verify_audit_chain.enqueue()


def register_handlers() -> None:
    register(VERIFY_EFFECT, _verify)
    register(WITNESS_EFFECT, witness_deliver)
    refusals.register_handlers()
