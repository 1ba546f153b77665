"""The fault soak, small: 40 attaches on 3 db_worker processes while SCP fails in every way the simulator knows,
workers are SIGKILLed and their PostgreSQL connections dropped; then the simulator's interfaces are compared with
the portal's outcomes (bench/fault_soak.py runs it bigger and prints the full table)."""

import pytest
from django.db import connection

from bench.fault_soak import soak
from portal.interfaces.models import Status
from tests.approvals.test_concurrency import production_env


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_under_faults_kills_and_dropped_connections_every_outcome_is_true_to_scp(sim, world, requester, settings):
    if connection.vendor != "postgresql":
        pytest.skip("drops PostgreSQL connections: runs in make test's PostgreSQL pass")
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend"},
        "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    }
    servers = [world.servers[name].id for name in ("web-01", "app-02", "web-10", "app-05")]
    report = soak(
        requester=requester,
        server_ids=servers,
        sim_url=sim.url,
        env=production_env(),
        attaches=40,
        workers=3,
        chaos=10,
        seed=5,
        deadline_seconds=240,
    )
    print("\n" + report.table())
    assert report.duplicated == [], report.duplicated
    assert report.lost == [], report.lost
    assert report.untrue == [], report.untrue
    hit = {kind.split(" (")[0].split(",")[0] for kind, n in report.faults.items() if n}
    required = {
        "SCP drop after apply",
        "SCP late after apply",
        "SCP apply later",
        "worker SIGKILL",
        "database connection dropped",
    }
    assert required <= hit, report.table()
    assert any(k.startswith("SCP error") for k in hit), report.table()
    assert report.outcomes[Status.SUCCEEDED] and report.outcomes[Status.FAILED], report.table()
