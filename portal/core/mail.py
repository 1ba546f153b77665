"""Sending the portal's notifications, and EMAIL_BACKEND=none (a deployment that chose to run without email)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event

from .models import MailSent

logger = logging.getLogger(__name__)


class DisabledEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        return 0


def send_notification(
    subject: str, body: str, recipients: list[str], *, request_id: int | None = None, once_key: str = ""
) -> None:
    """Mail `recipients`; a failure is logged and audited.

    With `once_key` (an outbox effect's), a recipient already mailed under that key is skipped, and a failure
    raises so that the outbox tries again later; without it a failure is never raised into what sent it.
    """
    recipients = sorted({r for r in recipients if r})
    if once_key:
        sent = set(MailSent.objects.filter(key=once_key, recipient__in=recipients).values_list("recipient", flat=True))
        recipients = [r for r in recipients if r not in sent]
    if not recipients or not settings.CONFIG.email_enabled:
        return
    # Server names come from SCP: a line break in one must not end up in (and break) a mail header.
    subject = " ".join("".join(c if c.isprintable() else " " for c in subject).split())[:200]
    try:
        send_mail(subject, body, None, recipients)
    except Exception as exc:  # any mail failure is logged and audited
        logger.exception("could not send %r to %d recipient(s)", subject, len(recipients))
        record_event(
            action=AuditAction.NOTIFICATION_FAILED,
            outcome=Outcome.FAILURE,
            payload={"subject": subject, "recipients": len(recipients), "error": type(exc).__name__},
            interface_request_id=request_id,
        )
        if once_key:
            raise
        return
    if once_key:
        now = timezone.now()
        MailSent.objects.bulk_create(
            [MailSent(key=once_key, recipient=r, sent_at=now) for r in recipients], ignore_conflicts=True
        )
