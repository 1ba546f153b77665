"""A fresh worker process's first burst of concurrent requests must not race to create the log context's
variables (structlog creates one per key on first use, unguarded; the loser's request answered 500 under
bench/load.py). The race window is too small to hit on demand, so this checks what removes it: every key is
created while settings load, before any request thread exists."""

import subprocess
import sys

from tests.conftest import ROOT

FRESH = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
import django
django.setup()
import structlog.contextvars
from portal.core.logs import CONTEXT_KEYS
created = {k.removeprefix("structlog_") for k in structlog.contextvars._CONTEXT_VARS}
print(sorted(set(CONTEXT_KEYS) - created))
"""


def test_a_fresh_process_has_every_log_context_variable_before_its_first_request():
    run = subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"
