"""Sign SCP OpenAPI requests (spec §1).

The signature is Base64(HMAC-SHA256(secret, METHOD + URL + TIMESTAMP + ACCESS_KEY + "Openapi")), where URL is
the absolute URL exactly as it goes on the wire. Signing the *prepared* request is what keeps the signed and
the sent URL identical: requests has already percent-encoded it by then, so nothing is encoded twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from requests.auth import AuthBase
from requests.models import PreparedRequest

CLIENT_TYPE = "Openapi"


def compute_signature(*, method: str, url: str, timestamp: str, access_key: str, secret_key: str) -> str:
    """Return the Base64 HMAC-SHA256 signature of one request."""
    message = f"{method.upper()}{url}{timestamp}{access_key}{CLIENT_TYPE}"
    digest = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def timestamp_ms(clock: Callable[[], float] = time.time) -> str:
    """Return the Unix time in milliseconds as the decimal string SCP expects."""
    return str(int(clock() * 1000))


class ScpAuth(AuthBase):
    """Add the SCP signing headers to a prepared request, with a fresh timestamp each time it is prepared."""

    def __init__(self, *, access_key: str, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self.access_key = access_key
        self._secret_key = secret_key
        self._clock = clock

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        timestamp = timestamp_ms(self._clock)
        request.headers["Scp-Accesskey"] = self.access_key
        request.headers["Scp-Timestamp"] = timestamp
        request.headers["Scp-ClientType"] = CLIENT_TYPE
        request.headers["Scp-Signature"] = compute_signature(
            method=request.method or "GET",
            url=request.url or "",
            timestamp=timestamp,
            access_key=self.access_key,
            secret_key=self._secret_key,
        )
        return request

    def __repr__(self) -> str:
        return f"ScpAuth(access_key=…{self.access_key[-4:]})"


def mask_access_key(access_key: str) -> str:
    """Show at most the last four characters of an access key."""
    return f"…{access_key[-4:]}" if access_key else ""
