"""A process killed between a transition's commit and its effects loses nothing, and repeats nothing.

Each portal process here is a real one on the test database with the database task backend, as in production:
a web process (a `manage.py shell` making the same service call a view makes) that SIGKILLs itself right after
its commit (CRASH_POINTS=effect.committed), and a db_worker that SIGKILLs itself after running an effect's handler
but before marking it delivered (CRASH_POINTS=effect.handled). Then fresh workers and the scheduler's sweep
finish the work. The truth: the simulator's own log of POSTs, the audit log's claims, and the mails that reached a
real SMTP server.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from email import message_from_string

import pytest
from aiosmtpd.controller import Controller

from portal.audit.models import AuditEvent, Effect
from portal.interfaces.models import InterfaceRequest, Status
from portal.run import worker_command
from tests.conftest import ROOT
from tests.interfaces.test_worker import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SUBMIT = """
import os, uuid
from django.contrib.auth import get_user_model
from portal.interfaces import services
user = get_user_model().objects.get(username=os.environ["REQUESTER"])
request = services.interface_request_submit(requester=user, idempotency_key=uuid.UUID(os.environ["KEY"]),
    justification="crash test", server_id=os.environ["SERVER"], mode="subnet", subnet_id=os.environ["SUBNET"])
print(request.pk)
"""

APPROVE = """
import os
from django.contrib.auth import get_user_model
from portal.interfaces.services.decisions import request_decide
from portal.interfaces.models import InterfaceRequest
user = get_user_model().objects.get(username=os.environ["APPROVER"])
request = InterfaceRequest.objects.get(pk=int(os.environ["REQUEST"]))
request_decide(request=request, user=user, approve=True, comment="ok", parameters_digest=request.parameters_digest)
"""


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        subject = message_from_string(envelope.content.decode("utf-8", "replace"))["Subject"]
        self.messages.extend((recipient, subject) for recipient in envelope.rcpt_tos)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox():
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    yield box, smtp.port
    smtp.stop()


@pytest.fixture
def portal_env(mailbox):
    _, port = mailbox
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "CRASH_"))}
    return {
        **base,
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "database",
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EFFECT_LEASE_SECONDS": "2",  # a delivery whose worker died is delivered again after 2 s
    }


def _shell(env: dict, script: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Processes:
    """Workers and a scheduler started by a test, stopped (with their connections) before it ends."""

    def __init__(self, env: dict) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start(self, *args: str, log=None, **extra: str) -> subprocess.Popen:
        """`manage.py *args`; its output goes to the file `log` (a path) when one is given."""
        with open(log or os.devnull, "w") as output:  # (the child keeps its own copy)
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "manage.py", *args],
                cwd=ROOT,
                env={**self.env, **extra},
                stdout=output,
                stderr=output,
            )
        self.running.append(process)
        return process

    def worker(self, **extra: str) -> subprocess.Popen:
        return self.start(*worker_command("0.05")[2:], **extra)

    def scheduler(self) -> subprocess.Popen:
        return self.start("scheduler", "--interval", "1")

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def processes(portal_env):
    started = Processes(portal_env)
    yield started
    started.stop()


def _wait(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _all_delivered() -> bool:
    return not Effect.objects.filter(delivered_at=None).exists()


def _settled(request_id: int) -> bool:
    return InterfaceRequest.objects.get(pk=request_id).status == Status.SUCCEEDED and _all_delivered()


def _mails(mailbox, recipient: str) -> list[str]:
    box, _ = mailbox
    return sorted(subject for to, subject in box.messages if to == recipient)


def _submit(env, world, requester, **extra) -> int:
    done = _shell(
        env,
        SUBMIT,
        REQUESTER=requester.username,
        KEY=str(uuid.uuid4()),
        SERVER=world.servers["web-01"].id,
        SUBNET=world.subnets["prod-db"].id,
        **extra,
    )
    return done


def _exactly_once(sim, request_id: int) -> None:
    posts = sim.attach_posts()
    assert len(posts) == 1, json.dumps(posts)[:2000]
    claims = AuditEvent.objects.filter(interface_request_id=request_id, action="interface_request.claimed")
    assert claims.count() == 1


def test_a_web_process_killed_right_after_an_approval_commits_still_executes_once_and_mails_once(
    sim, world, requester, approver, settings, portal_env, processes, mailbox
):
    env = {**portal_env, "APPROVAL_DEFAULT": "approver"}
    submitted = _submit(env, world, requester)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    request_id = int(submitted.stdout.strip().splitlines()[-1])
    processes.worker(APPROVAL_DEFAULT="approver")  # delivers the mail to the approvers
    _wait(_all_delivered, "the approvers' mail")

    approved = _shell(
        env, APPROVE, APPROVER=approver.username, REQUEST=str(request_id), CRASH_POINTS="effect.committed"
    )
    assert approved.returncode == -signal.SIGKILL, approved.stderr[-2000:]  # killed after the commit, as promised
    assert InterfaceRequest.objects.get(pk=request_id).status in (Status.APPROVED, Status.EXECUTING, Status.SUCCEEDED)

    _wait(lambda: _settled(request_id), "the execution and its mails")
    _exactly_once(sim, request_id)
    assert _mails(mailbox, approver.email) == [f"Approval needed: interface for web-01 (request {request_id})"]
    assert _mails(mailbox, requester.email) == [f"Request {request_id} approved", f"Request {request_id}: succeeded"]


def test_a_web_process_killed_right_after_a_submission_commits_still_executes_once(
    sim, world, requester, portal_env, processes, mailbox
):
    submitted = _submit(portal_env, world, requester, APPROVAL_DEFAULT="auto", CRASH_POINTS="effect.committed")
    assert submitted.returncode == -signal.SIGKILL, submitted.stderr[-2000:]
    request = InterfaceRequest.objects.get()  # committed before the process died
    assert request.status == Status.APPROVED

    processes.worker()
    _wait(lambda: _settled(request.pk), "the execution and its mails")
    _exactly_once(sim, request.pk)
    assert _mails(mailbox, requester.email) == [f"Request {request.pk} approved", f"Request {request.pk}: succeeded"]


def test_a_worker_killed_after_an_effect_ran_is_repeated_harmlessly(
    sim, world, requester, approver, portal_env, processes, mailbox
):
    env = {**portal_env, "APPROVAL_DEFAULT": "approver"}
    submitted = _submit(env, world, requester)
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    request_id = int(submitted.stdout.strip().splitlines()[-1])
    approved = _shell(env, APPROVE, APPROVER=approver.username, REQUEST=str(request_id))
    assert approved.returncode == 0, approved.stderr[-2000:]
    assert Effect.objects.filter(delivered_at=None).count() == 3  # the approvers' mail, the start, the approval mail

    crashing = processes.worker(APPROVAL_DEFAULT="approver", CRASH_POINTS="effect.handled")
    assert crashing.wait(timeout=120) == -signal.SIGKILL  # it ran one effect's handler, then died before marking it
    # (the start of the execution goes first: it carried the request out, writing its mail, before dying)
    assert not Effect.objects.exclude(delivered_at=None).exists()
    handled = Effect.objects.filter(delivered_at=None, attempts=1).count()
    assert handled >= 1

    processes.worker(APPROVAL_DEFAULT="approver")
    processes.scheduler()  # its sweep delivers the effect whose worker died, once the 2 s lease is over
    _wait(lambda: _settled(request_id), "the execution and every effect")
    _exactly_once(sim, request_id)
    assert Effect.objects.filter(attempts__gte=2).exists()  # one effect was delivered twice
    assert _mails(mailbox, approver.email) == []  # decided before its mail went out: nobody is asked to decide it
    assert _mails(mailbox, requester.email) == [f"Request {request_id} approved", f"Request {request_id}: succeeded"]
