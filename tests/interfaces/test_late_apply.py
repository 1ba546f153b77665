"""SCP applies a write after reconciliation looked (its gateway answered 504, then SCP carried it out anyway).

Reconciliation finds nothing and the request fails as "not applied"; the periodic pass keeps looking at it and,
once the interface is there, settles the request as succeeded: "failed" never sits silently beside an interface
the request made. The simulator produces the late apply itself (`apply_later_rate`).
"""

import time
import uuid

from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.drift.models import DriftFinding
from portal.drift.services import drift_scan
from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status


def applied_late(sim) -> list[str]:
    """Wait until the simulator has carried out every write it put off; returns what each came to."""
    deadline = time.monotonic() + 15
    while True:
        later = [r["fault"] for r in sim.requests() if (r["fault"] or "").startswith("apply later")]
        if later and all(";" in fault for fault in later):
            return later
        assert time.monotonic() < deadline, f"the simulator never applied its late writes: {later}"
        time.sleep(0.05)


def look_now(request) -> None:
    """The backoff's next look is due (the first comes a minute after the request failed)."""
    InterfaceRequest.objects.filter(pk=request.pk).update(watch_next_at=timezone.now())


def actions(request):
    events = AuditEvent.objects.filter(interface_request_id=request.pk).order_by("seq")
    return list(events.values_list("action", flat=True))


def test_an_attach_applied_after_reconciliation_looked_is_settled_by_the_periodic_pass(
    sim, world, submit, scp, client, requester
):
    server = world.servers["web-01"]
    sim.faults(apply_later_rate=1.0, apply_later_seconds=0.3)
    request = submit(
        server_id=server.id, mode="subnet", subnet_id=world.subnets["prod-app"].id, fixed_ips=["192.168.10.77"]
    )
    assert request.status == Status.FAILED and request.status_reason.startswith("Not applied"), request.status_reason
    assert request.watch_until > timezone.now() and request.watch_next_at > timezone.now()
    client.force_login(requester)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'id="late-watch"' in page and "may still carry this out" in page
    sim.faults()
    assert applied_late(sim)[0].startswith("apply later; applied late")
    made = [i for i in scp.list_server_interfaces(server.id) if "192.168.10.77" in i.addresses]
    assert len(made) == 1

    # Until the request is settled, the drift report does not stay silent about the interface.
    assert [f.kind for f in DriftFinding.objects.filter(run=drift_scan(trigger="test"))] == ["added_outside"]
    assert services.requests_reconcile_due() == 0  # its next look is not due yet
    look_now(request)
    assert services.requests_reconcile_due() == 1
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED, request.status_reason
    assert request.status_reason.startswith("Applied late")
    assert request.result_port_id == made[0].port_id and request.watch_until is None
    assert actions(request)[-2:] == ["scp.call", "interface_request.applied_late"]
    assert len(sim.attach_posts()) == 1  # the POST was never sent again
    assert DriftFinding.objects.filter(run=drift_scan(trigger="test")).count() == 0
    assert 'id="late-watch"' not in client.get(f"/requests/{request.pk}/").content.decode()


def test_a_detach_applied_after_reconciliation_looked_is_settled_too(sim, world, submit, scp, requester):
    server = world.servers["web-01"]
    attached = submit(server_id=server.id, mode="subnet", subnet_id=world.subnets["prod-app"].id)
    assert attached.status == Status.SUCCEEDED
    sim.faults(apply_later_rate=1.0, apply_later_seconds=0.3)
    detach = services.detach_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="late detach",
        server_id=server.id,
        port_id=attached.result_port_id,
    )
    services.interface_request_execute(request_id=detach.pk)
    detach.refresh_from_db()
    assert detach.status == Status.FAILED and detach.status_reason.startswith("Not applied"), detach.status_reason
    sim.faults()
    assert applied_late(sim) == ["apply later; applied late"]
    look_now(detach)
    assert services.requests_watch_late() == 1
    detach.refresh_from_db()
    assert detach.status == Status.SUCCEEDED and detach.status_reason.startswith("Applied late")
    assert "interface_request.applied_late" in actions(detach)


def test_a_write_that_never_comes_is_watched_until_the_window_closes(sim, world, submit):
    sim.faults(error_rate=1.0, error_statuses=[502], error_methods=["POST"])  # refused before anything happened
    request = submit(server_id=world.servers["web-01"].id, mode="subnet", subnet_id=world.subnets["prod-app"].id)
    sim.faults()
    assert request.status == Status.FAILED and request.watch_until is not None
    look_now(request)
    assert services.requests_watch_late() == 0  # looked: nothing there
    request.refresh_from_db()
    assert request.status == Status.FAILED and request.watch_next_at > timezone.now()
    InterfaceRequest.objects.filter(pk=request.pk).update(watch_until=timezone.now())
    services.requests_watch_late()
    request.refresh_from_db()
    assert request.status == Status.FAILED and request.watch_until is None and request.watch_next_at is None
    assert actions(request)[-1] == "interface_request.watch_ended"
    services.requests_watch_late()  # once only
    assert actions(request).count("interface_request.watch_ended") == 1


def test_an_interface_with_a_fixed_ip_someone_named_is_never_claimed_by_a_request_for_an_automatic_address(db):
    """The request that named an address owns the interface carrying it, even while it is only watched; an
    automatic-address request whose own POST was not applied must not take it (it finds nothing instead)."""
    from portal.interfaces.operations.ownership import ownership as _ownership
    from portal.scp import schemas

    def req(pk, status, fixed_ips, **extra):
        return InterfaceRequest(
            pk=pk,
            server_id="srv",
            mode="subnet",
            subnet_id="net",
            fixed_ips=fixed_ips,
            ports_before=["old"],
            status=status,
            **extra,
        )

    automatic = req(1, Status.UNKNOWN, [])
    named = req(2, Status.FAILED, ["10.0.0.88"], watch_until=timezone.now())
    late = schemas.InterfaceResponse(port_id="late", subnet_id="net", fixed_ips=[{"ip_address": "10.0.0.88"}])
    verdict = _ownership(automatic, [late], rivals=[named])
    assert verdict.interface is None and not verdict.undecided  # not this request's: not applied
    assert _ownership(named, [late], rivals=[automatic]).interface == late
    # An address SCP chose: a watched request waits for the open one to settle first.
    chosen = schemas.InterfaceResponse(port_id="auto", subnet_id="net", fixed_ips=[{"ip_address": "10.0.0.7"}])
    watched = req(3, Status.FAILED, [], watch_until=timezone.now())
    assert _ownership(automatic, [chosen], rivals=[watched]).interface == chosen
    assert _ownership(watched, [chosen], rivals=[automatic]).undecided
