"""RFC 9457 problem details (`application/problem+json`): the JSON API's errors, and the edge's refusals under
/api/ (the middleware and the not-found page answer in the API's language, not in HTML)."""

from __future__ import annotations

import json
from http import HTTPStatus

from django.http import HttpResponse

CONTENT_TYPE = "application/problem+json"


def problem(status: int, detail: str, *, title: str = "", headers: dict | None = None, **extra) -> HttpResponse:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response
