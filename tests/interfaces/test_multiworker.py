"""Several workers, SCP faults, one server and one subnet: the portal's outcomes against the simulator's truth.

40 attaches without fixed IPs run on 3 db_worker processes while SCP answers a third of the POSTs with a 5xx
before applying them and drops a quarter of the answers after applying. Every request that says succeeded must
own a port that exists, no port is credited twice, and a port nobody owns can only belong to a request that
says its outcome is still unknown.
"""

import uuid

import pytest

from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status
from tests.approvals.test_concurrency import race_approvers

REQUESTS = 40
FAULTS = {"error_rate": 0.35, "error_methods": ["POST"], "drop_after_apply_rate": 0.25, "latency_ms": 300}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_faults_under_several_workers_never_give_a_false_success(sim, world, scp, requester, approver, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    server = world.servers["web-01"]
    ports_before = {i.port_id for i in scp.list_server_interfaces(server.id)}
    requests = [
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification=f"load {i}",
            server_id=server.id,
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
        )
        for i in range(REQUESTS)
    ]
    sim.faults(**FAULTS)
    race_approvers(
        [approver.username], requests, workers=3, until=(Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN), timeout=120
    )
    sim.faults()  # SCP is healthy again; reconciliation settles what it can prove
    for _ in range(3):
        services.requests_reconcile_due()

    attached = {i.port_id for i in scp.list_server_interfaces(server.id)} - ports_before
    final = list(InterfaceRequest.objects.all())
    succeeded = [r for r in final if r.status == Status.SUCCEEDED]
    credited = [r.result_port_id for r in succeeded]
    unknown = [r for r in final if r.status == Status.UNKNOWN]
    unowned = attached - set(credited)
    counts = {status: sum(r.status == status for r in final) for status in Status.values}
    print(f"\nports attached {len(attached)}; requests {counts}; unowned {len(unowned)}")
    assert len(credited) == len(set(credited)), "a port is credited to two requests"
    assert set(credited) <= attached, "a request says succeeded with a port SCP does not have"
    assert len(unowned) <= len(unknown), "a port was attached for a request that says it failed"
    assert {r.status for r in final} <= {Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN}
    assert all(r.status_reason for r in unknown)  # an open outcome says why
