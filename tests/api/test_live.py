"""The API against a live portal (gunicorn, task worker, simulator over HTTP): schemathesis from the published
OpenAPI description, and the README's curl session run exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests

from bench._harness import stack
from tests.conftest import ROOT

SCHEMATHESIS = str(ROOT / ".venv/bin/schemathesis") if (ROOT / ".venv/bin/schemathesis").exists() else "schemathesis"
# Every check but positive_data_acceptance: an attach the schema allows is still refused (422, with reasons) when
# SCP does not know its subnet or the address is taken; that is the API's job, not a schema mismatch.
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
EXAMPLES = "25"


@pytest.fixture(scope="module")
def live():
    """make run's set-up: demo teams and users, approval by the team's approvers, a real worker."""
    env = {"APPROVAL_DEFAULT": "team", "API_RATE_LIMIT": "1000000", "SCP_POLL_INTERVAL": "0.05"}
    with stack(sim_args=["--settle-seconds", "0.2"], env=env) as (environment, url):
        yield environment, url


def _token(environment, user: str, scopes: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "api_token", "create", user, "--scopes", scopes],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _report(request, line: str) -> None:
    """Print past pytest's capture: the run's own figures belong in make test's output."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.mark.parametrize(
    ("user", "scopes", "operations"),
    [
        ("approver", "read,request,approve", ["--exclude-tag", "audit"]),
        ("auditor", "read,audit", ["--include-tag", "audit"]),
    ],
    ids=["servers-requests-approvals", "audit"],
)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live, request, tmp_path, user, scopes, operations):
    environment, url = live
    token = _token(environment, user, scopes)
    run = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            *operations,
            *CHECKS,
            "--mode",
            "all",
            "--max-examples",
            EXAMPLES,
            "--no-shrink",
            "--seed",
            "20261129",
        ],
        cwd=tmp_path,
        env={**environment, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = re.search(r"Test cases:\s*\n\s*(\d+) generated, (.+)", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert summary and tested, run.stdout[-3000:] + run.stderr[-2000:]
    _report(
        request,
        f"schemathesis ({user}): {tested.group(1)} operations, {summary.group(1)} generated, "
        f"{summary.group(2).strip()}",
    )
    assert run.returncode == 0, run.stdout[-6000:]
    assert summary.group(2).startswith(f"{summary.group(1)} passed")
    expected = 6 if user == "auditor" else 16
    assert int(tested.group(1)) == expected  # every operation of the description was exercised


def test_the_readme_curl_session_works_as_written(live):
    environment, url = live
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- api-session -->\n```sh\n(.*?)```\n<!-- /api-session -->", readme, re.S).group(1)
    # A second shell beside make run: nothing of the portal's configuration set, only where the portal listens
    # (and, here, the stack's database, which make run's default db.sqlite3 stands for).
    shell = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "PORTAL": url,
        "DATABASE_URL": environment["DATABASE_URL"],
        "PORTAL_IGNORE_DOTENV": "1",
    }
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=ROOT, env=shell, capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "pending_approval" and lines[1] in ("approved", "executing", "succeeded"), lines
    assert re.fullmatch(r"succeeded fa:16:3e(:[0-9a-f]{2}){3} \['192\.168\.10\.\d+'\]", lines[-1]), lines
    assert not (ROOT / "request.json").exists()


def test_the_docs_page_and_description_are_served(live):
    _, url = live
    http = requests.Session()
    http.trust_env = False
    description = http.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    assert description["openapi"] == "3.1.0" and len(description["paths"]) == 22
    assert set(description["components"]["securitySchemes"]) == {"BearerToken", "BrowserSession"}
    docs = http.get(f"{url}/api/v1/docs", timeout=10)
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert os.path.basename("/static/ninja/swagger-ui-bundle.js") in docs.text
