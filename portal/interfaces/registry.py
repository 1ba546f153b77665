"""The registry of operations: what a request asks SCP to do, one module each (attach, detach, ...).

An operation owns its live validation, its exact SCP call (the one builder of its body), its preview, how it is
sent, when it has settled and how a lost answer is reconciled. The lifecycle, the services, the views and the
approvals treat every operation alike; adding one is a new module and a `register()` in an `AppConfig.ready()`.
This module imports nothing, so that models can look an operation up by the name they store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .operations.base import Operation

REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    REGISTRY[operation.name] = operation
    return operation


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def operation_named(name: str) -> Operation:
    """The operation a request stores as its `action` (a LookupError for one no module registered)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise LookupError(f"no operation {name!r} is registered") from None
