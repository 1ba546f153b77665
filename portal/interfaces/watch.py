"""A request's page learns within a second that its request moved, for one indexed query a check.

The status region listens for `request-changed`; a hidden element inside it asks `/requests/<pk>/changed` every
second while the request is not final. That check runs before sessions, users and the rest of the middleware
(RequestWatchMiddleware, near the top): it reads the newest audit event of the request (every transition, step
decision and SCP call of a request is one) and answers 204 while it is the one the page was drawn at, else 200
with `HX-Trigger: request-changed`, and the page then fetches its status fragment through the ordinary, fully
checked view. The check's token was signed for this request, this user and this browser's session cookie
when the page was drawn by someone allowed to see it; it tells its holder only "something changed", and a
token that does not check out is answered "changed", so the page asks the ordinary view (which decides).
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.core import signing
from django.db.models import Max
from django.http import HttpResponse

from portal.audit.models import AuditEvent

SALT = "portal.interfaces.watch"
MAX_AGE = 12 * 3600  # seconds a page's token is good for (the session's own maximum)
PATH = re.compile(r"^/requests/(?P<pk>\d{1,18})/changed/$")


def latest_event(request_id: int) -> int:
    """The sequence number of the request's newest audit event (0: none)."""
    return AuditEvent.objects.filter(interface_request_id=request_id).aggregate(seq=Max("seq"))["seq"] or 0


def _browser(http_request) -> str:
    cookie = http_request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]


def watch_for(http_request, *, request_id: int, seen: int) -> dict:
    """What the page needs to watch this request: the event it was drawn at and the signed token. `seen` is
    `latest_event` read *before* the request itself: an event committed between the two reads then shows as a
    change, where read after it would hide the change from the page for good."""
    token = signing.dumps([request_id, http_request.user.pk, _browser(http_request)], salt=SALT, compress=False)
    return {"seen": seen, "token": token}


def _changed() -> HttpResponse:
    return HttpResponse(status=200, headers={"HX-Trigger": "request-changed", "Cache-Control": "no-store"})


def request_changed(http_request, pk: int) -> HttpResponse:
    """204: nothing new since the page's event; 200 with HX-Trigger: something is (or the token is not good)."""
    try:
        request_id, _user, browser = signing.loads(http_request.GET.get("t", ""), salt=SALT, max_age=MAX_AGE)
        seen = int(http_request.GET.get("v", ""))
    except (signing.BadSignature, ValueError, TypeError):
        return _changed()
    if request_id != pk or browser != _browser(http_request) or latest_event(pk) != seen:
        return _changed()
    return HttpResponse(status=204, headers={"Cache-Control": "no-store"})


class RequestWatchMiddleware:
    """Answer the pages' change checks before the session, the user and the other middleware are read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, http_request):
        match = PATH.match(http_request.path)
        if match is None or http_request.method != "GET":
            return self.get_response(http_request)
        return request_changed(http_request, int(match["pk"]))
