"""The image, built and started: migrate, web, worker and scheduler run from it (podman with runc, the host's
network) against this machine's PostgreSQL and the SCP simulator; /readyz, a sign-in, an attach carried out
through the simulator, and the processes' user (not root).

`make test-image` builds the image (its base from Debian's packages, see the Makefile) and runs this file with
PORTAL_IMAGE set; .ci/run runs it after `make test`. Elsewhere it is skipped, saying so.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from tests.production.test_production_mode import _free_port

pytestmark = pytest.mark.image
IMAGE = os.environ.get("PORTAL_IMAGE", "")
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
HTTP_TIMEOUT = 120  # a guard against a hung container, never a measure of speed
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]  # what these machines' runc accepts


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"podman {' '.join(args[:3])}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result


def wait_for(condition, what: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while not (answer := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return answer


@pytest.fixture
def deployment(tmp_path):
    if not IMAGE:
        pytest.skip("the image is built and started by `make test-image` (which .ci/run runs)")
    name = f"portal_image_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    web_port, sim_port = _free_port(), _free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SCP_VIRTUALSERVER_URL": f"{sim}/virtualserver",
        "SCP_VPC_URL": f"{sim}/vpc",
        "SCP_ACCESS_KEY": "image-test-access-key-1",
        "SCP_SECRET_KEY": "image-secret-" + secrets.token_hex(16),
        "EMAIL_BACKEND": "none",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on the loopback: no proxy in front here
        "SESSION_COOKIE_SECURE": "false",
        "APPROVAL_DEFAULT": "auto",
        "DEMO_PASSWORD": "image-" + secrets.token_hex(8),
        "PORTAL_BASE_URL": f"http://127.0.0.1:{web_port}",
        "PORT": str(web_port),
        "BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "WORKER_INTERVAL": "0.2",
        "SCHEDULER_INTERVAL": "1",
        "SIMULATOR_PORT": str(sim_port),
    }
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    tag = uuid.uuid4().hex[:6]
    containers: list[str] = []

    def run(*command: str, detach: str = "") -> subprocess.CompletedProcess:
        where = ["-d", "--name", f"portal-{detach}-{tag}"] if detach else ["--rm"]
        if detach:
            containers.append(f"portal-{detach}-{tag}")
        return podman("run", *where, "--network", "host", *LIMITS, *env_args, IMAGE, *command)

    try:
        run("python", "-m", "portal.run", "simulator", "--control", "--settle-seconds", "0.2", detach="simulator")
        run("python", "-m", "portal.run", "migrate")
        run("python", "manage.py", "seed_demo")
        for process in ("worker", "scheduler", "web"):
            run("python", "-m", "portal.run", process, detach=process)
        yield {"url": f"http://127.0.0.1:{web_port}", "env": env, "tag": tag}
    finally:
        for container in containers:
            podman("rm", "-f", "-t", "10", container, check=False)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_image_runs_the_portal_against_postgresql_and_attaches_through_the_simulator(deployment):
    url, tag = deployment["url"], deployment["tag"]

    def ready():
        try:
            return requests.get(f"{url}/readyz", timeout=HTTP_TIMEOUT).status_code == 200
        except requests.RequestException:
            return False

    wait_for(ready, "/readyz")  # the database, the worker's and the scheduler's heartbeats, SCP
    http = requests.Session()
    http.trust_env = False
    login = http.get(f"{url}/accounts/login/", timeout=HTTP_TIMEOUT)
    csrf = http.cookies["csrftoken"]
    signed_in = http.post(
        f"{url}/accounts/login/",
        data={"username": "web-requester", "password": deployment["env"]["DEMO_PASSWORD"], "csrfmiddlewaretoken": csrf},
        headers={"Referer": login.url},
        timeout=HTTP_TIMEOUT,
    )
    assert signed_in.url.endswith("/servers/"), signed_in.text[:500]
    server = re.search(r'href="/servers/([^/"]+)/">web-01<', signed_in.text).group(1)
    form = http.get(f"{url}/servers/{server}/attach/", timeout=HTTP_TIMEOUT).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    subnet = re.search(r'<option value="([^"]+)"[^>]*>prod-app ', form).group(1)
    data = {
        "mode": "subnet",
        "subnet_id": subnet,
        "justification": "from the image",
        "idempotency_key": key,
        "csrfmiddlewaretoken": http.cookies["csrftoken"],
    }
    headers = {"Referer": f"{url}/servers/{server}/attach/"}
    http.post(f"{url}/servers/{server}/attach/", data={**data, "action": "preview"}, headers=headers)
    page = http.post(f"{url}/servers/{server}/attach/", data={**data, "action": "confirm"}, headers=headers)
    assert re.search(r"/requests/\d+/$", page.url), page.text[:500]

    def succeeded():
        status = re.search(r'id="status">([^<]+)<', http.get(page.url, timeout=HTTP_TIMEOUT).text)
        return status and status.group(1) == "Succeeded"

    wait_for(succeeded, "the attach to succeed")  # the worker container carried it out through the simulator
    for process in ("web", "worker", "scheduler"):
        user = podman("exec", f"portal-{process}-{tag}", "id", "-u").stdout.strip()
        assert user == "10001", f"{process} runs as {user}"
    logs = podman("logs", f"portal-web-{tag}").stdout + podman("logs", f"portal-web-{tag}").stderr
    assert deployment["env"]["SCP_SECRET_KEY"] not in logs
