"""Who is acting, from where, under which correlation id: set per HTTP request or task, read by the audit log."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace

from .logs import bind_context, unbind_context


@dataclass(frozen=True)
class RequestContext:
    correlation_id: str
    actor_id: int | None = None
    actor_name: str = ""
    source_ip: str | None = None
    user_agent: str = ""
    api_token: str = ""  # the public prefix of the personal access token the call came with, if any
    page: bool = False  # someone waits for the answer (an HTTP request): SCP reads get the page's short budget
    caused_by: str = ""  # the portal request that caused what happens ("GET /servers/…/attach/"), for the audit page


_current: ContextVar[RequestContext | None] = ContextVar("portal_request_context", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current() -> RequestContext:
    """Return the bound context; code running outside any (a shell, a migration) gets a fresh system one."""
    return _current.get() or RequestContext(correlation_id=new_correlation_id(), actor_name="system")


@contextlib.contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    log_tokens = bind_context(correlation_id=context.correlation_id, user=context.actor_name)
    try:
        yield context
    finally:
        unbind_context(log_tokens)
        _current.reset(token)


def with_actor(user) -> RequestContext:
    """The current context, with `user` as the actor (used where the user changes mid-request, e.g. sign-in)."""
    return replace(current(), actor_id=user.pk, actor_name=user.get_username())


def rebind(**changes) -> None:
    """Change the current context for the rest of this request (the API's token authentication names the actor
    only inside the view); the middleware's `bound` restores what was there before when the request ends."""

    context = replace(current(), **changes)
    _current.set(context)
    bind_context(correlation_id=context.correlation_id, user=context.actor_name)
