"""The portal started exactly as it is deployed, and used over HTTP as a browser would.

Production settings (DEBUG off, a real SMTP server, HTTPS behind a proxy, secrets of its own), a fresh PostgreSQL
database, and the processes the Dockerfile and compose.yaml start, by the same commands (portal/run.py):
collectstatic, migrate, check --deploy, gunicorn, db_worker, scheduler, and the simulator as SCP. Then a
requester attaches, an approver approves, the worker carries it out, and the logs, pages and audit log are
searched for the SCP secret and the request signatures.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from portal.run import stop

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = pytest.mark.postgres
PROCESSES = ("simulator", "worker", "scheduler", "web")
PORTAL_PROCESSES = ("worker", "scheduler", "web")

# A guard against a hung process, never a measure of speed: a busy machine may take many seconds to answer.
HTTP_TIMEOUT = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@dataclass
class Deployment:
    url: str
    env: dict[str, str]
    logs: Path
    database_url: str
    mailbox: Mailbox
    check_output: str
    pages: list[str] = field(default_factory=list)

    def session(self) -> requests.Session:
        """A client behind the TLS-terminating proxy: X-Forwarded-Proto https, so the portal's cookies are Secure
        (and sent back by hand below: the plain-HTTP hop to gunicorn is the proxy's, as in production)."""
        http = requests.Session()
        http.trust_env = False
        http.headers["X-Forwarded-Proto"] = "https"
        return http

    @staticmethod
    def _cookies(http: requests.Session) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)} if http.cookies else {}

    def get(self, http: requests.Session, path: str, **kwargs) -> requests.Response:
        response = http.get(
            self.url + path, allow_redirects=False, timeout=HTTP_TIMEOUT, headers=self._cookies(http), **kwargs
        )
        self.pages.append(response.text)
        return response

    def post(self, http: requests.Session, path: str, data: dict, **kwargs) -> requests.Response:
        data = {"csrfmiddlewaretoken": http.cookies.get("csrftoken", ""), **data}
        headers = {"Referer": f"https://{urlsplit(self.url).netloc}{path}", **self._cookies(http)}
        response = http.post(
            self.url + path, data=data, headers=headers, allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs
        )
        self.pages.append(response.text)
        return response


def _run(name: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "portal.run", name, *extra],
        cwd=ROOT,
        env=env,  # noqa: S603
        capture_output=True,
        text=True,
        timeout=300,
    )


def _wait_ready(url: str, processes: dict, logs: Path, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{(logs / f'{name}.log').read_text()[-3000:]}")
        try:
            response = requests.get(f"{url}/readyz", timeout=HTTP_TIMEOUT)
            last = response.json()
            if response.status_code == 200:
                return last
        except (requests.RequestException, ValueError):  # not up yet, or slow on a busy machine: look again
            pass
        time.sleep(0.5)
    pytest.fail(f"the portal did not become ready: {last}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith("postgres"):
        pytest.skip("the production-mode test runs in the PostgreSQL pass (make test runs it there)")
    name = f"portal_prod_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base_url)
    database_url = urlunsplit(parts._replace(path=f"/{name}"))
    logs = tmp_path_factory.mktemp("production")
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    web_port, sim_port = _free_port(), _free_port()
    sim = f"http://127.0.0.1:{sim_port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCP_", "OIDC_", "EMAIL_", "SECURE_", "METRICS_"))
        and k
        not in {
            "DEBUG",
            "TASKS_BACKEND",
            "APPROVAL_DEFAULT",
            "DEMO_PASSWORD",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "PASSWORD_LOGIN",
            "DJANGO_SETTINGS_MODULE",
            "LOG_FORMAT",
        }
    }
    env.update(
        {
            "DEBUG": "false",
            "PORTAL_IGNORE_DOTENV": "1",  # a developer's .env must not change what is tested
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "STATIC_ROOT": str(logs / "staticfiles"),
            "SCP_VIRTUALSERVER_URL": f"{sim}/virtualserver",
            "SCP_VPC_URL": f"{sim}/vpc",
            "SCP_ACCESS_KEY": "prod-test-access-key-7781",
            "SCP_SECRET_KEY": "prod-secret-" + secrets.token_hex(20),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "DEFAULT_FROM_EMAIL": "portal@example.com",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
            "METRICS_TOKEN": secrets.token_urlsafe(24),
            "DEMO_PASSWORD": "staging-" + secrets.token_hex(8),
            "PORTAL_BASE_URL": f"https://127.0.0.1:{web_port}",
            "PORT": str(web_port),
            "BIND_HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "WORKER_INTERVAL": "0.2",
            "SCHEDULER_INTERVAL": "1",
            "SIMULATOR_PORT": str(sim_port),
        }
    )
    processes: dict[str, subprocess.Popen] = {}
    try:
        for step in ("collectstatic", "migrate"):
            result = _run(step, env)
            assert result.returncode == 0, f"{step} failed:\n{result.stdout}\n{result.stderr}"
        check = _run("check", env)
        seed = subprocess.run(
            [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert seed.returncode == 0, seed.stderr
        for name in PROCESSES:
            extra = ["--control", "--settle-seconds", "0.2"] if name == "simulator" else []
            log = (logs / f"{name}.log").open("w")
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "portal.run", name, *extra],
                cwd=ROOT,  # noqa: S603
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()  # the child has its own copy
        url = f"http://127.0.0.1:{web_port}"
        _wait_ready(url, processes, logs)
        yield Deployment(
            url=url,
            env=env,
            logs=logs,
            database_url=database_url,
            mailbox=mailbox,
            check_output=check.stdout + check.stderr + f"\n(exit {check.returncode})",
        )
    finally:
        stop(processes.values(), timeout=15)
        smtp.stop()
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_check_deploy_is_clean_in_production_settings(deployment):
    assert "System check identified no issues" in deployment.check_output, deployment.check_output
    assert "(exit 0)" in deployment.check_output


def test_probes_https_and_headers(deployment):
    plain = requests.Session()
    plain.trust_env = False
    assert plain.get(f"{deployment.url}/healthz", timeout=HTTP_TIMEOUT).json() == {"status": "ok"}
    ready = plain.get(f"{deployment.url}/readyz", timeout=HTTP_TIMEOUT).json()
    assert ready["status"] == "ready" and all(check["ok"] for check in ready["checks"].values()), ready
    redirect = plain.get(f"{deployment.url}/accounts/login/", allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
    http = deployment.session()
    page = deployment.get(http, "/accounts/login/")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "Secure" in page.headers["Set-Cookie"] and "HttpOnly" not in page.headers["Set-Cookie"].split(",")[0]
    assert plain.get(f"{deployment.url}/metrics", headers={"X-Forwarded-For": "10.0.0.1"}, timeout=HTTP_TIMEOUT).ok
    other = plain.get(f"{deployment.url}/metrics", timeout=HTTP_TIMEOUT, headers={"Authorization": "Bearer wrong"})
    assert other.status_code == 403


def sign_in(deployment: Deployment, username: str) -> requests.Session:
    http = deployment.session()
    deployment.get(http, "/accounts/login/")
    response = deployment.post(
        http, "/accounts/login/", {"username": username, "password": deployment.env["DEMO_PASSWORD"]}
    )
    assert response.status_code == 302, response.text[:500]
    return http


def test_attach_approve_and_succeed_over_http(deployment):
    from portal.scp.client import ScpClient

    env = deployment.env
    scp = ScpClient(
        virtualserver_url=env["SCP_VIRTUALSERVER_URL"],
        vpc_url=env["SCP_VPC_URL"],
        access_key=env["SCP_ACCESS_KEY"],
        secret_key=env["SCP_SECRET_KEY"],
    )
    server = next(s for s in scp.iter_servers() if s.name == "web-01")
    subnet = next(s for s in scp.iter_subnets() if s.name == "prod-app")

    requester = sign_in(deployment, "web-requester")
    form = deployment.get(requester, f"/servers/{server.id}/attach/")
    assert form.status_code == 200
    stylesheet = re.search(r'href="(/static/css/portal\.[0-9a-f]+\.css)"', form.text)
    assert stylesheet, "whitenoise's hashed stylesheet is linked"
    css = requests.get(
        deployment.url + stylesheet.group(1), timeout=HTTP_TIMEOUT, headers={"X-Forwarded-Proto": "https"}
    )
    assert css.status_code == 200 and ".topbar" in css.text and "max-age=315360000" in css.headers["Cache-Control"]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
    submitted = deployment.post(
        requester,
        f"/servers/{server.id}/attach/",
        {
            "mode": "subnet",
            "subnet_id": subnet.id,
            "port_id": "",
            "justification": "production-mode test",
            "idempotency_key": key,
            "action": "confirm",
        },
    )
    assert submitted.status_code == 302, submitted.text[:1000]
    request_path = submitted.headers["Location"]
    assert re.fullmatch(r"/requests/\d+/", request_path)
    assert "Pending approval" in deployment.get(requester, request_path).text

    approver = sign_in(deployment, "web-approver")
    queue = deployment.get(approver, "/approvals/")
    request_id = request_path.strip("/").split("/")[-1]
    digest = re.search(r'name="parameters_digest" value="([0-9a-f]+)"', queue.text).group(1)
    decision = {"decision": "approve", "comment": "ok for prod", "parameters_digest": digest}
    decided = deployment.post(approver, f"/approvals/{request_id}/decide/", decision)
    assert decided.status_code in (200, 302), decided.text[:500]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = deployment.get(requester, request_path).text
        if re.search(r'id="status"[^>]*>\s*Succeeded', page):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the request did not succeed:\n{page[:3000]}")

    metrics = requests.get(
        f"{deployment.url}/metrics",
        timeout=HTTP_TIMEOUT,
        headers={"Authorization": f"Bearer {deployment.env['METRICS_TOKEN']}"},
    ).text
    assert 'portal_interface_requests{state="succeeded"} 1.0' in metrics
    assert re.search(
        r'portal_scp_calls_total\{[^}]*endpoint="/v1/servers/\{id\}/interfaces"[^}]*method="POST"'
        r'[^}]*status="200"\} 1\.0',
        metrics,
    ), metrics
    assert "portal_scp_call_duration_seconds_bucket" in metrics and "portal_heartbeat_age_seconds" in metrics
    deployment.pages.append(metrics)

    mails = [(to, text) for to, text in deployment.mailbox.messages if "Approval needed" in text]
    assert mails and "web-approver@example.com" in mails[0][0] and "apps-approver@example.com" not in mails[0][0]
    assert f"https://127.0.0.1:{deployment.env['PORT']}/requests/{request_id}/" in mails[0][1]


def test_logs_are_json_and_nothing_holds_the_secret_or_a_signature(deployment):
    signatures = [
        r["signature"]
        for r in requests.get(
            f"http://127.0.0.1:{deployment.env['SIMULATOR_PORT']}/_sim/requests", timeout=HTTP_TIMEOUT
        ).json()["requests"]
        if r.get("signature")
    ]
    assert len(signatures) > 5
    secret = deployment.env["SCP_SECRET_KEY"]
    with psycopg.connect(deployment.database_url) as db:
        audit = [json.dumps(row) for row in db.execute("SELECT action, payload, target FROM audit_auditevent")]
        stored = [str(row) for row in db.execute("SELECT * FROM interfaces_interfacerequest")]
    assert any('"scp.call"' in line for line in audit)
    places = {"audit log": audit, "requests": stored, "pages": deployment.pages}
    for name in PORTAL_PROCESSES:
        lines = (deployment.logs / f"{name}.log").read_text().splitlines()
        assert lines, f"{name} wrote no log"
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                pytest.fail(f"{name} wrote a line that is not JSON: {line[:300]}")
        with_request = [r for r in records if r.get("request_id")]
        assert all("correlation_id" in r and "user" in r for r in records), name
        if name == "web":
            assert with_request and all(r["correlation_id"] for r in with_request)
        places[f"{name} log"] = lines
    for place, texts in places.items():
        blob = "\n".join(texts)
        assert secret not in blob, f"the SCP secret appears in the {place}"
        leaked = [s for s in signatures if s in blob]
        assert not leaked, f"{len(leaked)} request signature(s) appear in the {place}"
