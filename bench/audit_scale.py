"""The audit log at a million events: review pages beside Django admin's changelist, export and verify beside
their limits, and the Merkle tree's cost.

PostgreSQL by default (a scratch database on 127.0.0.1:5432, dropped afterwards); --sqlite for a temporary file.
Usage: python bench/audit_scale.py [--events 1000000] [--sqlite]
The limits, run on the same rows in the same run (PostgreSQL only): `COPY (SELECT row_to_json(e) …) TO STDOUT`
read to the end (what any export must at least do), and the same COPY plus one SHA-256 a row (what any check of
every event's hash must at least do). The export's ratio is COPY/export and the verification's COPY+SHA/verify
(1.0: as fast as the limit). The tree: the first signed checkpoint over every event, a consistency proof between
two checkpoints, and a request's receipt (inclusion proofs).
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


def limits(database_url: str) -> tuple[float, float]:
    """Seconds for COPY of every event as JSON, and for the same COPY with one SHA-256 a row."""
    import hashlib

    import psycopg

    query = "COPY (SELECT row_to_json(e) FROM audit_auditevent e ORDER BY seq) TO STDOUT"
    figures = []
    for hashing in (False, True):
        with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
            started = time.perf_counter()
            with cursor.copy(query) as copy:
                if hashing:
                    for (row,) in copy.rows():
                        hashlib.sha256(row.encode()).digest()
                else:
                    for _ in copy:
                        pass
            figures.append(time.perf_counter() - started)
    return figures[0], figures[1]


TREE_SCRIPT = """
import sys, time
import django
django.setup()
from django.db import transaction
from portal.audit import checkpoints, proofs, receipts
from portal.audit.models import AuditEvent
from portal.audit.services import record_events_bulk
started = time.perf_counter()
first = checkpoints.checkpoint_make()
sign_first = time.perf_counter() - started
with transaction.atomic():
    record_events_bulk([{"action": "auth.login", "outcome": "success", "payload": {}} for _ in range(1000)])
started = time.perf_counter()
second = checkpoints.checkpoint_make()
sign_next = time.perf_counter() - started
started = time.perf_counter()
proof = proofs.consistency_between(first.size, second.size)
consistency = time.perf_counter() - started
request_id = AuditEvent.objects.exclude(interface_request_id=None).order_by("seq").values_list(
    "interface_request_id", flat=True).first()
started = time.perf_counter()
receipt = receipts.receipt_for(request_id)
receipt_s = time.perf_counter() - started
print(first.size, sign_first, sign_next, len(proof), consistency, receipt.events, receipt_s)
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
        copy_seconds, copy_sha_seconds = limits(database_url) if not args.sqlite else (None, None)
        key = workdir / "audit.key"
        assert manage(env, "audit_checkpoint", "--new-key", str(key)).returncode == 0
        tree = subprocess.run(
            [sys.executable, "-c", TREE_SCRIPT],
            cwd=ROOT,
            env={**env, "AUDIT_SIGNING_KEY_FILE": str(key)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
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
    if copy_seconds is not None:
        print(
            f"limit COPY as JSON: {copy_seconds:.1f} s; export ratio COPY/export = "
            f"{copy_seconds / float(export_seconds):.2f} (goal >= 0.5)"
        )
        print(
            f"limit COPY + SHA-256 a row: {copy_sha_seconds:.1f} s; verify ratio (COPY+SHA)/audit_verify = "
            f"{copy_sha_seconds / verify_seconds:.2f} (goal >= 0.5)"
        )
    size, sign_first, sign_next, proof_len, consistency, receipt_events, receipt_s = tree
    print(
        f"tree: first checkpoint over {int(size):,} events {float(sign_first):.1f} s; the next (+1,000) "
        f"{float(sign_next):.2f} s; consistency proof ({proof_len} hashes) {float(consistency):.1f} s; "
        f"receipt of {receipt_events} event(s) {float(receipt_s):.1f} s"
    )
    print(f"ratio={figures['admin depth 50,000'] / figures['portal depth 50,000']:.1f}")


if __name__ == "__main__":
    main()
