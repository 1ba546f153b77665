import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection

from portal.audit.services import record_events_bulk
from tests.approvals.conftest import needs_approval, pending  # noqa: F401 (fixtures the outbox tests share)


@pytest.fixture
def events(db):
    """Append `n` varied events with a valid chain; returns n."""

    def make(n: int, **fields) -> int:
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        rows = [
            {
                "action": ("scp.call", "auth.login", "interface_request.submitted")[i % 3],
                "outcome": ("success", "failure", "denied", "pending")[i % 4],
                "actor_name": ("alice", "bob", "carol")[i % 3],
                "target": f"server-{i % 7}",
                "interface_request_id": i % 11 or None,
                "payload": {"i": i, "note": f"event number {i}"},
                "created_at": start + dt.timedelta(seconds=i),
                **fields,
            }
            for i in range(n)
        ]
        return record_events_bulk(rows)

    return make


@pytest.fixture
def raw_sql():
    """Run SQL as someone with database access would, the append-only triggers switched off first."""

    def run(*statements: str) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            for statement in statements:
                cursor.execute(statement)
            if connection.vendor == "postgresql":
                cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")

    return run


@pytest.fixture
def signing_key(settings, tmp_path):
    """A signing key for the audit log's checkpoints, made by the command an operator runs."""
    path = tmp_path / "audit.key"
    call_command("audit_checkpoint", "--new-key", str(path), stdout=io.StringIO())
    settings.CONFIG = settings.CONFIG.model_copy(update={"audit_signing_key_file": path})
    return path
