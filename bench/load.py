"""Throughput under load: 200 attaches from 20 concurrent requesters through the API, auto-approved, with 2 and
4 task workers, against what the simulator serves a plain ScpClient pool of the same concurrency.

The simulator adds 100 ms to every call and keeps a new port BUILD for 5 s. Each requester submits, then polls
its request until it has ended; each direct client attaches, then polls the port until ACTIVE.
With `--servers N` every attach goes to the first N servers, so that several requests wait on each server at once
(the portal makes one write at a time per server; the simulator, unlike SCP, does not answer a second concurrent
change with 409 "server busy", so the direct pool is not held to that).
Usage: python bench/load.py [--attaches 200] [--concurrency 20] [--workers 2 4] [--settle 5] [--servers N]
Prints attaches a second for each side, p50/p95 submit→succeeded; the last line is
ratio=<portal throughput with the most workers / direct throughput> (the target: at least 0.8 with 4 workers).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import PYTHON, ROOT, stack  # noqa: E402


def targets_round_robin(environment, servers_wanted: int = 0):
    os.environ.update(environment)
    import django

    django.setup()
    from portal.core.scp import scp_client
    from portal.scp import schemas

    # This stack's simulator: the settings were read for the first stack this process saw.
    client = scp_client(
        audited=False, virtualserver_url=environment["SCP_VIRTUALSERVER_URL"], vpc_url=environment["SCP_VPC_URL"]
    )
    # The demo requester's teams own web-*, app-* and dev-*; attaches spread over every server that can take one.
    servers = [
        s
        for s in client.iter_servers()
        if s.state in ("ACTIVE", "SHUTOFF") and not s.locked and s.name.startswith(("web-", "app-", "dev-"))
    ]
    subnets = {}
    for subnet in client.iter_subnets():
        subnets.setdefault(subnet.vpc_id, subnet)
    pairs = [(s.id, subnets[s.vpc_id].id) for s in servers if s.vpc_id in subnets]
    return client, pairs[:servers_wanted] if servers_wanted else pairs, schemas


def drive(pairs, attaches: int, concurrency: int, attach, session=lambda: None):
    """`attaches` attaches spread over `pairs` by `concurrency` threads; `attach(state, server_id, subnet_id)` makes
    one and returns None when it succeeded, else why not. Returns (wall seconds, durations, failures)."""
    lock, durations, failures, counter = threading.Lock(), [], [], iter(range(attaches))

    def worker():
        state = session()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            started = time.perf_counter()
            failure = attach(state, *pairs[n % len(pairs)])
            with lock:
                (failures.append(failure) if failure is not None else durations.append(time.perf_counter() - started))

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    return time.perf_counter() - began, durations, failures


def direct_run(client, schemas, pairs, attaches: int, concurrency: int, poll: float):
    def attach(_, server_id, subnet_id):
        made = client.attach_interface(server_id, schemas.ServerInterfaceCreateRequest(subnet_id=subnet_id))
        while made.port_state != "ACTIVE":
            time.sleep(poll)
            made = client.get_server_interface(server_id, made.port_id)

    wall, durations, _ = drive(pairs, attaches, concurrency, attach)
    return wall, durations


def portal_run(base, token, pairs, attaches: int, concurrency: int, poll: float):
    def session():
        http = requests.Session()
        http.trust_env = False
        http.headers["Authorization"] = f"Bearer {token}"
        return http

    def attach(http, server_id, subnet_id):
        created = http.post(
            f"{base}/api/v1/servers/{server_id}/attach-requests",
            json={"mode": "subnet", "subnet_id": subnet_id, "justification": "load"},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if created.status_code != 201:
            return created.text[:300]
        url = f"{base}/api/v1/attach-requests/{created.json()['id']}"
        while not (answer := http.get(url).json())["poll"]["final"]:
            time.sleep(poll)
        return None if answer["status"] == "succeeded" else answer["status_reason"]

    return drive(pairs, attaches, concurrency, attach, session)


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attaches", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=1.0, help="SCP_POLL_INTERVAL and every side's polling")
    parser.add_argument("--servers", type=int, default=0, help="only the first N servers (0: every one)")
    args = parser.parse_args()
    sim_args = ["--latency-ms", str(args.latency_ms), "--settle-seconds", str(args.settle)]
    env = {
        "SCP_POLL_INTERVAL": str(args.poll),
        "APPROVAL_DEFAULT": "auto",
        "API_RATE_LIMIT": "1000000",
        "SCP_SETTLE_TIMEOUT": "120",
    }
    print(
        f"attaches={args.attaches} concurrency={args.concurrency} latency_ms={args.latency_ms:g} "
        f"settle_s={args.settle:g} poll_s={args.poll:g} servers={args.servers or 'all'}"
    )
    with stack(sim_args=sim_args, env=env, with_portal=False) as (environment, _):
        client, pairs, schemas = targets_round_robin(environment, args.servers)
        wall, durations = direct_run(client, schemas, pairs, args.attaches, args.concurrency, args.poll)
    direct_rate = len(durations) / wall
    print(
        f"direct pool: {direct_rate:.2f} attaches/s (p50 {pct(durations, 0.5):.2f} s, p95 {pct(durations, 0.95):.2f} s)"
    )
    ratio = 0.0
    for workers in args.workers:
        with stack(sim_args=sim_args, env=env, workers=workers) as (environment, base):
            token = subprocess.run(  # noqa: S603
                [PYTHON, "manage.py", "api_token", "create", "requester", "--scopes", "read,request"],
                cwd=ROOT,
                env=environment,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            _, pairs, _ = targets_round_robin(environment, args.servers)
            wall, durations, failures = portal_run(base, token, pairs, args.attaches, args.concurrency, args.poll)
        rate = len(durations) / wall
        ratio = rate / direct_rate
        print(
            f"portal, {workers} workers: {rate:.2f} attaches/s, {len(durations)} succeeded, {len(failures)} not "
            f"(p50 {pct(durations, 0.5):.2f} s, p95 {pct(durations, 0.95):.2f} s), ratio {ratio:.2f}"
        )
        for failure in failures[:3]:
            print(f"  not succeeded: {failure}")
    print(f"ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
