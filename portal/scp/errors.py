"""One exception tree for everything that can go wrong talking to SCP.

Transport errors split by whether the request may have had an effect: `ScpNotSent` (nothing reached the server,
safe to retry) versus `ScpOutcomeUnknown` (the request went out; only reconciliation can tell what happened).
"""

from __future__ import annotations

import json
from typing import Any


class ScpError(Exception):
    """Base of every SCP client error."""

    retryable = False


class ScpConfigurationError(ScpError):
    """The client was configured with something SCP would refuse (e.g. an expired API version)."""


class ScpTransportError(ScpError):
    """The HTTP exchange itself failed."""


class ScpNotSent(ScpTransportError):
    """The connection could not be made; the request never reached SCP."""

    retryable = True


class ScpOutcomeUnknown(ScpTransportError):
    """The request went out but no answer came (read timeout, dropped connection)."""


class ScpResponseInvalid(ScpError):
    """SCP answered 2xx with a body that does not fit the schema."""

    def __init__(self, message: str, *, raw_body: str = "") -> None:
        super().__init__(message)
        self.raw_body = raw_body


class ScpHttpError(ScpError):
    """SCP answered with an error status."""

    status: int = 0

    def __init__(self, *, status: int, code: str | None, detail: str, raw_body: str, method: str, url: str) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.raw_body = raw_body
        self.method = method
        self.url = url
        label = f"{code}: " if code else ""
        super().__init__(f"SCP answered {status} to {method} {url}: {label}{detail}")


class ScpBadRequest(ScpHttpError):
    pass


class ScpUnauthorized(ScpHttpError):
    pass


class ScpForbidden(ScpHttpError):
    pass


class ScpNotFound(ScpHttpError):
    pass


class ScpConflict(ScpHttpError):
    pass


class ScpServerError(ScpHttpError):
    """5xx. Gateways' 502/503/504 mean the request was not processed and may be retried; a 500 is final."""

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status in (502, 503, 504)


_BY_STATUS: dict[int, type[ScpHttpError]] = {
    400: ScpBadRequest,
    401: ScpUnauthorized,
    403: ScpForbidden,
    404: ScpNotFound,
    409: ScpConflict,
}

MAX_DETAIL = 500


def parse_error_body(text: str) -> tuple[str | None, str]:
    """Extract (code, detail) from an SCP error body, whatever shape the service used (spec §5)."""
    try:
        body: Any = json.loads(text) if text else None
    except ValueError:
        body = None
    code: Any = None
    detail: Any = None
    if isinstance(body, dict):
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
        source = first if first is not None else body
        code = source.get("code")
        detail = source.get("detail") or source.get("message") or source.get("title")
    if isinstance(detail, list):
        detail = "; ".join(str(d) for d in detail)
    if detail is None:
        detail = text.strip() or "no detail given"
    return (str(code)[:200] if code else None), str(detail)[:MAX_DETAIL]


def error_for_status(*, status: int, text: str, method: str, url: str) -> ScpHttpError:
    code, detail = parse_error_body(text)
    cls = _BY_STATUS.get(status) or (ScpServerError if status >= 500 else ScpHttpError)
    return cls(status=status, code=code, detail=detail, raw_body=text, method=method, url=url)
