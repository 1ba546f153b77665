"""Errors as RFC 9457 problem details (`application/problem+json`), worded as the pages word them."""

from __future__ import annotations

from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.core.errors import NotFound
from portal.core.problems import problem
from portal.interfaces.errors import AttachRejected, InvalidState, NotAllowed, ScpUnavailable
from portal.scp.errors import ScpError

from .tokens import RateLimited, RefusalsLimited, TokenRefused

SCP_DOWN = "SCP is not answering right now, so this could not be done. Try again in a moment."
SCP_RETRY_AFTER = 30


def _field(loc) -> str:
    """A pydantic error's location as the field a caller sent: body.fixed_ips.0 -> fixed_ips[0]."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "payload", "filters")]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def _validation(request, exc: ValidationError):
    errors = []
    for error in exc.errors:
        message = str(error.get("msg", "invalid"))
        errors.append({"field": _field(error.get("loc", ())), "message": message.removeprefix("Value error, ")})
    detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:5])
    return problem(422, detail or "The input is not valid.", title="Invalid input", errors=errors)


def _rejected(request, exc: AttachRejected):
    errors = [
        {"field": _rejected_field(key), "message": message}
        for key, messages in exc.errors.items()
        for message in messages
    ]
    return problem(422, exc.summary, title="The attach cannot be made as asked", errors=errors)


def _rejected_field(key: str) -> str:
    if key.startswith("fixed_ip_"):
        return f"fixed_ips[{key.rsplit('_', 1)[1]}]"
    return "" if key == "__all__" else key


def _authentication(request, exc):
    detail = "Authentication needed: a bearer token, or a signed-in session."
    if isinstance(exc, TokenRefused):
        detail = f"The token is not accepted ({exc})."
    return problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def _http_error(request, exc: HttpError):
    if exc.status_code == 403 and "CSRF" in str(exc):
        return problem(403, "The CSRF check failed: a browser session must send the X-CSRFToken header.")
    if exc.status_code == 400 and "parse" in str(exc).lower():
        return problem(400, "The request body is not valid JSON; nothing was done.")
    return problem(exc.status_code, str(exc))


def install(api) -> None:
    api.add_exception_handler(ValidationError, _validation)
    api.add_exception_handler(AttachRejected, _rejected)
    api.add_exception_handler(AuthenticationError, _authentication)
    api.add_exception_handler(TokenRefused, _authentication)
    api.add_exception_handler(HttpError, _http_error)
    for limited in (RateLimited, RefusalsLimited):
        api.add_exception_handler(
            limited, lambda request, exc: problem(429, str(exc), headers={"Retry-After": str(exc.retry_after)})
        )
    api.add_exception_handler(NotFound, lambda request, exc: problem(404, str(exc) or "Not found."))
    api.add_exception_handler(Http404, lambda request, exc: problem(404, "Not found."))
    api.add_exception_handler(NotAllowed, lambda request, exc: problem(403, str(exc)))
    api.add_exception_handler(InvalidState, lambda request, exc: problem(409, str(exc)))
    api.add_exception_handler(
        ScpUnavailable, lambda request, exc: problem(503, str(exc), headers={"Retry-After": str(SCP_RETRY_AFTER)})
    )
    api.add_exception_handler(
        ScpError, lambda request, exc: problem(503, SCP_DOWN, headers={"Retry-After": str(SCP_RETRY_AFTER)})
    )
