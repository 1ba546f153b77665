"""Lost answers never make duplicate ports: every request is settled by reconciliation, never re-sent."""

import uuid
from collections import Counter

import pytest
from django.core.management import call_command

from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status

REQUESTS = 24


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_drop_and_late_faults_leave_no_duplicate_ports_and_every_request_settled(sim, world, scp, requester, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_read_timeout": 0.4})
    sim.faults(drop_after_apply_rate=0.35, late_after_apply_rate=0.5, late_seconds=0.7, seed=11)
    servers = [world.servers[n] for n in ("web-01", "app-02", "web-10", "app-05")]
    for i in range(REQUESTS):
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification=f"fault {i}",
            server_id=servers[i % 4].id,
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
            fixed_ips=[f"192.168.20.{100 + i}"],
        )
    call_command("reconcile")  # whatever the inline reconciliation could not settle
    statuses = Counter(InterfaceRequest.objects.values_list("status", flat=True))
    assert set(statuses) <= {Status.SUCCEEDED, Status.FAILED}, statuses
    faults = Counter((r["fault"] or "").split(" (")[0] for r in sim.attach_posts())
    assert faults["drop after apply"] >= 3 and faults["late after apply"] >= 3, faults  # the faults really hit
    assert len(sim.attach_posts()) == REQUESTS  # never a second POST
    assert AuditEvent.objects.filter(action="interface_request.unknown").count() >= 6
    addresses = Counter(
        ip for server in servers for interface in scp.list_server_interfaces(server.id) for ip in interface.addresses
    )
    assert max(addresses.values()) == 1  # no address twice: no duplicate ports
    for request in InterfaceRequest.objects.all():
        attached = addresses[request.fixed_ips[0]] == 1
        assert attached == (request.status == Status.SUCCEEDED), (request.pk, request.status, request.status_reason)
