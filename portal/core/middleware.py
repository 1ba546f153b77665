import ipaddress
import logging

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from portal.scp.errors import ScpError

from .context import RequestContext, bound, new_correlation_id
from .errors import SCP_DOWN
from .health import readiness
from .metrics import CONTENT_TYPE, metrics_text
from .problems import problem
from .views import handler404

MAX_USER_AGENT = 256
logger = logging.getLogger("portal.operations")


def client_ip(request) -> str | None:
    """The client's address; X-Forwarded-For is believed only when the direct peer is a configured proxy."""
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.CONFIG.trusted_proxies
    if remote and remote in trusted:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        # Walk from the right past our own proxies; the first address they did not add is the client.
        for candidate in reversed(forwarded):
            if candidate not in trusted:
                remote = candidate
                break
    try:
        return str(ipaddress.ip_address(remote)) if remote else None
    except ValueError:
        return None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        authenticated = bool(user is not None and user.is_authenticated)
        context = RequestContext(
            correlation_id=new_correlation_id(),
            actor_id=user.pk if authenticated else None,
            actor_name=user.get_username() if authenticated else "",
            source_ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT],
            page=True,
            caused_by=f"{request.method} {request.path}"[:200],
        )
        request.correlation_id = context.correlation_id
        with bound(context):
            response = self.get_response(request)
        response["X-Correlation-Id"] = context.correlation_id
        return response


class OperationsMiddleware:
    """Answer /healthz, /readyz and /metrics before host validation, HTTPS redirects and sessions.

    Probes and scrapers reach a container by its address (any Host header, plain HTTP inside the network);
    /healthz touches nothing, /readyz checks each dependency, /metrics answers only a bearer token or an
    allowed network.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match request.path:
            case "/healthz":
                return JsonResponse({"status": "ok"})
            case "/readyz":
                ready, checks = readiness()
                response = JsonResponse(
                    {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
                )
                if not ready:  # one line naming what is wrong, instead of Django's bare "Service Unavailable"
                    failing = {name: check["detail"] for name, check in checks.items() if not check["ok"]}
                    logger.warning("not ready: %s", failing)
                    response._has_been_logged = True
                if not metrics_allowed(request):  # details (addresses, errors) only for operators
                    response.content = JsonResponse(
                        {
                            "status": "ready" if ready else "not ready",
                            "checks": {name: {"ok": check["ok"]} for name, check in checks.items()},
                        }
                    ).content
                return response
            case "/metrics":
                return self._metrics(request)
        return self.get_response(request)

    @staticmethod
    def _metrics(request):
        if not metrics_allowed(request):
            return HttpResponse(
                "Forbidden: /metrics needs the bearer token (METRICS_TOKEN) or an address in "
                "METRICS_ALLOWED_NETWORKS.\n",
                status=403,
                content_type="text/plain",
            )

        return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)


def metrics_allowed(request) -> bool:
    config = settings.CONFIG
    header = request.headers.get("Authorization", "")
    if config.metrics_token is not None and header.startswith("Bearer "):
        return constant_time_compare(header[7:], config.metrics_token.get_secret_value())
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(net, strict=False) for net in config.metrics_allowed_networks)


# C0 control characters (and DEL): no address or query of this portal has a use for them.
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


def _has(chars: set[str], text: str) -> bool:
    return any(c in chars for c in text)


class RejectControlCharactersMiddleware:
    """Refuse, at the edge, a path or query carrying a NUL or another control character.

    Nothing behind this point has to cope with them in ids and filters (PostgreSQL refuses NUL in text and
    JSON); the user gets a clear 400, and the refusal is audited with the characters made visible. Form fields
    are the forms' to judge (Django's CharField refuses NUL with a message beside the field, keeping what was
    typed), and the audit log stores no NUL whatever it is given.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = self._where(request)
        if where is None:
            return self.get_response(request)
        record_event(
            action=AuditAction.HTTP_REJECTED,
            outcome=Outcome.DENIED,
            payload={
                "where": where,
                "path": request.path[:200],
                "method": request.method,
                "reason": "control character in the request",
            },
            actor=request.user if getattr(request, "user", None) and request.user.is_authenticated else None,
        )
        message = _(
            "The address contains a character the portal does not accept (a control character such as NUL). "
            "Nothing was done; correct the address and try again."
        )
        if request.path.startswith("/api/"):
            return problem(400, message)
        return render(request, "core/problem.html", {"message": message, "title": _("Bad request")}, status=400)

    @staticmethod
    def _where(request) -> str | None:
        if _has(_CONTROL, request.path):
            return "path"
        for key, values in request.GET.lists():
            if _has(_CONTROL, key) or any(_has(_CONTROL, v) for v in values):
                return "query"
        return None


class ScpDownMiddleware:
    """A page that needed SCP while SCP could not answer: one clear 503 page, whichever view it was, so that
    views need not catch SCP's errors themselves. (The JSON API answers with its own problem details.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, ScpError) and not request.path.startswith("/api/"):
            return render(request, "core/problem.html", {"message": SCP_DOWN}, status=503)
        return None


class BodySizeMiddleware:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before anything reads it: problem details under
    /api/, a page that says what to do elsewhere (Django's own answer is a bare 400, or a 500 where a view reads
    the body itself)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is None or length <= limit:
            return self.get_response(request)
        logger.warning("refused a %d-byte body for %s (the limit is %d)", length, request.path, limit)
        size = {"n": max(1, limit // 1024)}
        if request.path.startswith("/api/"):
            detail = f"The request body is larger than the {size['n']} KiB this API accepts; send less."
            return problem(413, detail, limit_bytes=limit)
        message = _("What you sent is larger than the %(n)d KiB the portal accepts; shorten it and try again.") % size
        return render(request, "core/problem.html", {"message": message, "title": _("Too large")}, status=413)


class NotFoundPageMiddleware:
    """The portal's own 404 page (problem details under /api/) under DEBUG too: Django's technical 404 lists every
    URL pattern, which a user refused a request must not read. DEBUG_TECHNICAL_404 brings Django's back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        unmatched = getattr(request, "resolver_match", None) is None  # no view ran: Django's own answer
        if response.status_code == 404 and unmatched and self._replaces():
            return handler404(request)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404) and self._replaces():
            return handler404(request, exception)  # a view's "not found", with its own words
        return None

    @staticmethod
    def _replaces() -> bool:
        return settings.DEBUG and not settings.CONFIG.debug_technical_404
