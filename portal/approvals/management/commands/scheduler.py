"""Enqueue the periodic tasks (expiry, reconciliation, resuming requests whose retry is due, effects whose delivery
was lost) on a fixed interval.

Every tick also records the scheduler's heartbeat and enqueues the worker's (so /readyz knows both are alive),
and once a day (and at start) the task that reads SCP's API version lists.
Running one per machine is fine: the tasks are idempotent (every change is a conditional update).
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.approvals.tasks import expire_requests, reconcile_requests, resume_requests
from portal.audit.tasks import deliver_due_effects, sign_audit_checkpoint, stream_audit_events
from portal.core.health import heartbeat
from portal.core.tasks import scp_versions_refresh, worker_heartbeat
from portal.drift.tasks import drift_scan_task

VERSIONS_INTERVAL = 24 * 3600.0
DRIFT_INTERVAL = 6 * 3600.0
logger = logging.getLogger("portal.scheduler")


class Command(BaseCommand):
    help = "Enqueue expire_requests, reconcile_requests and resume_requests every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=60.0)
        parser.add_argument(
            "--versions-interval",
            type=float,
            default=VERSIONS_INTERVAL,
            help="seconds between reads of SCP's API version lists (default: a day)",
        )
        parser.add_argument(
            "--drift-interval",
            type=float,
            default=DRIFT_INTERVAL,
            help="seconds between drift scans (default: six hours)",
        )

    def handle(self, *args, interval: float, versions_interval: float, drift_interval: float, **options):
        running = True

        def stop(*_):
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        logger.info("scheduler started: expiry, reconciliation and due retries every %g s", interval)
        versions_due = time.monotonic()
        drift_due = time.monotonic() + min(drift_interval, 300.0)  # the first scan a few minutes after start
        checkpoint_due = time.monotonic()
        while running:
            heartbeat("scheduler")
            worker_heartbeat.enqueue()
            if time.monotonic() >= versions_due:
                scp_versions_refresh.enqueue()
                versions_due = time.monotonic() + versions_interval
            if time.monotonic() >= drift_due:
                drift_scan_task.enqueue()
                drift_due = time.monotonic() + drift_interval
            if settings.CONFIG.audit_signing_key_file and time.monotonic() >= checkpoint_due:
                sign_audit_checkpoint.enqueue()
                checkpoint_due = time.monotonic() + settings.CONFIG.audit_checkpoint_interval
            expire_requests.enqueue()
            reconcile_requests.enqueue()
            resume_requests.enqueue()
            deliver_due_effects.enqueue()
            if settings.CONFIG.audit_stream_syslog or settings.CONFIG.audit_stream_http_url:
                stream_audit_events.enqueue()
            deadline = time.monotonic() + interval
            while running and time.monotonic() < deadline:
                time.sleep(0.5)
