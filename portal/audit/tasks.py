from django.tasks import task

from portal.core.context import RequestContext, bound, new_correlation_id

from .checkpoints import CheckpointRefused, CheckpointUnavailable, checkpoint_make
from .outbox import effect_deliver, effects_deliver_due, effects_prune
from .services import audit_verify_database
from .streams import streams_deliver


@task()
def verify_audit_chain() -> str:
    return audit_verify_database().message


@task()
def deliver_effect(effect_id: int) -> str:
    """Deliver one effect of the outbox (written with the change it follows)."""

    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-worker")):
        return effect_deliver(effect_id=effect_id)


@task()
def deliver_due_effects() -> int:
    """The scheduler's sweep: effects whose delivery was lost (a worker died during it); old delivered ones go."""

    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        effects_prune()
        return effects_deliver_due()


@task()
def sign_audit_checkpoint() -> str:
    """The scheduler's checkpoint: signed when the log grew (and a signing key is configured)."""
    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        try:
            made = checkpoint_make()
        except (CheckpointRefused, CheckpointUnavailable) as exc:
            return str(exc)
    return f"checkpoint {made.size}" if made else "the log has not grown"


@task()
def stream_audit_events() -> str:
    """The scheduler's stream delivery: each SIEM stream caught up as far as its receiver takes events."""
    with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="portal-scheduler")):
        taken = streams_deliver()
    return ", ".join(f"{name}: {n}" for name, n in taken.items()) or "no stream configured"
