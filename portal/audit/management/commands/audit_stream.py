"""Deliver the audit log's SIEM streams now (the scheduler does it every tick), or show where they stand."""

from django.core.management.base import BaseCommand

from portal.audit.streams import stream_states, streams_deliver


class Command(BaseCommand):
    help = (
        "Send each configured SIEM stream (AUDIT_STREAM_SYSLOG, AUDIT_STREAM_HTTP_URL) the events its receiver has "
        "not taken yet, as OCSF JSON; --status only shows where each stands."
    )

    def add_arguments(self, parser):
        parser.add_argument("--status", action="store_true", help="show each stream's cursor, lag and last error")

    def handle(self, *args, status=False, **options):
        if not status:
            for name, taken in streams_deliver().items():
                self.stdout.write(f"{name}: {taken} event(s) taken")
        states = stream_states()
        if not states:
            self.stdout.write("No stream is configured (AUDIT_STREAM_SYSLOG, AUDIT_STREAM_HTTP_URL).")
        for state in states:
            since = state["failing_since"]
            failing = f", failing since {since:%Y-%m-%d %H:%M:%S} UTC: {state['last_error']}" if since else ""
            self.stdout.write(
                f"{state['name']} ({state['receiver']}): through event {state['seq']}, {state['lag']} behind{failing}"
            )
