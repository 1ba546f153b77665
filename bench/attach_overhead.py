"""What the portal's own work costs next to one attach: Confirm → succeeded through the portal (over HTTP),
against the same attach made directly with ScpClient, both waiting until the port is ACTIVE.

The simulator adds 100 ms to every API call. Both sides poll the new interface at the same interval.
Usage: python bench/attach_overhead.py [--runs 30] [--settle 1.0] [--poll 0.25]
The last line is ratio=<portal median / direct median>.
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import attach_targets, stack  # noqa: E402


def direct_attach(client, server_id: str, subnet_id: str, poll: float) -> float:
    from portal.scp import schemas

    started = time.perf_counter()
    interface = client.attach_interface(server_id, schemas.ServerInterfaceCreateRequest(subnet_id=subnet_id))
    while interface.port_state != "ACTIVE":
        time.sleep(poll)
        interface = client.get_server_interface(server_id, interface.port_id)
    return time.perf_counter() - started


class PortalUser:
    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.get(f"{base}/accounts/login/")
        response = self.http.post(
            f"{base}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"},
        )
        response.raise_for_status()

    def post(self, path: str, data: dict) -> requests.Response:
        return self.http.post(
            f"{self.base}{path}",
            data={**data, "csrfmiddlewaretoken": self.http.cookies["csrftoken"]},
            headers={"Referer": f"{self.base}{path}"},
        )

    def attach(self, server_id: str, subnet_id: str) -> tuple[float, int, float, float]:
        """What a browser does: preview, then Confirm with what the preview's form carries (its sealed check
        among it), then learn of each change the way the request's page does (its watch: one cheap check every
        10 ms here, where the page asks every second) and fetch the status fragment when told. Returns (seconds,
        the request's id, and the wall-clock times of Confirm and of the page showing Succeeded)."""
        path = f"/servers/{server_id}/attach/"
        form = self.http.get(f"{self.base}{path}").text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
        data = {"mode": "subnet", "subnet_id": subnet_id, "justification": "benchmark", "idempotency_key": key}
        preview = self.post(path, {**data, "action": "preview"})
        assert "Confirm and submit" in preview.text, preview.text[:2000]
        sealed = re.search(r'name="check" value="([^"]*)"', preview.text)  # (absent before checks were sealed)
        check = sealed.group(1) if sealed else ""
        started, wall = time.perf_counter(), time.time()
        confirmed = self.post(path, {**data, "check": check, "action": "confirm"})
        request_url = confirmed.url
        assert "/requests/" in request_url, confirmed.text[:2000]
        page = confirmed.text
        while True:
            if 'id="status">Succeeded' in page:
                took = time.perf_counter() - started
                return took, int(request_url.rstrip("/").rsplit("/", 1)[1]), wall, wall + took
            if re.search(r'id="status">(Failed|Outcome unknown|Cancelled)', page):
                raise RuntimeError(page[:2000])
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"no final status after 60 s:\n{page[:3000]}")
            watch = html.unescape(re.search(r'id="request-watch" hx-get="([^"]+)"', page).group(1))
            while self.http.get(f"{self.base}{watch}").status_code == 204:
                if time.perf_counter() - started > 60:
                    raise RuntimeError(f"the page's watch saw no change for 60 s:\n{page[:3000]}")
                time.sleep(0.01)
            page = self.http.get(request_url, params={"fragment": "status"}, headers={"HX-Request": "true"}).text


STAGES = (
    ("Confirm → submitted (the submission)", None, "interface_request.submitted"),
    ("submitted → claimed (the worker's pickup)", "interface_request.submitted", "interface_request.claimed"),
    ("claimed → write-ahead (the check, the intent)", "interface_request.claimed", "scp.attach.intent"),
    ("write-ahead → POST answered", "scp.attach.intent", "scp.call"),
    ("POST answered → succeeded (settling)", "scp.call", "interface_request.succeeded"),
    ("succeeded → page shows it", "interface_request.succeeded", None),
)


def breakdown(runs: list[tuple[float, int, float, float]]) -> list[tuple[str, float]]:
    """Median milliseconds of each stage, from the requests' audit events (the portal's own clock, the same as
    this process's: one machine)."""
    from portal.audit.models import AuditEvent

    spans: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
    for _took, pk, confirmed, seen in runs:
        times: dict[str, float] = {}
        for action, at in (
            AuditEvent.objects.filter(interface_request_id=pk).order_by("seq").values_list("action", "created_at")
        ):
            if action != "scp.call" or "scp.attach.intent" in times:  # (the first call after the intent: the POST)
                times.setdefault(action, at.timestamp())
        for label, start, end in STAGES:
            begin = confirmed if start is None else times[start]
            finish = seen if end is None else times[end]
            spans[label].append((finish - begin) * 1000)
    return [(label, statistics.median(values)) for label, values in spans.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds a new port stays BUILD")
    parser.add_argument("--poll", type=float, default=0.25, help="SCP_POLL_INTERVAL, for both sides")
    args = parser.parse_args()
    password = "bench-pass-2026"
    env = {"SCP_POLL_INTERVAL": str(args.poll), "DEMO_PASSWORD": password, "APPROVAL_DEFAULT": "auto"}
    sim_args = ["--latency-ms", str(args.latency_ms), "--settle-seconds", str(args.settle)]
    with stack(sim_args=sim_args, env=env) as (environment, base):
        client, targets = attach_targets(environment)
        user = PortalUser(base, "requester", password)
        direct, portal = [], []
        for run in range(args.runs):  # interleaved, so drift on the machine hits both sides alike
            server_id, subnet_id = targets[run % 2]
            direct.append(direct_attach(client, server_id, subnet_id, args.poll))
            portal.append(user.attach(server_id, subnet_id))
        stages = breakdown(portal)
    portal_seconds = [run[0] for run in portal]
    d, p = statistics.median(direct), statistics.median(portal_seconds)
    print(f"runs={args.runs} latency_ms={args.latency_ms:g} settle_s={args.settle:g} poll_s={args.poll:g}")
    pairs = (("direct ScpClient attach→ACTIVE", d, direct), ("portal Confirm→succeeded", p, portal_seconds))
    for label, value, runs in pairs:
        low, high = min(runs) * 1000, max(runs) * 1000
        print(f"{label + ' median:':38} {value * 1000:.0f} ms (min {low:.0f}, max {high:.0f})")
    print("portal stages (medians, ms):")
    for label, value in stages:
        print(f"  {label + ':':50} {value:7.1f}")
    print(f"ratio={p / d:.2f}")


if __name__ == "__main__":
    main()
