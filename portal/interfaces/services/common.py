"""What the request services share: the clock seam, and binding SCP calls to the request they are made for."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from django.utils import timezone

from portal.audit.services import scp_call_binding

from ..lifecycle import transition
from ..models import InterfaceRequest
from ..operations.base import Settlement


def _now() -> dt.datetime:
    return timezone.now()


@contextlib.contextmanager
def scp_calls_for(request: InterfaceRequest) -> Iterator[None]:
    """Every SCP call made inside is audited as this request's."""
    token = scp_call_binding.set((request.pk, request.server_id))
    try:
        yield
    finally:
        scp_call_binding.reset(token)


def settle(request: InterfaceRequest, settlement: Settlement, **extra) -> bool:
    """Apply an operation's settlement through the lifecycle."""
    return transition(
        request,
        settlement.event,
        reason=settlement.reason,
        payload=settlement.payload,
        **{**settlement.fields, **extra},
    )
