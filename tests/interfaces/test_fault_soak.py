"""The fault soak, small, in make test's PostgreSQL pass: attaches on db_worker processes while SCP fails in every
way the simulator knows, workers are SIGKILLed and their PostgreSQL connections dropped; then every request's
outcome is checked against the simulator's own request log and interfaces (bench/fault_soak.py runs it bigger and
prints the full table)."""

import pytest
from django.db import connection

from bench.fault_soak import soak
from portal.interfaces.models import InterfaceRequest, Status
from tests.approvals.test_concurrency import production_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def database_tasks(settings):
    if connection.vendor != "postgresql":
        pytest.skip("drops PostgreSQL connections: runs in make test's PostgreSQL pass")
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend"},
        "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    }


def assert_true_to_scp(report) -> None:
    print("\n" + report.table())
    assert report.false_successes == [], report.false_successes
    assert report.wrong_failures == [], report.wrong_failures
    assert report.duplicated == [], report.duplicated
    assert report.lost == [], report.lost  # none left executing or unknown
    assert report.unowned == [], report.unowned


def test_under_faults_kills_and_dropped_connections_every_outcome_is_true_to_scp(sim, world, requester, database_tasks):
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
    assert_true_to_scp(report)
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


def test_many_attaches_on_one_server_and_subnet_at_once_each_end_as_scp_says(sim, world, requester, database_tasks):
    """The case inference got wrong: a dozen automatic-address attaches beside fixed-IP and port attaches on the
    same server and subnet, submitted together, under apply-later, drop-after-apply, 5xx and slow answers, with 4
    workers and SIGKILLs. One write in flight per server leaves each new interface one request that can have made
    it: nothing ends wrongly failed, nothing stays unknown, no interface is left without its request."""
    report = soak(
        requester=requester,
        server_ids=[world.servers["web-01"].id],
        sim_url=sim.url,
        env=production_env(),
        attaches=20,
        workers=4,
        chaos=6,
        seed=11,
        deadline_seconds=600,
        same_server=True,
        kills_only=True,
    )
    assert_true_to_scp(report)
    hit = {kind.split(" (")[0].split(",")[0] for kind, n in report.faults.items() if n}
    assert {"SCP drop after apply", "SCP apply later", "worker SIGKILL"} <= hit, report.table()
    assert any(k.startswith("SCP error") for k in hit) and any(k.startswith("SCP late") for k in hit), report.table()
    automatic = InterfaceRequest.objects.filter(mode="subnet", fixed_ips=[]).count()
    assert automatic >= 12 and report.outcomes[Status.SUCCEEDED], (automatic, report.table())
