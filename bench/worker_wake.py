"""How soon an idle worker starts a task that is due now: the portal's `worker` (woken by its doorbell) against
django-tasks-db's `db_worker` polling at the same interval, side by side on one fresh database.

Each task is enqueued from this process (as the web does) while the worker is idle; the figure is the task row's
started_at − enqueued_at. Usage: python bench/worker_wake.py [--tasks 40] [--interval 0.05] [--database URL]
(default: a temporary SQLite file; pass a PostgreSQL URL to measure NOTIFY). Last line ratio=<doorbell / polling>.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(command: str, tasks: int, interval: float, env: dict[str, str], workdir: Path) -> list[float]:
    from django_tasks_db.models import DBTaskResult

    from portal.core.tasks import worker_heartbeat

    args = [sys.executable, "manage.py", command, "--queue-name", "*", "--interval", str(interval)]
    with open(workdir / f"{command}.log", "w") as log:
        worker = subprocess.Popen([*args, "--no-reload", "--no-startup-delay"], cwd=ROOT, env=env, stderr=log)  # noqa: S603
    try:
        time.sleep(3)  # started and idle (its first poll found nothing)
        latencies = []
        for _ in range(tasks):
            enqueued = worker_heartbeat.enqueue()
            deadline = time.monotonic() + 30
            while (row := DBTaskResult.objects.get(pk=enqueued.id)).finished_at is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} never ran the task; see {workdir}")
                time.sleep(0.002)
            latencies.append((row.started_at - row.enqueued_at).total_seconds() * 1000)
            time.sleep(0.1 + random.uniform(0, interval))  # noqa: S311 (idle again, at any point of its poll)
        return latencies
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--database", default="")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="worker-wake-"))
    env = {
        **os.environ,
        "DATABASE_URL": options.database or f"sqlite:///{workdir / 'wake.sqlite3'}",
        "TASKS_BACKEND": "database",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "true",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    os.environ.update(env)
    import django

    django.setup()
    figures = {}
    for command in ("db_worker", "worker"):
        figures[command] = statistics.median(measure(command, options.tasks, options.interval, env, workdir))
    print(f"tasks={options.tasks} interval_s={options.interval:g} database={env['DATABASE_URL'].split(':')[0]}")
    print(f"db_worker (polling) start latency median: {figures['db_worker']:.1f} ms")
    print(f"worker (doorbell) start latency median:   {figures['worker']:.1f} ms")
    print(f"ratio={figures['worker'] / figures['db_worker']:.2f}")


if __name__ == "__main__":
    main()
