"""Enqueue the periodic tasks (expiry, reconciliation, resuming requests whose retry is due) on a fixed interval.

Running one per machine is fine: the tasks are idempotent (every change is a conditional update).
"""

import signal
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Enqueue expire_requests, reconcile_requests and resume_requests every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, interval: float, **options):
        from portal.approvals.tasks import expire_requests, reconcile_requests, resume_requests

        running = True

        def stop(*_):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Scheduler: expiry, reconciliation and due retries every {interval:g} s")
        while running:
            expire_requests.enqueue()
            reconcile_requests.enqueue()
            resume_requests.enqueue()
            deadline = time.monotonic() + interval
            while running and time.monotonic() < deadline:
                time.sleep(0.5)
