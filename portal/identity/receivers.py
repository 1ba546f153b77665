"""Keep the list of a user's sessions in step with sign-in and sign-out, and end a deactivated user's access."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .revocation import access_revoke
from .sessions import session_forget, session_started


@receiver(user_logged_in)
def _signed_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_started(request=request, user=user)


@receiver(user_logged_out)
def _signed_out(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        session_forget(request.session.session_key)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _note_deactivation(sender, instance, **kwargs):
    """Whether this save turns an active account off (read before it is written)."""
    instance._portal_deactivated = (
        not instance.is_active
        and instance.pk is not None
        and sender._default_manager.filter(pk=instance.pk, is_active=True).exists()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _deactivated(sender, instance, created, **kwargs):
    """A deactivated account loses every session and API token at once (it keeps its roles for a reactivation)."""
    if getattr(instance, "_portal_deactivated", False):
        instance._portal_deactivated = False
        access_revoke(user=instance, reason="account deactivated", clear_grants=False)
