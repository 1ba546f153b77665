"""A real OpenID Connect provider for the tests: npm's oidc-provider (tests/idp), on a free port, as its own process.

`make test` installs it (npm ci in tests/idp); the fixture starts it and stops it by its own process id.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

IDP_DIR = Path(__file__).resolve().parent / "idp"
CLIENT_SECRET = "test-idp-client-secret-5b1d"  # the test IdP's own client secret; no real credential


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Idp:
    def __init__(self, url: str, users_file: Path, mischief_file: Path) -> None:
        self.url = url
        self.users_file = users_file
        self.mischief_file = mischief_file
        self.browsers: dict[str, requests.Session] = {}  # each user's IdP cookies, from their last sign-in

    def set_mischief(self, **tricks) -> None:
        """Make the IdP misbehave (see provider.mjs: userinfo_sub, id_token_alg_none); none: behave."""
        self.mischief_file.write_text(json.dumps(tricks))

    def end_session(self, username: str) -> None:
        """Sign `username` out at the IdP itself (its own logout page, confirmed), as they would in its portal:
        the IdP ends its session and the refresh tokens bound to it."""
        http = self.browsers.pop(username)
        page = http.get(f"{self.url}/session/end", timeout=10)
        form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert form, f"no logout form at the IdP: {page.status_code} {page.text[:300]}"
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
        answer = http.post(urljoin(page.url, form.group(1)), data={**fields, "logout": "yes"}, timeout=10)
        assert answer.status_code < 400, answer.text[:300]

    def set_users(self, users: dict[str, dict]) -> None:
        """Replace the IdP's users ({"alice": {"groups": [...], "email": ...}}); read at each sign-in."""
        self.users_file.write_text(json.dumps(users))

    def sign_in(self, authorize_url: str, username: str, password: str = "any") -> str:
        """Play the browser at the IdP: follow the authorization request, fill its sign-in form, and return the
        redirect back to the portal (its callback with code and state), without following it."""
        http = requests.Session()
        http.trust_env = False
        self.browsers[username] = http
        response = http.get(authorize_url, timeout=10)
        action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        assert action, f"no sign-in form at the IdP: {response.status_code} {response.text[:300]}"
        response = http.post(
            urljoin(response.url, action.group(1)),
            data={"prompt": "login", "login": username, "password": password},
            allow_redirects=False,
            timeout=10,
        )
        for _ in range(10):
            location = urljoin(response.url, response.headers.get("Location", ""))
            assert response.is_redirect, f"the IdP did not redirect: {response.status_code} {response.text[:300]}"
            if not location.startswith(self.url):
                return location
            response = http.get(location, allow_redirects=False, timeout=10)
        raise AssertionError("too many redirects at the IdP")


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        if os.environ.get("CI") == "true":
            raise RuntimeError("the test IdP is not installed: run `make test` (it runs npm ci in tests/idp)")
        pytest.skip("the test IdP is not installed (make test installs it with npm ci in tests/idp)")
    return node


@pytest.fixture(scope="session")
def idp(live_server):
    node = _node()
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="test-idp-"))
    users, mischief = workdir / "users.json", workdir / "mischief.json"
    handle = Idp(f"http://127.0.0.1:{port}", users, mischief)
    handle.set_users({})
    handle.set_mischief()
    live = urlsplit(live_server.url)
    bases = ["http://testserver", live_server.url, f"http://localhost:{live.port}", f"http://127.0.0.1:{live.port}"]
    env = {
        **os.environ,
        "PORT": str(port),
        "USERS_FILE": str(users),
        "MISCHIEF_FILE": str(mischief),
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": ",".join(f"{b}/oidc/callback/" for b in bases),
        "POST_LOGOUT_URIS": ",".join(f"{b}/accounts/login/" for b in bases),
    }
    log = (workdir / "idp.log").open("w")
    process = subprocess.Popen([node, "provider.mjs"], cwd=IDP_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test IdP did not start: {(workdir / 'idp.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield handle
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
