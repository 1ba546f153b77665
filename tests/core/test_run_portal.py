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
        for name in ("scp_simulator", "worker", "scheduler", "runserver"):
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
        os.kill(first["worker"], signal.SIGKILL)

        def replaced():
            found = children(portal.pid)
            return found if found.get("worker", first["worker"]) != first["worker"] else None

        second = wait_for(replaced)
        assert second["worker"] != first["worker"] and portal.poll() is None
        assert "worker exited with -9; starting it again" in (tmp_path / "run_portal.log").read_text()
    finally:
        portal.send_signal(signal.SIGTERM)
        portal.wait(timeout=30)
        log.close()
    for pid in second.values():
        wait_for(lambda pid=pid: subprocess.run(["ps", "-p", str(pid)], capture_output=True).returncode != 0, 15)


@pytest.mark.django_db(transaction=True)
def test_sso_1_starts_the_bundled_idp_whose_demo_users_sign_in_to_their_teams(tmp_path):
    """`make run SSO=1`: run_portal --idp starts the test IdP with tests/idp/demo-users.json, seed_demo maps their
    groups; a demo user signs in to their team's servers, an unmapped one is told which groups the IdP sent."""
    import requests

    from tests.idp import Idp, _node

    _node()  # the test IdP must be installed (make test installs it)
    sim_port, web_port, idp_port = _free_port(), _free_port(), _free_port()
    portal_url = f"http://127.0.0.1:{web_port}"
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "database",
        "SCP_VIRTUALSERVER_URL": f"http://127.0.0.1:{sim_port}/virtualserver",
        "SCP_VPC_URL": f"http://127.0.0.1:{sim_port}/vpc",
        "OIDC_ISSUER": f"http://127.0.0.1:{idp_port}",
        "OIDC_CLIENT_ID": "portal",
        "OIDC_CLIENT_SECRET": "dev-idp-client-secret-not-for-production",
    }
    subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = (tmp_path / "run_portal.log").open("w")
    portal = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal", "--addr", f"127.0.0.1:{web_port}", "--idp"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    idp = Idp(env["OIDC_ISSUER"], tmp_path / "unused.json", tmp_path / "unused-mischief.json")

    def answers(url):
        try:
            return requests.get(url, timeout=5).status_code < 500
        except requests.RequestException:
            return False

    def signed_in(username: str) -> requests.Session:
        browser = requests.Session()
        browser.trust_env = False
        start = browser.get(f"{portal_url}/oidc/authenticate/", allow_redirects=False, timeout=30)
        browser.last = browser.get(idp.sign_in(start.headers["Location"], username), timeout=30)
        return browser

    try:
        wait_for(lambda: answers(f"{portal_url}/healthz") and answers(f"{idp.url}/.well-known/openid-configuration"))
        requester = signed_in("sso-web-requester")
        assert requester.last.status_code == 200 and requester.last.url.startswith(portal_url)
        servers = requester.get(f"{portal_url}/servers/", timeout=30).text
        assert "web-01" in servers and "app-02" not in servers
        outsider = signed_in("sso-outsider")
        assert outsider.last.status_code == 403
        assert "<code>marketing</code>" in outsider.last.text and "<code>everyone</code>" in outsider.last.text
        assert "sso-web-requester" in (tmp_path / "run_portal.log").read_text()  # the banner says who to be
    finally:
        portal.send_signal(signal.SIGTERM)
        portal.wait(timeout=30)
        log.close()
    wait_for(lambda: not answers(f"{idp.url}/.well-known/openid-configuration"), 15)
