"""Sign-in events come from Django's auth signals and django-axes' lock-out signal: the only hooks for them."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.audit.events import AuditAction

from .models import Outcome
from .refusals import refusal_counted
from .services import record_event

MAX_USERNAME = 150


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record_event(action=AuditAction.LOGIN, outcome=Outcome.SUCCESS, actor=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record_event(action=AuditAction.LOGOUT, outcome=Outcome.SUCCESS, actor=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` has the password already replaced by Django's cleanse; keep only the name tried.
    if "nonce" in credentials:  # a refused single sign-on: its own event (auth.sso_refused) says why
        return
    username = str(credentials.get("username", ""))[:MAX_USERNAME]
    payload = {"username": username}
    if getattr(request, "axes_locked_out", False):  # beyond the lock-out: counted per address, not each recorded
        refusal_counted(AuditAction.LOGIN_FAILED, source=_address(request), payload={**payload, "locked_out": True})
        return
    record_event(action=AuditAction.LOGIN_FAILED, outcome=Outcome.FAILURE, payload=payload)


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    refusal_counted(  # once per address and window, with the count of the others
        AuditAction.LOCKED_OUT,
        source=ip_address,
        kind=str(username or "")[:64],
        payload={
            "username": str(username or "")[:MAX_USERNAME],
            "address": ip_address,
            "failures": getattr(request, "axes_failures_since_start", None),
        },
    )


def _address(request) -> str | None:
    return getattr(request, "axes_ip_address", None) or (request.META.get("REMOTE_ADDR") if request else None)
