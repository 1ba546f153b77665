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
os.environ.setdefault("SCP_VIRTUALSERVER_URL", f"{_sim}/virtualserver")
os.environ.setdefault("SCP_VPC_URL", f"{_sim}/vpc")
os.environ.setdefault("TASKS_BACKEND", "immediate")
os.environ.setdefault("SCP_POLL_INTERVAL", "0.05")
os.environ.setdefault("SCP_SETTLE_TIMEOUT", "10")
os.environ.setdefault("SCP_READ_TIMEOUT", "1.5")
os.environ.setdefault("SCP_CONNECT_TIMEOUT", "1")
os.environ.setdefault("DEMO_PASSWORD", "test-pass-2026")
os.environ.setdefault(
    "DEBUG", "true"
)  # the development defaults (demo keys); the tests of production settings set their own
os.environ.setdefault("APPROVAL_DEFAULT", "auto")
# Playwright's sync API runs an event loop in the test thread; the ORM calls our tests make there are fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
