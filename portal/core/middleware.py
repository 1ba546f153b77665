import ipaddress

from django.conf import settings
from django.http import JsonResponse

from .context import RequestContext, bound, new_correlation_id

MAX_USER_AGENT = 256


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
        )
        request.correlation_id = context.correlation_id
        with bound(context):
            response = self.get_response(request)
        response["X-Correlation-Id"] = context.correlation_id
        return response


class HealthCheckMiddleware:
    """Answer /healthz before host validation, so a container probe on 127.0.0.1 works with any ALLOWED_HOSTS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        return self.get_response(request)
