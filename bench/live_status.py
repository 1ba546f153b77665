"""What keeping a request's page live costs the database, and how soon the page learns of a change.

Before: the status fragment was fetched every 15 s while the request waited for a person (every 1 s while it
moved). Now: a change check every 1.5 s while it waits for a person and every second while it moves (answered
before sessions and users are read: one indexed query), and the fragment only when the check says it changed.

Counts the database queries of one fragment fetch and of one check (through every middleware, with Django's
test client on the bench's database), times both over HTTP against gunicorn, and measures how long after an
approval the page's check first answers "changed". Usage: python bench/live_status.py [--pages 100] [--runs 200]
The last line is ratio=<queries a second now / before, for --pages pages waiting for a person>.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import stack  # noqa: E402
from bench.attach_overhead import PortalUser  # noqa: E402

BEFORE_PENDING_EVERY = 15.0  # seconds between the old fragment polls while waiting for a person
CHECK_EVERY_PENDING = 1.5
CHECK_EVERY_MOVING = 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=100, help="open request pages")
    parser.add_argument("--runs", type=int, default=200, help="timed fetches of each kind")
    args = parser.parse_args()
    env = {"APPROVAL_DEFAULT": "team", "API_RATE_LIMIT": "1000000", "SCP_POLL_INTERVAL": "0.05"}
    with stack(sim_args=["--settle-seconds", "0.2"], env=env) as (environment, url):
        import os

        os.environ.update(environment)
        import django

        django.setup()
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from portal.core.scp import scp_client

        password = "demo-pass-2026"
        requester = PortalUser(url, "web-requester", password)
        servers = {s.name: s for s in scp_client(audited=False).iter_servers()}
        subnets = {s.name: s for s in scp_client(audited=False).iter_subnets()}
        path = f"/servers/{servers['web-01'].id}/attach/"
        form = requester.http.get(f"{url}{path}").text
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
        data = {"mode": "subnet", "subnet_id": subnets["prod-app"].id, "justification": "bench", "idempotency_key": key}
        requester.post(path, {**data, "action": "preview"})
        page_url = requester.post(path, {**data, "action": "confirm"}).url
        page = requester.http.get(page_url).text
        watch = re.search(r'id="request-watch" hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
        fragment = f"{page_url}?fragment=status"
        hx = {"HX-Request": "true"}

        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies["sessionid"] = requester.http.cookies["sessionid"]  # the watch token is for this browser
        local = page_url.removeprefix(url)
        with CaptureQueriesContext(connection) as q_fragment:
            assert client.get(f"{local}?fragment=status", headers=hx).status_code == 200
        with CaptureQueriesContext(connection) as q_check:
            assert client.get(watch, headers=hx).status_code == 204
        timed = {}
        for name, target in (("fragment", fragment), ("check", f"{url}{watch}")):
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                requester.http.get(target, headers=hx).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            timed[name] = statistics.median(times)

        approver = PortalUser(url, "web-approver", password)
        request_id = int(re.search(r"/requests/(\d+)/", page_url).group(1))
        from portal.interfaces.models import InterfaceRequest

        digest = InterfaceRequest.objects.get(pk=request_id).parameters_digest
        decided = time.perf_counter()
        decision = {"decision": "approve", "parameters_digest": digest, "comment": "bench"}
        approver.post(f"/approvals/{request_id}/decide/", decision)
        noticed = None
        while noticed is None:
            if requester.http.get(f"{url}{watch}", headers=hx).status_code == 200:
                noticed = time.perf_counter() - decided
            else:
                time.sleep(CHECK_EVERY_PENDING)

    before = len(q_fragment) / BEFORE_PENDING_EVERY * args.pages
    now = len(q_check) / CHECK_EVERY_PENDING * args.pages
    print(f"queries: fragment={len(q_fragment)} check={len(q_check)}")
    print(f"median ms over HTTP: fragment={timed['fragment']:.1f} check={timed['check']:.1f}")
    print(f"{args.pages} pages waiting for a person: before={before:.1f} queries/s now={now:.1f} queries/s")
    print(
        f"{args.pages} pages of moving requests: before={len(q_fragment) * args.pages:.0f} queries/s "
        f"now={len(q_check) / CHECK_EVERY_MOVING * args.pages:.0f} queries/s plus one fragment per change"
    )
    fetch = timed["check"] + timed["fragment"]
    print(f"approval noticed by the first check after it: {noticed:.2f} s")
    print(f"a page notices within {CHECK_EVERY_PENDING:g} s + {fetch:.0f} ms (before: {BEFORE_PENDING_EVERY:g} s)")
    print(f"ratio={now / before:.2f}")


if __name__ == "__main__":
    main()
