"""Execution through the real task worker, configured exactly as `make run` and production configure it."""

import os
import subprocess
import sys

import pytest
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEvent, Effect
from portal.interfaces.models import InterfaceRequest, Status
from portal.run import worker_command
from tests.conftest import ROOT


def database_url() -> str:
    """The URL of the test database this process uses, for a subprocess to open."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def production_like(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run manage.py with the production task settings (the database backend), on the test database."""
    env = {**os.environ, "DATABASE_URL": database_url(), "TASKS_BACKEND": "database"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def work_until_final(request, timeout: float = 60) -> None:
    """What a worker does, one batch at a time (each batch runs the tasks that are due), until `request` ends:
    the execution task, then the follow-ups that look at the port while it settles."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        worker = production_like("db_worker", "--batch", "--queue-name", "*", "--no-startup-delay", "--no-reload")
        assert worker.returncode == 0, worker.stderr[-2000:]
        request.refresh_from_db()
        if request.is_final or time.monotonic() > deadline:
            return
        time.sleep(0.3)


SUBMIT = """
import uuid
from django.contrib.auth import get_user_model
from portal.interfaces.services import interface_request_submit
request = interface_request_submit(
    requester=get_user_model().objects.get(username="requester"), idempotency_key=uuid.uuid4(),
    justification="through the worker", server_id="{server}", mode="subnet", subnet_id="{subnet}",
    fixed_ips=["192.168.10.61"],
)
print(request.pk)
"""


def submit_one(world) -> InterfaceRequest:
    """One attach on web-01 submitted from another process (`manage.py shell`) with the database task backend."""
    script = SUBMIT.format(server=world.servers["web-01"].id, subnet=world.subnets["prod-app"].id)
    submitted = production_like("shell", stdin=script)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    return InterfaceRequest.objects.get(pk=int(submitted.stdout.split()[-1]))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_submission_is_executed_by_db_worker_as_make_run_starts_it(sim, world, requester):
    request = submit_one(world)
    assert request.status == Status.APPROVED  # enqueued, not yet run
    assert sim.attach_posts() == []
    # The same worker command `manage.py run_portal` starts, less the polling: process what is due, then exit.
    work_until_final(request)
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.result["fixed_ips"] == [{"ip_address": "192.168.10.61"}]
    assert len(sim.attach_posts()) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_leaves_nothing_running_forever(sim, world, requester):
    """SIGKILL while the worker waits on SCP: the task row is recovered as failed, the request reconciled."""
    import datetime as dt
    import signal
    import time

    from django_tasks_db.models import DBTaskResult

    from portal.audit.models import AuditEvent
    from portal.core.task_recovery import task_results_recover_abandoned
    from portal.interfaces import services

    request = submit_one(world)
    sim.faults(latency_ms=1200)  # every SCP call is slow: the worker is inside the task when it dies
    env = {**os.environ, "DATABASE_URL": database_url(), "TASKS_BACKEND": "database"}
    worker = subprocess.Popen(
        worker_command("0.05", "--no-startup-delay"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not DBTaskResult.objects.running().exists():
            assert time.monotonic() < deadline, "the worker never started the task"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    sim.faults()
    assert DBTaskResult.objects.running().count() == 1
    assert task_results_recover_abandoned(older_than=dt.timedelta(0)) == 1
    assert not DBTaskResult.objects.running().exists()
    assert AuditEvent.objects.filter(action="task.abandoned").count() == 1
    request.refresh_from_db()
    if request.status == Status.EXECUTING:  # killed after the claim: reconciliation settles it past its lease
        InterfaceRequest.objects.filter(pk=request.pk).update(claimed_at=request.claimed_at - dt.timedelta(days=1))
        services.requests_reconcile_due()
        request.refresh_from_db()  # (killed before its write-ahead: nothing was sent, and it is run again)
    if request.status == Status.APPROVED:  # killed before the claim or the send: the lost task is started again
        services.requests_resume_due(now=timezone.now() + dt.timedelta(days=1))
    request.refresh_from_db()
    assert request.status in (Status.SUCCEEDED, Status.FAILED), (request.status, request.status_reason)
    assert len(sim.attach_posts()) <= 1


SUBMIT_TWO = """
import uuid
from django.contrib.auth import get_user_model
from portal.interfaces.services import interface_request_submit
for server, address in (("{first}", "192.168.10.61"), ("{second}", "192.168.10.62")):
    request = interface_request_submit(
        requester=get_user_model().objects.get(username="requester"), idempotency_key=uuid.uuid4(),
        justification="through the worker", server_id=server, mode="subnet", subnet_id="{subnet}",
        fixed_ips=[address],
    )
    print(request.pk)
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_polling_does_not_hold_the_worker_while_other_work_waits(sim, world, requester):
    """With another task waiting, the execution ends right after the POST; follow-up tasks, run later, settle the
    request."""
    from django_tasks_db.models import DBTaskResult

    sim.reset(settle_seconds=1.0)  # the port stays BUILD for a second after the POST
    script = SUBMIT_TWO.format(
        first=world.servers["web-01"].id, second=world.servers["app-02"].id, subnet=world.subnets["prod-app"].id
    )
    submitted = production_like("shell", stdin=script)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    first, second = (InterfaceRequest.objects.get(pk=int(pk)) for pk in submitted.stdout.split()[-2:])
    work_until_final(first)
    work_until_final(second)
    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED), (
        first.status_reason,
        second.status_reason,
    )
    assert first.result["port_state"] == "ACTIVE" and len(sim.attach_posts()) == 2
    follow_ups = DBTaskResult.objects.filter(task_path__endswith="follow_up_interface_request")
    assert follow_ups.count() >= 1
    assert "succeeded" in follow_ups.values_list("return_value", flat=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_with_nothing_else_waiting_the_worker_settles_the_attach_in_place(sim, world, requester):
    """A lone attach costs no follow-up task pickups: the worker looks at the port itself while its queue is
    empty (and would hand over the moment a task came in)."""
    from django_tasks_db.models import DBTaskResult

    sim.reset(settle_seconds=1.0)
    request = submit_one(world)
    work_until_final(request)
    assert request.status == Status.SUCCEEDED and request.result["port_state"] == "ACTIVE"
    # The execution ran in the delivery of its start effect, and settled the request before that ended.
    start = Effect.objects.get(interface_request_id=request.pk, kind="interfaces.start_execution")
    deliveries = DBTaskResult.objects.filter(task_path__endswith="deliver_effect")
    (delivery,) = [d for d in deliveries if d.args_kwargs["args"] == [start.pk]]
    succeeded = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.succeeded")
    assert delivery.return_value == "delivered" and delivery.finished_at >= succeeded.created_at
    assert not DBTaskResult.objects.filter(task_path__endswith="follow_up_interface_request").exists()
    # The mail written with the approval went after the write it announces, once, while the port settled.
    (sent_at,) = _approval_mails(request)
    intent = AuditEvent.objects.get(interface_request_id=request.pk, action="scp.attach.intent")
    assert sent_at > intent.created_at


def _approval_mails(request) -> list:
    from portal.core.models import MailSent

    mails = Effect.objects.filter(interface_request_id=request.pk, kind="approvals.notify_requester")
    approved = mails.earliest("pk")  # (the result's mail comes later)
    assert approved.args == {"about": "auto"} and approved.delivered_at is not None
    return list(MailSent.objects.filter(key=f"effect:{approved.pk}").values_list("sent_at", flat=True))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_approval_mail_waits_for_a_slow_port_only_a_few_seconds(sim, world, requester):
    """The mail written with the approval waits while the port settles, for OWN_EFFECTS_WAIT_SECONDS at most: then
    the execution delivers it itself and goes on waiting in place (its queued delivery finds it delivered)."""
    from django_tasks_db.models import DBTaskResult

    from portal.interfaces.operations.base import OWN_EFFECTS_WAIT_SECONDS

    sim.reset(settle_seconds=OWN_EFFECTS_WAIT_SECONDS + 2)
    request = submit_one(world)
    work_until_final(request)
    assert request.status == Status.SUCCEEDED and request.result["port_state"] == "ACTIVE"
    (sent_at,) = _approval_mails(request)
    succeeded = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.succeeded")
    intent = AuditEvent.objects.get(interface_request_id=request.pk, action="scp.attach.intent")
    assert intent.created_at < sent_at < succeeded.created_at
    assert not DBTaskResult.objects.filter(task_path__endswith="follow_up_interface_request").exists()


SUBMIT_DETACH = """
import uuid
from django.contrib.auth import get_user_model
from portal.interfaces.services import detach_request_submit
request = detach_request_submit(
    requester=get_user_model().objects.get(username="requester"), idempotency_key=uuid.uuid4(),
    justification="retire it", server_id="{server}", port_id="{port}",
)
print(request.pk)
"""


@pytest.mark.django_db(transaction=True)
def test_a_slow_detach_lets_its_approval_mail_go_while_the_interface_leaves(sim, world, requester, scp):
    """A detach lets go of the worker after its DELETE (follow-up looks wait for the interface to leave), so the
    approval's mail, delivered after the start of the execution, goes after the DELETE and long before the end."""
    import time

    from portal.interfaces.operations.base import OWN_EFFECTS_WAIT_SECONDS
    from portal.scp import schemas

    sim.reset(settle_seconds=OWN_EFFECTS_WAIT_SECONDS + 2)  # BUILD, and later DELETING, last that long
    server = world.servers["web-01"].id
    made = scp.attach_interface(server, schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-db"].id))
    deadline = time.monotonic() + 60
    while scp.get_server_interface(server, made.port_id).port_state != "ACTIVE":
        assert time.monotonic() < deadline, "the attached port never became ACTIVE"
        time.sleep(0.2)
    submitted = production_like("shell", stdin=SUBMIT_DETACH.format(server=server, port=made.port_id))
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    request = InterfaceRequest.objects.get(pk=int(submitted.stdout.split()[-1]))
    work_until_final(request)
    assert request.status == Status.SUCCEEDED and request.result["gone"] is True, request.status_reason
    (sent_at,) = _approval_mails(request)
    intent = AuditEvent.objects.get(interface_request_id=request.pk, action="scp.detach.intent")
    succeeded = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.succeeded")
    assert intent.created_at < sent_at < succeeded.created_at
