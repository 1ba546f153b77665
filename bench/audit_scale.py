"""The audit log at a million events: review pages beside Django admin's changelist, export, and verify.

PostgreSQL by default (a scratch database on 127.0.0.1:5432, dropped afterwards); --sqlite for a temporary file.
Usage: python bench/audit_scale.py [--events 1000000] [--sqlite]
The last line is ratio=<admin/portal at depth 50,000>.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.audit.chain import GENESIS_HASH, event_hash  # noqa: E402  (pure Python, no Django needed)

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
SCRATCH_DB = "scp_bench_audit"
COLUMNS = (
    "seq",
    "created_at",
    "action",
    "outcome",
    "actor_id",
    "actor_name",
    "source_ip",
    "user_agent",
    "correlation_id",
    "interface_request_id",
    "target",
    "payload",
    "prev_hash",
    "hash",
)
DEPTH = 50_000
RUNS = 20


def synthetic_events(n: int):
    """Events shaped like the portal's own: mostly SCP calls, some sign-ins and request steps."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    previous = GENESIS_HASH
    actions = ("scp.call", "scp.call", "scp.call", "auth.login", "interface_request.submitted", "approval.approved")
    outcomes = ("success", "success", "success", "failure", "denied", "pending", "unknown", "success")
    for i in range(1, n + 1):
        action = actions[i % len(actions)]
        server = f"{i % 5000:08x}-5d4b-4bc8-b2ae-35100fa9241f"
        payload = (
            {
                "method": "GET",
                "url": f"https://virtualserver.kr-west1.e.samsungsdscloud.com/v1/servers/{server}",
                "api_version": "1.3",
                "status": 200,
                "latency_ms": 41.5,
                "access_key": "…0001",
                "attempt": 1,
            }
            if action == "scp.call"
            else {"reason": "", "note": f"event {i}"}
        )
        row = {
            "seq": i,
            "created_at": start + dt.timedelta(milliseconds=250 * i),
            "action": action,
            "outcome": outcomes[i % len(outcomes)],
            "actor_id": i % 50 + 1,
            "actor_name": f"user{i % 50:02d}",
            "source_ip": f"10.0.{i % 250}.{i % 200 + 1}",
            "user_agent": "Mozilla/5.0",
            "correlation_id": f"{i:032x}",
            "interface_request_id": i // 10 if i % 3 == 0 else None,
            "target": server,
            "payload": payload,
            "prev_hash": previous,
        }
        row["hash"] = previous = event_hash(row)
        yield row


def load(n: int, database_url: str) -> float:
    started = time.perf_counter()
    if database_url.startswith("postgres"):
        import psycopg

        with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
            with cursor.copy(f"COPY audit_auditevent ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in synthetic_events(n):
                    copy.write_row([json.dumps(row[c]) if c == "payload" else row[c] for c in COLUMNS])
            cursor.execute(
                "UPDATE audit_auditchainhead SET last_seq = %s, last_hash = %s WHERE id = 1", (n, row["hash"])
            )
            cursor.execute("ANALYZE audit_auditevent")
    else:
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        placeholders = ", ".join("?" for _ in COLUMNS)
        batch = []
        for row in synthetic_events(n):
            values = [row[c] for c in COLUMNS]
            values[1] = row["created_at"].strftime("%Y-%m-%d %H:%M:%S.%f")
            values[11] = json.dumps(row["payload"])
            batch.append(values)
            if len(batch) == 20_000:
                conn.executemany(f"INSERT INTO audit_auditevent ({', '.join(COLUMNS)}) VALUES ({placeholders})", batch)
                batch.clear()
        conn.executemany(f"INSERT INTO audit_auditevent ({', '.join(COLUMNS)}) VALUES ({placeholders})", batch)
        conn.execute("UPDATE audit_auditchainhead SET last_seq = ?, last_hash = ? WHERE id = 1", (n, row["hash"]))
        conn.commit()
        conn.execute("ANALYZE")
        conn.close()
    return time.perf_counter() - started


def manage(env: dict, *args: str, capture=True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=capture, text=True, check=False
    )


EXPORT_SCRIPT = """
import os, resource, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
user = get_user_model().objects.get(username="bench-auditor")
client = Client()
client.force_login(user)
started = time.perf_counter()
response = client.get("/audit/export.jsonl")
count = 0
with open(sys.argv[1], "wb") as out:
    for chunk in response.streaming_content:
        out.write(chunk)
        count += chunk.count(b"\\n")
elapsed = time.perf_counter() - started
print(count, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="scp-audit-bench-"))
    if args.sqlite:
        database_url = f"sqlite:///{workdir / 'audit.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB}")
            conn.execute(f"CREATE DATABASE {SCRATCH_DB}")
        database_url = f"{PG_SERVER}/{SCRATCH_DB}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "ALLOWED_HOSTS": "testserver,localhost",
        "DEBUG": "true",
    }
    try:
        result = manage(env, "migrate", "-v0")
        assert result.returncode == 0, result.stderr
        load_seconds = load(args.events, database_url)
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group
        from django.test import Client

        from portal.audit.models import AuditEvent

        user = get_user_model().objects.create_superuser("bench-auditor", password="x")  # noqa: S106
        user.groups.add(Group.objects.get_or_create(name="auditor")[0])
        client = Client()
        client.force_login(user)  # one sign-in event; the chain stays valid

        def median_ms(url: str) -> float:
            client.get(url)  # warm
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            return statistics.median(times)

        success = AuditEvent.objects.filter(outcome="success").order_by("-seq")
        cursor = success.values_list("seq", flat=True)[DEPTH]  # set-up only: where page 1,001 begins
        per_page = 100  # the admin's default list_per_page
        pages = {
            "portal first page": "/audit/?outcome=success",
            "portal depth 50,000": f"/audit/?outcome=success&before={cursor + 1}",
            "admin first page": "/admin/audit/auditevent/?outcome__exact=success",
            "admin depth 50,000": f"/admin/audit/auditevent/?outcome__exact=success&p={DEPTH // per_page + 1}",
        }
        figures = {name: median_ms(url) for name, url in pages.items()}
        # Free text in the payload: a term in half the events, one only the fourth event has (the worst
        # case for newest-first paging, which must read the whole table to fill a page), and one in between.
        figures["portal text, common term"] = median_ms("/audit/?q=kr-west1")
        figures["portal text, one old event"] = median_ms("/audit/?q=" + quote('event 4"'))
        figures["portal text, 1 in 5,000"] = median_ms("/audit/?q=" + quote(f"{1234:08x}-5d4b"))

        export_file = workdir / "export.jsonl"
        exported = subprocess.run(
            [sys.executable, "-c", EXPORT_SCRIPT, str(export_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        count, export_seconds, peak_kb = exported.stdout.split()
        started = time.perf_counter()
        verified = manage(env, "audit_verify")
        verify_seconds = time.perf_counter() - started
        started = time.perf_counter()
        verified_file = manage(env, "audit_verify", "--file", str(export_file))
        verify_file_seconds = time.perf_counter() - started
    finally:
        from django.db import connections

        connections.close_all()
        if not args.sqlite:
            import psycopg

            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
    print(f"database={'sqlite' if args.sqlite else 'postgresql'} events={args.events:,} load_s={load_seconds:.1f}")
    for name, value in figures.items():
        print(f"{name + ' (median of 20):':36} {value:8.1f} ms")
    rate = int(count) / float(export_seconds)
    print(
        f"export JSONL: {int(count):,} events in {float(export_seconds):.1f} s = {rate:,.0f} events/s, "
        f"peak RSS {int(peak_kb) / 1024:.0f} MB"
    )
    print(f"audit_verify (database): {verify_seconds:.1f} s: {(verified.stdout + verified.stderr).strip()}")
    print(
        f"audit_verify --file:     {verify_file_seconds:.1f} s: {(verified_file.stdout + verified_file.stderr).strip()}"
    )
    print(f"ratio={figures['admin depth 50,000'] / figures['portal depth 50,000']:.1f}")


if __name__ == "__main__":
    main()
