"""Fault soak: attaches under SCP faults, SIGKILLed workers and dropped database connections, then the portal's
outcomes checked against the simulator's own state.

SCP's faults come from the simulator: a 5xx before applying, the connection dropped after applying, slow answers
and read timeouts after applying, and a 504 whose write SCP carries out a second later (a late apply). Meanwhile
db_worker processes are SIGKILLed at random moments (and restarted, as a supervisor would) and their PostgreSQL
connections terminated with pg_terminate_backend. The scheduler runs reconciliation every second.

Afterwards the truth is read from the simulator's own request log: each POST names the port it made (at once, or
when SCP applied it later) and carries the portal's correlation id, which ties it to the request whose write-ahead
event has that id. Against it the report counts duplicates (a request whose POSTs made two interfaces), requests
left open (not final, `unknown` among them), false successes (succeeded without having made its interface), wrong
failures (not succeeded although its POST made one) and interfaces owned by no request (new on a server, and no
request that made it holds it as its result).

The default mix spreads the attaches over several servers; `--same-server` puts them all on one server and subnet,
most asking for an automatic address, some for fixed IPs, two for the VPC's spare ports of that subnet: the case
where only one write in flight per server makes ownership provable.

Usage: python bench/fault_soak.py [--attaches 240] [--workers 4] [--chaos 40] [--seed 7] [--same-server]
Needs PostgreSQL (BENCH_PG, default postgres://postgres@127.0.0.1:5432/test); it makes a database of its own.
The test tests/interfaces/test_fault_soak.py runs the same soak, smaller.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from portal.run import worker_command  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# The simulator's faults for the soak; each write draws at most one of them.
SCP_FAULTS = {
    "latency_ms": 40,  # every answer is slow
    "error_rate": 0.12,
    "error_statuses": [500, 502, 503],
    "error_methods": ["POST"],  # 5xx before applying
    "drop_after_apply_rate": 0.12,  # applied, then the connection dropped
    "late_after_apply_rate": 0.14,
    "late_seconds": [0.6, 2.0],  # applied, answered slowly or after the read timeout
    "apply_later_rate": 0.12,
    "apply_later_seconds": 1.0,  # 504, applied a second later
}
PROCESS_ENV = {
    "TASKS_BACKEND": "database",
    "EXECUTION_LEASE_SECONDS": "30",  # the lowest allowed: work a killed worker held is reconciled after this
    "SCP_READ_TIMEOUT": "1.2",
    "SCP_POLL_INTERVAL": "0.25",
    "SCP_SETTLE_TIMEOUT": "10",
    "APPROVAL_DEFAULT": "auto",
    "EMAIL_BACKEND": "none",
    "LATE_APPLY_WINDOW_SECONDS": "8",  # SCP's late writes come a second after their 504 (a margin for a busy machine)
}


@dataclass
class Report:
    attaches: int
    faults: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    settled_by: Counter = field(default_factory=Counter)
    refused_at_submit: int = 0
    duplicated: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    false_successes: list = field(default_factory=list)
    wrong_failures: list = field(default_factory=list)
    unowned: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    @property
    def problems(self) -> list[str]:
        return self.duplicated + self.lost + self.false_successes + self.wrong_failures + self.unowned

    def table(self) -> str:
        lines = [f"{'fault':56} {'count':>6}"]
        lines += [f"{kind:56} {n:6}" for kind, n in sorted(self.faults.items())]
        lines.append(f"{'all faults':56} {self.total_faults:6}")
        lines.append("")
        lines.append(f"{'outcome':56} {'count':>6}")
        lines += [f"{'request ' + status:56} {n:6}" for status, n in sorted(self.outcomes.items())]
        lines += [f"{'  ' + how:56} {n:6}" for how, n in sorted(self.settled_by.items())]
        lines.append(f"{'refused at submission (nothing stored)':56} {self.refused_at_submit:6}")
        lines.append("")
        lines.append(
            f"attaches={self.attaches} faults={self.total_faults} false_successes={len(self.false_successes)} "
            f"wrong_failures={len(self.wrong_failures)} duplicated={len(self.duplicated)} "
            f"left_open={len(self.lost)} unowned_interfaces={len(self.unowned)} seconds={self.seconds:.0f}"
        )
        return "\n".join(lines)


class Workers:
    """db_worker processes with known worker ids and PostgreSQL application names; a killed one is replaced."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.env, self.serial, self.running = env, 0, {}
        for _ in range(count):
            self.start()

    def start(self) -> None:
        self.serial += 1
        worker_id = f"soak-worker-{self.serial}"
        command = worker_command("0.05", "--no-startup-delay", "--worker-id", worker_id)
        self.running[worker_id] = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env={**self.env, "PGAPPNAME": worker_id},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def replace_exited(self) -> int:
        exited = [w for w, p in self.running.items() if p.poll() is not None]
        for worker_id in exited:
            del self.running[worker_id]
            self.start()
        return len(exited)

    def kill(self, rng: random.Random) -> bool:
        """SIGKILL one worker; True when it was running a task at that moment."""
        from django_tasks_db.models import DBTaskResult

        worker_id = rng.choice(sorted(self.running))
        busy = DBTaskResult.objects.running().filter(worker_ids__contains=[worker_id]).exists()
        process = self.running.pop(worker_id)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.start()
        return busy

    def stop(self) -> None:
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def drop_connection(rng: random.Random) -> str | None:
    """Terminate one worker's database connection, preferring one in the middle of a query or transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name LIKE 'soak-worker-%%'"
        )
        rows = cursor.fetchall()
        busy = [r for r in rows if r[1] and r[1] != "idle"]
        if not rows:
            return None
        pid, state = rng.choice(busy or rows)
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    return "in a query or transaction" if state != "idle" else "idle"


def plan_attaches(client, server_ids: list[str], count: int, rng: random.Random) -> list[dict]:
    """`count` attaches spread over the servers: the first on each server asks for an automatic address, some use
    a spare port of the server's VPC (each once), the rest a fixed IP of their own."""
    servers = [s for s in client.iter_servers() if s.id in server_ids]
    subnets: dict[str, list] = {}
    for subnet in client.iter_subnets():
        subnets.setdefault(subnet.vpc_id, []).append(subnet)
    spare: dict[str, list] = {}
    for port in client.iter_ports():
        if not port.attached_resource_id and "spare" in port.name:
            spare.setdefault(port.vpc_id, []).append(port.id)
    next_host: Counter = Counter()
    plans, automatic = [], set()
    for n in range(count):
        server = servers[n % len(servers)]
        subnet = rng.choice(subnets[server.vpc_id])
        plan = {"server_id": server.id, "mode": "subnet", "subnet_id": subnet.id, "fixed_ips": []}
        if server.id not in automatic:
            automatic.add(server.id)
        elif spare.get(server.vpc_id) and rng.random() < 0.15:
            plan = {"server_id": server.id, "mode": "port", "port_id": spare[server.vpc_id].pop()}
        else:
            network = ipaddress.ip_network(subnet.cidr)
            next_host[subnet.id] += 1
            plan["fixed_ips"] = [str(network.network_address + 100 + next_host[subnet.id])]
        plans.append(plan)
    return plans


def plan_same_server(client, server_id: str, count: int, rng: random.Random) -> list[dict]:
    """`count` attaches on one server and one subnet (its default interface's), submitted together: two thirds ask
    for an automatic address, two take the subnet's spare ports, the rest a fixed IP each."""
    server = next(s for s in client.iter_servers() if s.id == server_id)
    default = next(i for i in client.list_server_interfaces(server_id) if i.subnet_id)
    subnet = next(s for s in client.iter_subnets() if s.id == default.subnet_id)
    spare = [
        p.id for p in client.iter_ports()
        if not p.attached_resource_id and "spare" in p.name and p.subnet_id == subnet.id and p.vpc_id == server.vpc_id
    ][:2]  # fmt: skip
    network = ipaddress.ip_network(subnet.cidr)
    plans = [{"server_id": server_id, "mode": "port", "port_id": port} for port in spare]
    fixed = max(0, count - len(plans) - (2 * count) // 3)
    plans += [
        {"server_id": server_id, "mode": "subnet", "subnet_id": subnet.id, "fixed_ips": [str(network[200 + n])]}
        for n in range(fixed)
    ]
    plans += [{"server_id": server_id, "mode": "subnet", "subnet_id": subnet.id, "fixed_ips": []}] * (
        count - len(plans)
    )
    rng.shuffle(plans)
    return plans


def soak(
    *,
    requester,
    server_ids: list[str],
    sim_url: str,
    env: dict[str, str],
    attaches: int,
    workers: int,
    chaos: int,
    seed: int = 7,
    deadline_seconds: float = 600,
    same_server: bool = False,
    kills_only: bool = False,
    log=print,
) -> Report:
    """Run the soak against the database Django is set up with; `env` is the processes' environment."""
    import requests
    from django.db import connections

    from portal.audit.models import AuditEvent
    from portal.core.scp import scp_client
    from portal.interfaces import services
    from portal.interfaces.errors import AttachRejected, ScpUnavailable
    from portal.interfaces.models import FINAL_STATUSES, InterfaceRequest

    rng = random.Random(seed)
    http = requests.Session()
    http.trust_env = False
    client = scp_client(audited=False)
    report = Report(attaches=attaches)
    started = time.monotonic()
    before = {s: {i.port_id for i in client.list_server_interfaces(s)} for s in server_ids}
    if same_server:
        plans = plan_same_server(client, server_ids[0], attaches, rng)
        server_ids = server_ids[:1]
        before = {server_ids[0]: before[server_ids[0]]}
    else:
        plans = plan_attaches(client, server_ids, attaches, rng)
    http.post(f"{sim_url}/_sim/faults", json={**SCP_FAULTS, "seed": seed}, timeout=5).raise_for_status()
    env = {**env, **PROCESS_ENV}
    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "scheduler", "--interval", "1"],
        cwd=ROOT,  # noqa: S603
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    fleet = Workers(workers, env)
    stop_chaos = threading.Event()

    def make_chaos() -> None:
        injected = 0
        while injected < chaos and not stop_chaos.wait(rng.uniform(0.2, 1.2)):
            if kills_only or rng.random() < 0.5:
                mid = fleet.kill(rng)
                report.faults[f"worker SIGKILL ({'mid-task' if mid else 'idle'})"] += 1
            else:
                dropped = drop_connection(rng)
                if dropped is None:
                    continue
                report.faults[f"database connection dropped ({dropped})"] += 1
            injected += 1
        connections.close_all()  # this thread's

    def submit(plan: dict) -> None:
        try:
            services.interface_request_submit(
                requester=requester, idempotency_key=uuid.uuid4(), justification="fault soak", **plan
            )
        except (AttachRejected, ScpUnavailable):
            report.refused_at_submit += 1
        finally:
            connections.close_all()  # this thread's

    chaos_thread = threading.Thread(target=make_chaos, daemon=True)
    chaos_thread.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(submit, plans))
        log(f"submitted {attaches - report.refused_at_submit} in {time.monotonic() - started:.0f} s")
        end = time.monotonic() + deadline_seconds
        while time.monotonic() < end:
            report.faults["worker exited (after a dropped connection)"] += fleet.replace_exited()
            open_ = InterfaceRequest.objects.exclude(status__in=FINAL_STATUSES).count()
            if not open_ and not chaos_thread.is_alive():
                break
            time.sleep(0.5)
        stop_chaos.set()
        chaos_thread.join()
        # Every write SCP put off has been carried out by now (a second after its 504); the scheduler's periodic
        # pass looks at watched requests after a minute, and this looks at once instead of waiting for it.
        http.post(f"{sim_url}/_sim/faults", json={}, timeout=5).raise_for_status()
        waiting = time.monotonic() + 30
        while time.monotonic() < waiting and any(
            "apply later" in (r["fault"] or "") and ";" not in r["fault"] for r in _log(http, sim_url)
        ):
            time.sleep(0.2)
        services.requests_watch_late(every=True)
    finally:
        stop_chaos.set()
        fleet.stop()
        scheduler.terminate()
        scheduler.wait(timeout=15)

    for entry in _log(http, sim_url):
        if entry["fault"]:
            report.faults["SCP " + entry["fault"].split(";")[0].split(" (")[0] + _timeout(entry, env)] += 1
    report.faults["worker exited (after a dropped connection)"] += 0
    requests_ = list(InterfaceRequest.objects.filter(requester=requester))
    report.outcomes.update(r.status for r in requests_)
    events = Counter(
        AuditEvent.objects.filter(
            interface_request_id__in=[r.pk for r in requests_],
            action__in=["interface_request.reconciled", "interface_request.applied_late", "interface_request.unknown"],
        ).values_list("action", flat=True)
    )
    report.settled_by.update(
        {
            "answers lost (went unknown)": events["interface_request.unknown"],
            "settled by reconciliation": events["interface_request.reconciled"],
            "settled as applied late": events["interface_request.applied_late"],
        }
    )
    judge(report, client, requests_, before, _log(http, sim_url))
    report.seconds = time.monotonic() - started
    return report


def _log(http, sim_url: str) -> list[dict]:
    return [r for r in http.get(f"{sim_url}/_sim/requests", timeout=10).json()["requests"] if r["method"] != "GET"]


def _timeout(entry: dict, env: dict[str, str]) -> str:
    fault = entry["fault"]
    if fault.startswith("late after apply"):
        late = float(fault.split("(")[1].split(" s")[0])
        return ", a read timeout" if late > float(env["SCP_READ_TIMEOUT"]) else ", a slow answer"
    if fault.startswith("error"):
        return " before applying"
    return ""


def truth(requests_, log: list[dict]) -> tuple[dict[int, list[str]], list[str]]:
    """Which ports each request's POSTs made, from the simulator's log: a POST carries the correlation id of the
    task that sent it, and that task's write-ahead event names the request. Also the ports made by POSTs that no
    request's write-ahead accounts for."""
    from portal.audit.models import AuditEvent

    intents = dict(
        AuditEvent.objects.filter(
            action="scp.attach.intent", interface_request_id__in=[r.pk for r in requests_]
        ).values_list("correlation_id", "interface_request_id")
    )
    made: dict[int, list[str]] = {r.pk: [] for r in requests_}
    strangers = []
    for entry in log:
        if entry["method"] == "POST" and entry["path"].endswith("/interfaces") and entry.get("made"):
            owner = intents.get(entry.get("correlation_id") or "")
            if owner is None:
                strangers.append(entry["made"])
            else:
                made[owner].append(entry["made"])
    return made, strangers


def judge(report: Report, client, requests_, before: dict[str, set[str]], log: list[dict]) -> None:
    """The simulator's interfaces and request log against the portal's outcomes."""
    from portal.interfaces.models import FINAL_STATUSES, Status

    made, strangers = truth(requests_, log)
    report.duplicated += [f"a POST that no request wrote ahead made {port}" for port in strangers]
    held = {r.result_port_id for r in requests_ if r.result_port_id and r.result_port_id in made[r.pk]}
    for server_id, ports in before.items():
        present = {i.port_id for i in client.list_server_interfaces(server_id)}
        report.unowned += [f"{p} on {server_id}: no request holds it" for p in sorted(present - ports - held)]
    for request in requests_:
        ports = made[request.pk]
        if len(ports) > 1:
            report.duplicated.append(f"request {request.pk} made {len(ports)} interfaces: {ports}")
        if request.status not in FINAL_STATUSES:
            report.lost.append(f"request {request.pk} is {request.status}: {request.status_reason}")
        elif request.status == Status.SUCCEEDED and request.result_port_id not in ports:
            report.false_successes.append(f"request {request.pk} succeeded, but made no {request.result_port_id}")
        elif request.status != Status.SUCCEEDED and ports and request.result_port_id not in ports:
            report.wrong_failures.append(f"request {request.pk} is {request.status}, but made {ports}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attaches", type=int, default=240)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--chaos", type=int, default=40, help="worker kills and dropped connections, together")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--same-server", action="store_true", help="every attach on one server and subnet")
    args = parser.parse_args()
    import psycopg

    from bench._harness import stack

    server_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/test")
    database = f"soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    url = server_url.rsplit("/", 1)[0] + f"/{database}"
    try:
        with stack(sim_args=["--settle-seconds", "1"], env={"DATABASE_URL": url, **PROCESS_ENV}, with_portal=False) as (
            environment,
            _,
        ):
            run = {"cwd": ROOT, "env": environment, "check": True}
            subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)  # noqa: S603
            subprocess.run([sys.executable, "manage.py", "seed_demo"], stdout=subprocess.DEVNULL, **run)  # noqa: S603
            os.environ.update(environment)
            import django

            django.setup()
            from django.contrib.auth import get_user_model

            from portal.core.scp import scp_client

            requester = get_user_model().objects.get(username="requester")
            servers = [
                s.id
                for s in scp_client(audited=False).iter_servers()
                if s.state in ("ACTIVE", "SHUTOFF") and not s.locked and s.name.startswith(("web-", "app-"))
            ]
            sim_url = environment["SCP_VIRTUALSERVER_URL"].rsplit("/", 1)[0]
            report = soak(
                requester=requester,
                server_ids=servers,
                sim_url=sim_url,
                env=environment,
                attaches=args.attaches,
                workers=args.workers,
                chaos=args.chaos,
                seed=args.seed,
                same_server=args.same_server,
            )
            from django.db import connections

            connections.close_all()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print(report.table())
    for problem in report.problems:
        print("  ", problem)


if __name__ == "__main__":
    main()
