"""The workers' doorbell: a task due now wakes an idle worker, on SQLite (a Unix socket) and PostgreSQL (NOTIFY).

The worker tests start `manage.py worker` exactly as production does, but polling once an hour: a request it
carries out at once was rung for, since no poll would have found it for an hour.
"""

import os
import socket
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from portal.core.doorbell import Listener, _ring_sockets, _socket_folder, ring
from portal.interfaces.models import InterfaceRequest, Status
from portal.run import worker_command
from tests.interfaces.test_crash import Processes
from tests.interfaces.test_worker import database_url, submit_one


@pytest.fixture
def processes():
    started = Processes({**os.environ, "DATABASE_URL": database_url(), "TASKS_BACKEND": "database"})
    yield started
    started.stop()


def start_idle_worker(processes: Processes, log: Path) -> Path:
    """`manage.py worker --interval 3600` on the test database, waited for until it is idle (its log says so)."""
    worker = processes.start(*worker_command("3600", "--no-startup-delay")[2:], log=log)
    deadline = time.monotonic() + 120
    while " idle: woken by " not in log.read_text():
        assert worker.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the worker never went idle:\n" + log.read_text()[-3000:]
        time.sleep(0.05)
    return log


def _submit_and_wait(world) -> InterfaceRequest:
    request = submit_one(world)
    deadline = time.monotonic() + 120  # (a poll would come after an hour)
    while not request.is_final:
        assert time.monotonic() < deadline, f"not carried out: {request.status} {request.status_reason}"
        time.sleep(0.05)
        request.refresh_from_db()
    return request


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_submitted_elsewhere_wakes_an_idle_worker(sim, world, requester, processes, tmp_path):
    log = start_idle_worker(processes, tmp_path / "worker.log")
    request = _submit_and_wait(world)
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert len(sim.attach_posts()) == 1
    expected = "PostgreSQL LISTEN" if connection.vendor == "postgresql" else "a Unix socket"
    assert f"woken by {expected}, else every 3600s" in log.read_text()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ring_reaches_a_listener_when_its_transaction_commits_and_never_when_it_rolls_back():
    with Listener() as ear:
        assert ear.kind in ("PostgreSQL LISTEN", "a Unix socket")

        class RolledBack(Exception):
            pass

        with pytest.raises(RolledBack), transaction.atomic():
            ring()
            raise RolledBack
        assert not ear.wait(0.3)  # (a weak check on a busy machine, never a false failure)
        with transaction.atomic():
            ring()
            ring()  # twice in one transaction
        assert ear.wait(60)
        assert not ear.wait(0.3)  # the two rang once, or their rest was drained with the first


@pytest.mark.django_db(transaction=True)
def test_a_socket_left_by_a_killed_worker_is_removed_by_the_next_ring(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the Unix-socket doorbell is SQLite's; PostgreSQL's is NOTIFY")
    folder = _socket_folder(connection.settings_dict["NAME"])
    with Listener() as ear:
        stale = folder / "999999999-1"
        dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        dead.bind(str(stale))
        dead.close()  # bound, then gone without removing its file: what SIGKILL leaves
        assert stale.exists()
        _ring_sockets(folder)
        assert not stale.exists()
        assert ear.wait(60)  # the live one heard it
    assert not folder.exists()  # the last one out removed the folder


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_listen_connection_is_cut_listens_again(sim, world, requester, processes, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("cuts a PostgreSQL connection: runs in make test's PostgreSQL pass")

    def listeners() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN portal_tasks'")
            return [row[0] for row in cursor.fetchall()]

    log = start_idle_worker(processes, tmp_path / "worker.log")
    (first,) = listeners()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    deadline = time.monotonic() + 60
    while listeners() in ([], [first]):
        assert time.monotonic() < deadline, "the worker never listened again:\n" + log.read_text()
        time.sleep(0.05)
    request = _submit_and_wait(world)
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert "LISTEN connection lost" in log.read_text()
