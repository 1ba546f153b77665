"""Sign-in events come from Django's auth signals and django-axes' lock-out signal: the only hooks for them."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.audit.events import AuditAction

from .models import Outcome
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
    username = str(credentials.get("username", ""))[:MAX_USERNAME]
    record_event(action=AuditAction.LOGIN_FAILED, outcome=Outcome.FAILURE, payload={"username": username})


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    record_event(
        action=AuditAction.LOCKED_OUT,
        outcome=Outcome.DENIED,
        payload={
            "username": str(username or "")[:MAX_USERNAME],
            "address": ip_address,
            "failures": getattr(request, "axes_failures_since_start", None),
        },
    )
