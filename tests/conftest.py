"""Shared fixtures: a real simulator process, users in their roles, and a client pointed at the simulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
SIM_PORT = int(os.environ["SIM_PORT"])
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
TEST_SETTLE_SECONDS = 0.2


class SimulatorHandle:
    """Drives the simulator's control endpoints (enabled only in tests)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False

    def reset(self, *, settle_seconds: float = TEST_SETTLE_SECONDS) -> dict:
        return self.http.post(f"{self.url}/_sim/reset", json={"settle_seconds": settle_seconds}, timeout=5).json()

    def requests(self) -> list[dict]:
        return self.http.get(f"{self.url}/_sim/requests", timeout=5).json()["requests"]

    def attach_posts(self) -> list[dict]:
        return [r for r in self.requests() if r["method"] == "POST" and r["path"].endswith("/interfaces")]

    def clear_log(self) -> None:
        self.http.delete(f"{self.url}/_sim/requests", timeout=5)

    def faults(self, **config) -> dict:
        response = self.http.post(f"{self.url}/_sim/faults", json=config, timeout=5)
        response.raise_for_status()
        return response.json()

    def publish_versions(self, **catalogue) -> dict:
        """Serve another version list: virtualserver=[["1.3", "DEPRECATED", "2027-01-31"], ["1.4", "CURRENT", None]]."""
        response = self.http.post(f"{self.url}/_sim/versions", json=catalogue, timeout=5)
        response.raise_for_status()
        return response.json()

    def out_of_band(self, op: str, **fields) -> str:
        """Add, remove or break an interface behind the portal's back; returns the port id."""
        response = self.http.post(f"{self.url}/_sim/interfaces", json={"op": op, **fields}, timeout=5)
        response.raise_for_status()
        return response.json()["port_id"]

    def set_server(self, server_id: str, **changes) -> None:
        self.http.post(f"{self.url}/_sim/servers", json={"server_id": server_id, **changes}, timeout=5)


def _wait_for_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the simulator did not start on port {port}")


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Test users' passwords hashed with MD5, as Django's docs advise for tests: PBKDF2's million rounds cost
    about 0.7 s a user here, which the fixtures that make a whole organisation paid on every test. Processes the
    tests start (the production-mode test, make run's supervisor) keep the real hasher."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def simulator_process():
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "scp_simulator",
            "--port",
            str(SIM_PORT),
            "--control",
            "--settle-seconds",
            str(TEST_SETTLE_SECONDS),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(SIM_PORT)
        yield SimulatorHandle(SIM_URL)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sim(simulator_process) -> SimulatorHandle:
    """The simulator, reset to its deterministic demo world with no faults and an empty request log."""
    simulator_process.reset()
    return simulator_process


@pytest.fixture
def scp(sim):
    """A plain ScpClient (no audit observer) pointed at the simulator."""
    from portal.core.scp import scp_client

    return scp_client(audited=False)


class World:
    """The demo world, looked up by name through the API."""

    def __init__(self, client) -> None:
        self.servers = {s.name: s for s in client.iter_servers()}
        self.subnets = {s.name: s for s in client.iter_subnets()}
        self.ports = {p.name: p for p in client.iter_ports()}

    def spare_port(self, vpc_name: str = "vpc-prod", n: int = 1):
        return self.ports[f"{vpc_name}-spare-{n}"]


@pytest.fixture(scope="session")
def _world(simulator_process) -> World:
    from portal.core.scp import scp_client

    simulator_process.reset()
    return World(scp_client(audited=False))


@pytest.fixture
def world(sim, _world) -> World:
    """The demo world's servers, subnets and ports by name. Ids come from the seed, so every reset keeps them."""
    return _world


def platform_team():
    """One team that owns every server, with the `approver` group as its approvers: the single-team setup most
    tests need. Team scoping has tests of its own (tests/teams)."""
    from django.contrib.auth.models import Group

    from portal.teams.models import ServerOwnership, Team

    team, created = Team.objects.get_or_create(name="platform")
    if created:
        ServerOwnership.objects.create(team=team, kind="name_pattern", value="*")
        team.approver_groups.add(Group.objects.get_or_create(name="approver")[0])
    return team


def _user(django_user_model, username: str, *roles: str, team=None):
    """A user in `roles`: a requester or approver is a member of the platform team, an auditor audits everything."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username=username, password=os.environ["DEMO_PASSWORD"], email=f"{username}@example.com"
    )
    for role in roles:
        if role in ("approver", "auditor"):
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        if role in ("requester", "approver"):
            (team or platform_team()).members.add(user)
    return user


@pytest.fixture
def requester(db, django_user_model):
    return _user(django_user_model, "requester", "requester")


@pytest.fixture
def other_requester(db, django_user_model):
    return _user(django_user_model, "other", "requester")


@pytest.fixture
def approver(db, django_user_model):
    return _user(django_user_model, "approver", "approver")


@pytest.fixture
def second_approver(db, django_user_model):
    return _user(django_user_model, "approver2", "approver")


@pytest.fixture
def auditor(db, django_user_model):
    return _user(django_user_model, "auditor", "auditor")


@pytest.fixture
def requester_client(client, requester):
    client.force_login(requester)
    return client


def _set_audit_triggers(enabled: bool) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    verb = "ENABLE" if enabled else "DISABLE"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE audit_auditevent {verb} TRIGGER audit_event_no_truncate")
        cursor.execute(f"ALTER TABLE audit_auditevent {verb} TRIGGER audit_event_no_update_delete")


@pytest.fixture(autouse=True)
def _audit_triggers_on_during_tests(request):
    """On PostgreSQL the append-only triggers are on during every test; only the test framework's own flush
    after a transactional test (TRUNCATE of every table) is let through."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not marker and not ({"db", "transactional_db", "live_server"} & set(request.fixturenames)):
        yield
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    _set_audit_triggers(True)
    yield
    if transactional:
        _set_audit_triggers(False)


@pytest.fixture(autouse=True)
def _default_language_and_time_zone():
    """A request the test client made leaves its user's language and time zone active in this thread (as it would
    in a server thread until the next request sets its own); each test starts from the defaults."""
    from django.utils import timezone, translation

    yield
    translation.deactivate()
    timezone.deactivate()


@pytest.fixture
def submit(requester, django_capture_on_commit_callbacks):
    """Submit through the service as the requester (or `user`) and run what follows the commit: execution, on the
    tests' immediate task backend. Returns the request as it ended up."""
    import uuid

    from portal.interfaces import services

    def _submit(*, user=None, key=None, justification="Backup network", **params):
        with django_capture_on_commit_callbacks(execute=True):
            request = services.interface_request_submit(
                requester=user or requester,
                idempotency_key=key or uuid.uuid4(),
                justification=justification,
                **params,
            )
        request.refresh_from_db()
        return request

    return _submit
