"""Start everything a newcomer needs, in one terminal: the SCP simulator, the task worker and the portal."""

import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class Command(BaseCommand):
    help = "Run the simulator (when SCP points at this machine), the db_worker, the scheduler and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the portal listens")
        parser.add_argument("--no-simulator", action="store_true", help="do not start the local SCP simulator")

    def handle(self, *args, addr: str, no_simulator: bool, **options):
        config = settings.CONFIG
        manage = [sys.executable, "manage.py"]
        processes: dict[str, subprocess.Popen] = {}
        scp = urlsplit(str(config.scp_virtualserver_url))
        if not no_simulator and scp.hostname in LOCAL_HOSTS:
            processes["simulator"] = subprocess.Popen(  # noqa: S603
                [*manage, "scp_simulator", "--host", scp.hostname, "--port", str(scp.port or 80)]
            )
        processes["worker"] = subprocess.Popen(  # noqa: S603
            [*manage, "db_worker", "--queue-name", "*", "--interval", "0.05", "--no-reload", "--verbosity", "1"]
        )
        processes["scheduler"] = subprocess.Popen([*manage, "scheduler", "--interval", "60"])  # noqa: S603
        processes["web"] = subprocess.Popen([*manage, "runserver", addr, "--noreload"])  # noqa: S603
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
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with {process.returncode}; stopping the rest")
                        stopping = True
                        break
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
