"""Keep the list of a user's sessions in step with sign-in and sign-out."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from .sessions import session_forget, session_started


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_started(request=request, user=user)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_forget(request.session.session_key)
