"""The portal's task worker: django-tasks-db's `db_worker`, woken by the doorbell (portal.core.doorbell).

Same options as `db_worker`. Idle, it waits for a ring for up to `--interval` seconds instead of sleeping that
long: a task due now (an approved request's start, a mail) starts within milliseconds, and the interval is only
how late a task due later (a follow-up look, a retry after backoff) or a lost ring may start.
"""

from __future__ import annotations

import logging
import random
import time

from django.db import close_old_connections
from django.db.utils import OperationalError
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from portal.core.doorbell import Listener

logger = logging.getLogger(__name__)


class Worker(db_worker.Worker):
    def run(self) -> None:
        if self.batch or self.max_tasks is not None:
            return super().run()  # (one batch, or a number of tasks: the loop below never waits long anyway)
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 (as db_worker does: workers started together spread out)
        with Listener() as doorbell:
            idle_before = False
            while self.running:
                close_old_connections()  # (expired connections, as db_worker does after each wake-up)
                task_result = self._claim_next()
                if task_result is not None:
                    self.run_task(task_result)
                    continue
                close_old_connections()
                if not idle_before:  # (the tests wait for this line: from here on, only a ring or the interval)
                    idle_before = True
                    by = doorbell.kind or "nothing"
                    logger.info("worker %s idle: woken by %s, else every %gs", self.worker_id, by, self.interval)
                if self.running:
                    doorbell.wait(self.interval)
        return None

    def _claim_next(self) -> DBTaskResult | None:
        """The next due task, claimed for this worker (None: nothing is due, or SQLite is busy for a moment)."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
                return task_result
            except OperationalError as exc:
                if is_locked_database_exception(exc):
                    return None
                raise


class Command(db_worker.Command):
    help = "Run the portal's task worker: db_worker, woken when a task is due instead of polling for it."

    def handle(self, *args, **options) -> None:
        # db_worker's command builds its module's Worker: this one, for as long as the command runs.
        original, db_worker.Worker = db_worker.Worker, Worker
        try:
            super().handle(*args, **options)
        finally:
            db_worker.Worker = original
