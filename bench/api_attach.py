"""An attach through the JSON API, against the same attach made directly with ScpClient and through the form.

Submit → succeeded through `/api/v1/` (a bearer token, POST then GET until final) beside Confirm → succeeded
through the form and the direct client, interleaved run by run; the simulator adds 100 ms to every SCP call,
and every side polls the new interface at the same interval.
Usage: python bench/api_attach.py [--runs 30] [--settle 1.0] [--poll 0.25]
The last line is ratio=<API median / direct median> (the target: at most the form's ratio, printed above it).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import PYTHON, ROOT, attach_targets, stack  # noqa: E402
from bench.attach_overhead import PortalUser, direct_attach  # noqa: E402


class ApiUser:
    def __init__(self, base: str, token: str) -> None:
        self.base = f"{base}/api/v1"
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"

    def attach(self, server_id: str, subnet_id: str) -> float:
        body = {"mode": "subnet", "subnet_id": subnet_id, "justification": "benchmark"}
        started = time.perf_counter()
        created = self.http.post(
            f"{self.base}/servers/{server_id}/attach-requests",
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert created.status_code == 201, created.text[:2000]
        url = f"{self.base}/attach-requests/{created.json()['id']}"
        while True:
            answer = self.http.get(url).json()
            if answer["status"] == "succeeded":
                return time.perf_counter() - started
            if answer["poll"]["final"]:
                raise RuntimeError(answer)
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"no final status after 60 s: {answer}")
            time.sleep(0.01)  # as the form side polls; a script would sleep poll.retry_after


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds a new port stays BUILD")
    parser.add_argument("--poll", type=float, default=0.25, help="SCP_POLL_INTERVAL, for every side")
    args = parser.parse_args()
    password = "bench-pass-2026"
    env = {
        "SCP_POLL_INTERVAL": str(args.poll),
        "DEMO_PASSWORD": password,
        "APPROVAL_DEFAULT": "auto",
        "API_RATE_LIMIT": "100000",
    }
    sim_args = ["--latency-ms", str(args.latency_ms), "--settle-seconds", str(args.settle)]
    with stack(sim_args=sim_args, env=env) as (environment, base):
        token = subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", "api_token", "create", "requester", "--scopes", "read,request"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        client, targets = attach_targets(environment)
        form_user, api_user = PortalUser(base, "requester", password), ApiUser(base, token)
        direct, form, api = [], [], []
        for run in range(args.runs):  # interleaved, so drift on the machine hits every side alike
            server_id, subnet_id = targets[run % 2]
            direct.append(direct_attach(client, server_id, subnet_id, args.poll))
            form.append(form_user.attach(server_id, subnet_id)[0])
            api.append(api_user.attach(server_id, subnet_id))
    d, f, a = statistics.median(direct), statistics.median(form), statistics.median(api)
    print(f"runs={args.runs} latency_ms={args.latency_ms:g} settle_s={args.settle:g} poll_s={args.poll:g}")
    for label, value, runs in (
        ("direct ScpClient attach→ACTIVE", d, direct),
        ("form Confirm→succeeded", f, form),
        ("API submit→succeeded", a, api),
    ):
        low, high = min(runs) * 1000, max(runs) * 1000
        print(f"{label + ' median:':38} {value * 1000:.0f} ms (min {low:.0f}, max {high:.0f})")
    print(f"form_ratio={f / d:.2f}")
    print(f"ratio={a / d:.2f}")


if __name__ == "__main__":
    main()
