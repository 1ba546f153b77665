"""One write in flight per server: while a write's outcome is open (executing, unknown, or not found yet inside
its late-apply window), the next write on that server waits, says for which request, and starts by itself once
that one has settled. Then every new interface has one request that can have made it."""

import datetime as dt
import time
import uuid

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.operations.ownership import ownership
from portal.scp import schemas


@pytest.fixture
def window(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"late_apply_window_seconds": 30})


def attach(world, **extra):
    return {
        "server_id": world.servers["web-01"].id,
        "mode": "subnet",
        "subnet_id": world.subnets["prod-app"].id,
        **extra,
    }


def test_a_write_not_found_yet_holds_its_server_and_the_next_one_waits_then_goes(
    sim, world, submit, window, client, requester, django_capture_on_commit_callbacks
):
    sim.faults(error_rate=1.0, error_statuses=[503], error_methods=["POST"])  # refused before applying, or not?
    first = submit(**attach(world))
    assert first.status == Status.UNKNOWN and first.late_until > timezone.now()
    assert "Not on the server yet" in first.status_reason and "no other change starts" in first.status_reason
    sim.faults()
    second = submit(**attach(world, fixed_ips=["192.168.10.90"]))
    assert second.status == Status.APPROVED and second.waits_for_id == first.pk
    assert f"Waits for request {first.pk} to settle on this server" in second.status_reason
    assert len(sim.attach_posts()) == 1  # the second sent nothing
    client.force_login(requester)
    assert f"Waits for request {first.pk}" in client.get(f"/requests/{second.pk}/").content.decode()

    # The window ends with nothing on the server: the first is not applied, and the second starts by itself.
    InterfaceRequest.objects.filter(pk=first.pk).update(late_until=timezone.now() - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.interface_request_reconcile(request_id=first.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.FAILED and first.status_reason.startswith("Not applied")
    assert second.status == Status.SUCCEEDED, second.status_reason
    assert second.waits_for_id is None and len(sim.attach_posts()) == 2
    waited = AuditEvent.objects.filter(interface_request_id=second.pk, action="interface_request.waiting")
    assert [e.payload["waits_for"] for e in waited] == [first.pk]


def test_a_write_scp_applies_inside_the_window_succeeds_and_never_reads_as_failed(sim, world, submit, window, scp):
    sim.faults(apply_later_rate=1.0, apply_later_seconds=0.2)
    request = submit(**attach(world))
    assert request.status == Status.UNKNOWN  # looked at once: nothing there yet
    sim.faults()
    deadline = timezone.now() + dt.timedelta(seconds=30)
    while not any(i.port_id not in request.ports_before for i in scp.list_server_interfaces(request.server_id)):
        assert timezone.now() < deadline, "the simulator never applied the write"
        time.sleep(0.05)
    request = services.interface_request_reconcile(request_id=request.pk)
    assert request.status == Status.SUCCEEDED, request.status_reason
    events = AuditEvent.objects.filter(interface_request_id=request.pk).values_list("action", flat=True)
    assert "interface_request.failed" not in events and "interface_request.reconciled" in events


def test_an_attach_claimed_by_a_worker_that_died_before_sending_is_run_again_not_failed(sim, world, requester):
    request = services.interface_request_submit(  # approved; its start (after the commit) is not run here
        requester=requester, idempotency_key=uuid.uuid4(), justification="Backup network", **attach(world)
    )
    long_ago = timezone.now() - dt.timedelta(hours=1)  # claimed, then its worker died before the write-ahead
    InterfaceRequest.objects.filter(pk=request.pk).update(status=Status.EXECUTING, claimed_at=long_ago)
    assert services.requests_reconcile_due() == 0
    request.refresh_from_db()
    assert request.status == Status.APPROVED and "stopped before sending anything" in request.status_reason
    assert sim.attach_posts() == []
    InterfaceRequest.objects.filter(pk=request.pk).update(next_attempt_at=timezone.now())  # its retry is due
    request = services.interface_request_execute(request_id=request.pk)
    assert request.status == Status.SUCCEEDED and len(sim.attach_posts()) == 1


def test_another_request_waiting_first_goes_first(sim, world, submit, window):
    sim.faults(error_rate=1.0, error_statuses=[503], error_methods=["POST"])
    first = submit(**attach(world))
    sim.faults()
    second = submit(**attach(world))
    InterfaceRequest.objects.filter(pk=first.pk).update(status=Status.FAILED)  # settled, but its wake not yet run
    third = submit(**attach(world, fixed_ips=["192.168.10.91"]))
    assert third.status == Status.APPROVED and third.waits_for_id == second.pk  # first come, first served


def interface(port_id, *addresses):
    return schemas.InterfaceResponse(
        port_id=port_id, subnet_id="net", fixed_ips=[{"ip_address": a} for a in addresses or ("10.0.0.9",)]
    )


def req(pk, status, fixed_ips=(), **extra):
    fields = {"server_id": "srv", "mode": "subnet", "subnet_id": "net", "ports_before": ["old"], "status": status}
    return InterfaceRequest(pk=pk, fixed_ips=list(fixed_ips), **{**fields, **extra})


def test_ownership_two_watched_automatic_requests_never_settle_each_other_and_an_open_one_never_waits_on_them(db):
    """The deadlock the old inference had: watched requests contesting each other forever, and an unknown one
    ignoring them while they waited for it. Now an open request owns the one new interface it can have made."""
    watched_a = req(1, Status.FAILED, watch_until=timezone.now())
    watched_b = req(2, Status.FAILED, watch_until=timezone.now())
    open_ = req(3, Status.UNKNOWN)
    new = interface("new")
    assert ownership(open_, [new], rivals=[watched_a, watched_b]).interface == new
    contested = ownership(watched_a, [new], rivals=[watched_b])
    assert contested.interface is None and "request(s) 2" in contested.undecided
    assert ownership(watched_a, [new], rivals=[watched_b, open_]).interface is None
    named = req(4, Status.FAILED, ["10.0.0.9"], watch_until=timezone.now())
    assert ownership(named, [new], rivals=[watched_a, open_]).interface == new  # it named the address
    assert ownership(open_, [new], rivals=[named]).interface is None  # so it is not the open one's
    # A write SCP answered made the port it answered with, and nothing else: it contends for no other interface.
    answered = req(5, Status.EXECUTING, result_port_id="its-own")
    assert ownership(open_, [new, interface("its-own", "10.0.0.5")], rivals=[answered]).interface == new
