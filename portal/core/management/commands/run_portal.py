"""Start everything a newcomer needs, in one terminal: the SCP simulator, the task worker and the portal."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.audit import checkpoints, note
from portal.config import BASE_DIR
from portal.run import stop as stop_all
from portal.run import worker_command

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
IDP_DIR = BASE_DIR / "tests" / "idp"  # npm's oidc-provider, as the tests run it (make run SSO=1 installs it)
IDP_USERS = IDP_DIR / "demo-users.json"
MAX_RESTARTS = 5  # restarts of one child within RESTART_WINDOW seconds before everything stops
RESTART_WINDOW = 60.0
WITNESS_ADDR = "127.0.0.1:7380"
WITNESS_NAME = "localhost/scp-portal/dev-witness"


class Command(BaseCommand):
    help = "Run the simulator (when SCP points at this machine), the db_worker, the scheduler and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the portal listens")
        parser.add_argument("--no-simulator", action="store_true", help="do not start the local SCP simulator")
        parser.add_argument(
            "--idp", action="store_true", help="also start the bundled test IdP where OIDC_ISSUER points (SSO=1)"
        )
        parser.add_argument(
            "--witness",
            metavar="KEY_FILE",
            help="also run a development witness of the audit log with this key (made if missing) on 127.0.0.1:7380",
        )

    def _witness(self, key_file: str) -> list[str]:
        """A witness on this machine (python -m portal.audit.witness), cosigning this portal's checkpoints: the
        children learn of it through AUDIT_WITNESSES."""
        key_path = Path(key_file)
        if not key_path.exists():
            key = note.Signer.generate(WITNESS_NAME, note.COSIGNATURE)
            key_path.touch(mode=0o600)
            key_path.write_text(key.text() + "\n", encoding="utf-8")
        try:
            vkey = note.Signer.from_text(key_path.read_text(encoding="utf-8")).verifier().vkey()
            log_vkey = checkpoints.signer().verifier().vkey()
        except (OSError, note.NoteError, checkpoints.CheckpointUnavailable) as exc:
            raise CommandError(f"--witness: {exc}") from None
        os.environ["AUDIT_WITNESSES"] = f"http://{WITNESS_ADDR} {vkey}"
        state = key_path.with_name(key_path.name.removesuffix(".key") + ".state.json")
        return [
            sys.executable,
            "-m",
            "portal.audit.witness",
            "serve",
            "--key",
            str(key_path),
            "--state",
            str(state),
            "--log",
            log_vkey,
            "--listen",
            WITNESS_ADDR,
        ]

    def _idp(self, addr: str) -> tuple[list[str], dict]:
        """The bundled test IdP (tests/idp), with the demo SSO users, answering to this portal only."""
        config = settings.CONFIG
        issuer = urlsplit(str(config.oidc_issuer or ""))
        node = shutil.which("node")
        if issuer.hostname not in LOCAL_HOSTS or not issuer.port:
            raise CommandError("--idp needs OIDC_ISSUER on this machine with a port (make run SSO=1 sets it)")
        if node is None or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
            raise CommandError("--idp needs node and the test IdP installed (make run SSO=1 runs npm ci in tests/idp)")
        port = addr.rpartition(":")[2]
        bases = [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost")]
        secret = config.oidc_client_secret.get_secret_value() if config.oidc_client_secret else ""
        env = {
            **os.environ,
            "PORT": str(issuer.port),
            "USERS_FILE": str(IDP_USERS),
            "MISCHIEF_FILE": os.devnull,
            "CLIENT_SECRET": secret,
            "REDIRECT_URIS": ",".join(f"{b}/oidc/callback/" for b in bases),
            "POST_LOGOUT_URIS": ",".join(f"{b}/accounts/login/" for b in bases),
        }
        return [node, "provider.mjs"], {"cwd": IDP_DIR, "env": env}

    def handle(self, *args, addr: str, no_simulator: bool, idp: bool, witness: str | None = None, **options):
        config = settings.CONFIG
        manage = [sys.executable, "manage.py"]
        commands: dict[str, list[str]] = {}
        options_of: dict[str, dict] = {}
        if idp:
            commands["idp"], options_of["idp"] = self._idp(addr)
        if witness:
            commands["witness"] = self._witness(witness)
        scp = urlsplit(str(config.scp_virtualserver_url))
        if not no_simulator and scp.hostname in LOCAL_HOSTS:
            commands["simulator"] = [*manage, "scp_simulator", "--host", scp.hostname, "--port", str(scp.port or 80)]
        commands["worker"] = worker_command("0.05", "--verbosity", "1")
        commands["scheduler"] = [*manage, "scheduler", "--interval", "60"]
        commands["web"] = [*manage, "runserver", addr, "--noreload"]

        def start(name: str) -> subprocess.Popen:
            return subprocess.Popen(commands[name], **options_of.get(name, {}))  # noqa: S603

        processes = {name: start(name) for name in commands}
        time.sleep(1.5)
        self._banner(addr, idp=idp, witness=bool(witness))
        self._supervise(processes, start)

    def _banner(self, addr: str, *, idp: bool, witness: bool = False) -> None:
        config = settings.CONFIG
        self.stdout.write(
            self.style.SUCCESS(f"\nPortal: http://{addr}/   (Ctrl-C stops everything)\n")
            + "Demo users: web-requester, web-approver, apps-requester, apps-approver, apps-auditor (one team each);\n"
            "requester, approver (both teams); auditor (everything); admin (Django admin) — password: "
            f"{config.demo_password.get_secret_value()}\n"
        )
        if witness:
            self.stdout.write(
                f"Audit log: a checkpoint every {config.audit_checkpoint_interval} s, cosigned by a development "
                f"witness on {WITNESS_ADDR}.\n"
            )
        if idp:
            self.stdout.write(
                f"Single sign-on: the test IdP at {config.oidc_issuer}; choose *Sign in with single sign-on* and "
                f"type one of {', '.join(json.loads(IDP_USERS.read_text()))} (any password).\n"
            )

    def _supervise(self, processes: dict[str, subprocess.Popen], start) -> None:
        """Until SIGTERM or Ctrl-C: a child that dies is started again; then every child is stopped."""
        restarts: dict[str, list[float]] = {name: [] for name in processes}
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
                    processes[name] = start(name)
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop_all(processes.values())
