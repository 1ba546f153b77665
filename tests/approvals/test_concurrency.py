"""Two approvers at the same moment, two workers running: every request is executed exactly once."""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status
from portal.run import worker_command
from tests.conftest import ROOT
from tests.interfaces.test_worker import database_url

REQUESTS = 20

APPROVER = """
import json, os, time
from django.contrib.auth import get_user_model
from portal.interfaces.services.decisions import request_decide
from portal.interfaces.errors import NotAllowed
from portal.interfaces.models import InterfaceRequest
from portal.interfaces.services import enqueue_execution
user = get_user_model().objects.get(username=os.environ["APPROVER_NAME"])
outcomes = {}
for request_id, at in json.loads(os.environ["SCHEDULE"]):
    request = InterfaceRequest.objects.get(pk=request_id)
    time.sleep(max(0.0, at - time.time()))
    try:
        request_decide(request=request, user=user, approve=True, comment="ok",
                       parameters_digest=request.parameters_digest)
        outcomes[request_id] = "approved"
    except NotAllowed:
        outcomes[request_id] = "refused"
    enqueue_execution(request_id=request_id)  # a duplicate delivery, so both workers race for the claim
print(json.dumps(outcomes))
"""


def production_env(**extra):
    return {**os.environ, "DATABASE_URL": database_url(), "TASKS_BACKEND": "database", **extra}


def race_approvers(
    usernames: list[str], requests, *, workers: int, until=(Status.SUCCEEDED, Status.FAILED), timeout: float = 60
) -> list[dict]:
    """Each user approves every request from a process of their own, all at the same moments, while `workers`
    db_worker processes run; returns each approver's outcomes once every request is in one of `until`."""
    start = time.time() + 4.0  # every approver process is up by then
    schedule = json.dumps([(r.pk, start + 0.25 * i) for i, r in enumerate(requests)])
    worker_cmd = worker_command("0.05", "--no-startup-delay")
    running = [
        subprocess.Popen(
            worker_cmd, cwd=ROOT, env=production_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    try:
        approvers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "shell", "-c", APPROVER],
                cwd=ROOT,
                env=production_env(APPROVER_NAME=name, SCHEDULE=schedule),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name in usernames
        ]
        outcomes = []
        for process in approvers:
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-2000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
        deadline = time.monotonic() + timeout
        while InterfaceRequest.objects.exclude(status__in=until).exists():
            assert time.monotonic() < deadline, "requests did not finish"
            time.sleep(0.2)
    finally:
        for worker in running:
            worker.terminate()
            worker.wait(timeout=15)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_and_two_workers_execute_each_request_exactly_once(
    sim, world, requester, approver, second_approver, settings
):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    servers = [world.servers[n].id for n in ("web-01", "app-02", "web-10", "app-05")]
    requests = [
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification=f"race {i}",
            server_id=servers[i % 4],
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
        )
        for i in range(REQUESTS)
    ]
    assert {r.status for r in requests} == {Status.PENDING_APPROVAL}
    outcomes = race_approvers([approver.username, second_approver.username], requests, workers=2)
    for request in requests:
        decisions = sorted(o[str(request.pk)] for o in outcomes)
        assert decisions == ["approved", "refused"], (request.pk, decisions)
        assert (
            AuditEvent.objects.filter(interface_request_id=request.pk, action="interface_request.claimed").count() == 1
        )
    assert set(InterfaceRequest.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert len(sim.attach_posts()) == REQUESTS  # exactly one POST per request
    ports = list(InterfaceRequest.objects.values_list("result_port_id", flat=True))
    assert len(set(ports)) == REQUESTS
