"""Start everything a newcomer needs, in one terminal: the SCP simulator, the task worker and the portal."""

import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.run import stop as stop_all
from portal.run import worker_command

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_RESTARTS = 5  # restarts of one child within RESTART_WINDOW seconds before everything stops
RESTART_WINDOW = 60.0


class Command(BaseCommand):
    help = "Run the simulator (when SCP points at this machine), the db_worker, the scheduler and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the portal listens")
        parser.add_argument("--no-simulator", action="store_true", help="do not start the local SCP simulator")

    def handle(self, *args, addr: str, no_simulator: bool, **options):
        config = settings.CONFIG
        manage = [sys.executable, "manage.py"]
        commands: dict[str, list[str]] = {}
        scp = urlsplit(str(config.scp_virtualserver_url))
        if not no_simulator and scp.hostname in LOCAL_HOSTS:
            commands["simulator"] = [*manage, "scp_simulator", "--host", scp.hostname, "--port", str(scp.port or 80)]
        commands["worker"] = worker_command("0.05", "--verbosity", "1")
        commands["scheduler"] = [*manage, "scheduler", "--interval", "60"]
        commands["web"] = [*manage, "runserver", addr, "--noreload"]
        processes = {name: subprocess.Popen(command) for name, command in commands.items()}  # noqa: S603
        restarts: dict[str, list[float]] = {name: [] for name in commands}
        time.sleep(1.5)
        self.stdout.write(
            self.style.SUCCESS(f"\nPortal: http://{addr}/   (Ctrl-C stops everything)\n")
            + "Demo users: web-requester, web-approver, apps-requester, apps-approver, apps-auditor (one team each);\n"
            "requester, approver (both teams); auditor (everything); admin (Django admin) — password: "
            f"{config.demo_password.get_secret_value()}\n"
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, process in processes.items():
                    if process.poll() is None:
                        continue
                    # A child that died is started again (a killed worker, a crashed scheduler); one that keeps
                    # dying is a configuration problem, and everything stops with its name.
                    now = time.monotonic()
                    restarts[name] = [t for t in restarts[name] if now - t < RESTART_WINDOW] + [now]
                    if len(restarts[name]) > MAX_RESTARTS:
                        self.stderr.write(
                            f"{name} exited {MAX_RESTARTS + 1} times within {RESTART_WINDOW:g} s "
                            f"(last code {process.returncode}); stopping everything"
                        )
                        stopping = True
                        break
                    self.stderr.write(f"{name} exited with {process.returncode}; starting it again")
                    processes[name] = subprocess.Popen(commands[name])  # noqa: S603
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop_all(processes.values())
