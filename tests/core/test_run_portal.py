"""`make run`'s supervisor: a child that dies is started again; stopping the supervisor stops every child."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.idp import _free_port
from tests.interfaces.test_worker import database_url


def children(pid: int) -> dict[str, int]:
    listing = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    found = {}
    for line in listing.splitlines():
        child, _, args = line.strip().partition(" ")
        for name in ("scp_simulator", "db_worker", "scheduler", "runserver"):
            if f"manage.py {name}" in args:
                found[name] = int(child)
    return found


def wait_for(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return result


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_is_started_again_and_everything_stops_together(tmp_path):
    sim_port, web_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "database",
        "SCP_VIRTUALSERVER_URL": f"http://127.0.0.1:{sim_port}/virtualserver",
        "SCP_VPC_URL": f"http://127.0.0.1:{sim_port}/vpc",
    }
    log = (tmp_path / "run_portal.log").open("w")
    portal = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal", "--addr", f"127.0.0.1:{web_port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def all_four():
            found = children(portal.pid)
            return found if len(found) == 4 else None

        first = wait_for(all_four)
        os.kill(first["db_worker"], signal.SIGKILL)

        def replaced():
            found = children(portal.pid)
            return found if found.get("db_worker", first["db_worker"]) != first["db_worker"] else None

        second = wait_for(replaced)
        assert second["db_worker"] != first["db_worker"] and portal.poll() is None
        assert "worker exited with -9; starting it again" in (tmp_path / "run_portal.log").read_text()
    finally:
        portal.send_signal(signal.SIGTERM)
        portal.wait(timeout=30)
        log.close()
    for pid in second.values():
        wait_for(lambda pid=pid: subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode != 0, 15)
