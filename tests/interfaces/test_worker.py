"""Execution through the real task worker: django-tasks-db's db_worker in its own process."""

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from portal.interfaces import services
from portal.interfaces.models import Status
from tests.conftest import ROOT


def database_url() -> str:
    """The URL of the test database this process uses, for a subprocess to open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def run_worker(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--backend", "database", "--queue-name", "*",
         "--no-startup-delay", "--no-reload"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": database_url(), "TASKS_BACKEND": "database", **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_submission_is_executed_by_the_real_worker(sim, world, requester, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"tasks_backend": "database"})
    request = services.interface_request_submit(
        requester=requester, idempotency_key=uuid.uuid4(), justification="through the worker",
        server_id=world.servers["web-01"].id, mode="subnet", subnet_id=world.subnets["prod-app"].id,
        fixed_ips=["192.168.10.61"],
    )  # fmt: skip
    request.refresh_from_db()
    assert request.status == Status.APPROVED  # enqueued, not yet run
    assert sim.attach_posts() == []
    result = run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.result["fixed_ips"] == [{"ip_address": "192.168.10.61"}]
    assert len(sim.attach_posts()) == 1
