"""Loaded by pytest (`-p tests.env`) before Django reads its settings: the test environment's defaults.

The simulator gets a free port chosen here, so the portal's settings point at it from the start.
"""

import os
import socket


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if "SIM_PORT" not in os.environ:
    os.environ["SIM_PORT"] = str(_free_port())
_sim = f"http://127.0.0.1:{os.environ['SIM_PORT']}"

# Forced, whatever the shell or a .env file holds: a shell set up for real work must never point the tests at a
# real cloud, with real keys, or at a real identity provider.
for name in [n for n in os.environ if n.startswith(("SCP_", "OIDC_"))]:
    del os.environ[name]
os.environ["PORTAL_IGNORE_DOTENV"] = "1"
os.environ["SCP_VIRTUALSERVER_URL"] = f"{_sim}/virtualserver"
os.environ["SCP_VPC_URL"] = f"{_sim}/vpc"
os.environ["SCP_POLL_INTERVAL"] = "0.05"
os.environ["SCP_SETTLE_TIMEOUT"] = "10"
os.environ["SCP_READ_TIMEOUT"] = "1.5"
os.environ["SCP_CONNECT_TIMEOUT"] = "1"
# A write not found after a lost answer is called not applied at once (the tests of the window set their own).
os.environ["LATE_APPLY_WINDOW_SECONDS"] = "0"
os.environ["DEBUG"] = "true"  # the development defaults: the simulator's demo keys
os.environ["PASSWORD_LOGIN"] = "on"

os.environ.setdefault("TASKS_BACKEND", "immediate")
os.environ.setdefault("DEMO_PASSWORD", "test-pass-2026")
os.environ.setdefault("APPROVAL_DEFAULT", "auto")
# Playwright's sync API runs an event loop in the test thread; the ORM calls our tests make there are fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
