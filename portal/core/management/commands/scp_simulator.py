"""Run the SCP simulator as its own HTTP process (the portal itself never imports it)."""

import datetime as dt
import json
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.simulator.faults import FaultConfig, FaultInjector
from portal.simulator.server import Simulator, make_server, parse_versions
from portal.simulator.state import SimulatorState


class Command(BaseCommand):
    help = "Serve a faithful SCP stand-in (virtualserver and vpc) on one port."
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--servers", type=int, default=12, help="how many servers to generate (>= 12)")
        parser.add_argument("--seed", type=int, default=1, help="seed for the demo data and the faults")
        parser.add_argument("--settle-seconds", type=float, default=1.0, help="BUILD → ACTIVE delay of a new port")
        parser.add_argument("--today", type=dt.date.fromisoformat, help="pretend date for version expiry")
        parser.add_argument("--control", action="store_true", help="enable the /_sim/ control endpoints (tests)")
        parser.add_argument(
            "--versions",
            type=Path,
            help="a JSON version catalogue to publish instead of the default, "
            'e.g. {"virtualserver": [["1.3", "DEPRECATED", "2027-01-31"], ["1.4", "CURRENT", null]]}',
        )
        parser.add_argument("--latency-ms", type=float, default=0.0)
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument("--conflict-rate", type=float, default=0.0)
        parser.add_argument("--drop-after-apply-rate", type=float, default=0.0)
        parser.add_argument("--late-after-apply-rate", type=float, default=0.0)
        parser.add_argument("--late-seconds", type=float, default=5.0)

    def handle(self, *args, **options):
        if options["servers"] < 12:
            raise CommandError("--servers must be at least 12 (the demo set)")
        try:
            faults = FaultConfig.from_dict(
                {
                    "latency_ms": options["latency_ms"],
                    "error_rate": options["error_rate"],
                    "conflict_rate": options["conflict_rate"],
                    "drop_after_apply_rate": options["drop_after_apply_rate"],
                    "late_after_apply_rate": options["late_after_apply_rate"],
                    "late_seconds": options["late_seconds"],
                    "seed": options["seed"],
                }
            )
            versions = parse_versions(json.loads(options["versions"].read_text())) if options["versions"] else None
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        config = settings.CONFIG
        simulator = Simulator(
            credentials={config.scp_access_key: config.scp_secret_key.get_secret_value()},
            state=SimulatorState(
                seed=options["seed"], servers=options["servers"], settle_seconds=options["settle_seconds"]
            ),
            faults=FaultInjector(faults),
            control=options["control"],
            today=options["today"],
            versions=versions,
        )
        server = make_server(options["host"], options["port"], simulator)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        host, port = server.server_address[:2]
        self.stdout.write(f"SCP simulator listening on http://{host}:{port} ({options['servers']} servers)")
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
