"""EMAIL_BACKEND=none: a deployment that chose to run without email (notifications are skipped, not queued)."""

from django.core.mail.backends.base import BaseEmailBackend


class DisabledEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        return 0
