"""Start the simulator, the portal (gunicorn) and the worker on free ports over a temporary database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from portal.run import worker_command

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@contextlib.contextmanager
def stack(*, sim_args: list[str], env: dict[str, str], with_portal: bool = True, workers: int = 1):
    """Yield (environment, portal URL); everything stops on exit."""
    sim_port, web_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="scp-bench-"))
    environment = {
        **os.environ,
        "SCP_VIRTUALSERVER_URL": f"http://127.0.0.1:{sim_port}/virtualserver",
        "SCP_VPC_URL": f"http://127.0.0.1:{sim_port}/vpc",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "TASKS_BACKEND": "database",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "true",  # the simulator's demo keys
        **env,
    }
    processes = []

    def start(*args: str) -> None:
        with open(
            workdir / f"{len(processes)}-{args[1].replace('/', '_')}.log", "w"
        ) as log:  # the child keeps its copy
            processes.append(subprocess.Popen([PYTHON, *args], cwd=ROOT, env=environment, stdout=log, stderr=log))  # noqa: S603

    try:
        start("manage.py", "scp_simulator", "--port", str(sim_port), "--control", *sim_args)
        if with_portal:
            subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=environment, check=True)  # noqa: S603
            subprocess.run(
                [PYTHON, "manage.py", "seed_demo"],
                cwd=ROOT,
                env=environment,
                check=True,  # noqa: S603
                stdout=subprocess.DEVNULL,
            )
            start(
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
                "--threads",
                "4",
            )
            for _ in range(workers):
                start(*worker_command(os.environ.get("WORKER_INTERVAL", "0.05"), "--no-startup-delay")[1:])
            wait_for_port(web_port)
        wait_for_port(sim_port)
        print(f"logs in {workdir}", file=sys.stderr)
        yield environment, f"http://127.0.0.1:{web_port}"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


def attach_targets(environment: dict[str, str]):
    """Django set up against the stack, a direct ScpClient, and the (server, subnet) pairs the benches attach to
    (alternated, so that no server collects hundreds of interfaces)."""
    os.environ.update(environment)
    import django

    django.setup()
    from portal.core.scp import scp_client

    client = scp_client(audited=False)
    servers = {s.name: s for s in client.iter_servers()}
    subnets = {s.name: s for s in client.iter_subnets()}
    return client, [(servers[n].id, subnets[sn].id) for n, sn in (("web-01", "prod-db"), ("app-02", "prod-app"))]
