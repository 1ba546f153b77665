"""Audit appends under contention: events a second with 1, 4 and 16 concurrent writer processes on PostgreSQL,
each appending through `record_event` (the chain head's row lock orders them), then the whole chain verified.

Usage: python bench/audit_append.py [--events 2000] [--writers 1 4 16] [--url postgres://postgres@127.0.0.1:5432/postgres]
A fresh database is created for the run and dropped after. The last line is
ratio=<events/s with the most writers / events/s with one writer>.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _writer(url: str, count: int, start, done) -> None:
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="portal.settings", DEBUG="true")
    import django

    django.setup()
    from portal.audit.events import AuditAction
    from portal.audit.models import Outcome
    from portal.audit.services import record_event

    record_event(action=AuditAction.DRIFT_REQUESTED, outcome=Outcome.SUCCESS)  # connect before the clock starts
    start.wait()
    for n in range(count):
        record_event(action=AuditAction.DRIFT_REQUESTED, outcome=Outcome.SUCCESS, payload={"n": n, "pid": os.getpid()})
    done.put(os.getpid())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000, help="events per run, shared among the writers")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--url", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    import psycopg

    name = f"bench_audit_{os.getpid()}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.url.rsplit("/", 1)[0] + f"/{name}"
    try:
        env = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "portal.settings"}
        import subprocess

        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
        context = multiprocessing.get_context("spawn")
        rates = {}
        for writers in args.writers:
            start, done = context.Event(), context.Queue()
            each = args.events // writers
            processes = [context.Process(target=_writer, args=(url, each, start, done)) for _ in range(writers)]
            for process in processes:
                process.start()
            time.sleep(3)  # every writer set up and connected
            began = time.perf_counter()
            start.set()
            for _ in processes:
                done.get(timeout=600)
            elapsed = time.perf_counter() - began
            for process in processes:
                process.join()
            rates[writers] = each * writers / elapsed
            print(
                f"{writers:>2} writer{'s' if writers > 1 else ' '}: {each * writers} events in {elapsed:.2f} s = "
                f"{rates[writers]:.0f} events/s"
            )
        os.environ.update(env)
        import django

        django.setup()
        from portal.audit.services import audit_verify_database

        verdict = audit_verify_database()
        print(f"chain after the runs: {verdict.message}")
        if not verdict.ok:
            raise SystemExit(1)
        print(f"ratio={rates[max(args.writers)] / rates[min(args.writers)]:.2f}")
    finally:
        if "django.db" in sys.modules and os.environ.get("DATABASE_URL") == url:
            from django.db import connections

            connections.close_all()
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
