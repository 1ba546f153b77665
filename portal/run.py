"""How the portal's processes start in production: one place, used by the Dockerfile, compose.yaml and the
production-mode test, so that what is tested is what is deployed.

    python -m portal.run web | worker | scheduler | migrate | collectstatic | check | simulator [extra args]

Settings come from the environment (see the README); these variables shape the commands themselves:
PORT (8000), BIND_HOST (0.0.0.0), WEB_CONCURRENCY (3), FORWARDED_ALLOW_IPS (127.0.0.1),
WORKER_INTERVAL (0.05 s between queue polls: a task due now rings the worker awake, the polls find those due
later), SCHEDULER_INTERVAL (60 s), SIMULATOR_PORT (8001).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_command(interval: str = "0.05", *extra: str) -> list[str]:
    """The task worker as every place starts it: production, `make run`, the tests and the benches."""
    manage = str(ROOT / "manage.py")
    return [sys.executable, manage, "worker", "--queue-name", "*", "--interval", interval, "--no-reload", *extra]


def commands(env: dict[str, str] | None = None) -> dict[str, list[str]]:
    env = os.environ if env is None else env
    python, manage = sys.executable, str(ROOT / "manage.py")
    return {
        "web": [
            python, "-m", "gunicorn", "portal.wsgi:application",
            "--config", str(ROOT / "portal" / "gunicorn_conf.py"),
            "--bind", f"{env.get('BIND_HOST', '0.0.0.0')}:{env.get('PORT', '8000')}",  # noqa: S104 (in a container)
            "--workers", env.get("WEB_CONCURRENCY", "3"),
            "--forwarded-allow-ips", env.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        ],
        "worker": worker_command(env.get("WORKER_INTERVAL", "0.05")),
        "scheduler": [python, manage, "scheduler", "--interval", env.get("SCHEDULER_INTERVAL", "60")],
        "migrate": [python, manage, "migrate", "--noinput"],
        "collectstatic": [python, manage, "collectstatic", "--noinput"],
        "check": [python, manage, "check", "--deploy", "--fail-level", "WARNING"],
        "simulator": [python, manage, "scp_simulator", "--host", env.get("BIND_HOST", "0.0.0.0"),  # noqa: S104
                      "--port", env.get("SIMULATOR_PORT", "8001")],
    }  # fmt: skip


def stop(processes, *, timeout: float = 10) -> None:
    """Ask each process to stop (SIGTERM), give them `timeout` seconds together, then kill what is left."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str]) -> None:
    table = commands()
    if not argv or argv[0] not in table:
        sys.exit(f"usage: python -m portal.run {{{'|'.join(table)}}} [extra arguments]")
    command = table[argv[0]] + argv[1:]
    os.chdir(ROOT)
    os.execv(command[0], command)  # noqa: S606 (the process becomes the command: signals reach it directly)


if __name__ == "__main__":
    main(sys.argv[1:])
