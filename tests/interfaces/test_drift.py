"""The drift report finds every kind of out-of-band change made through the simulator's control endpoint."""

import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.drift.models import DriftFinding, DriftKind
from portal.drift.services import drift_scan
from portal.interfaces import services
from portal.interfaces.models import Status


@pytest.fixture
def attached_by_portal(sim, world, submit):
    request = submit(
        justification="through the portal",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
    )
    assert request.status == Status.SUCCEEDED
    return request


def kinds(run):
    return sorted((f.kind, f.server_name) for f in DriftFinding.objects.filter(run=run))


def test_no_drift_when_everything_is_explained(sim, world, attached_by_portal):
    run = drift_scan(trigger="test")
    assert run.error == "" and run.servers_checked == len(world.servers) and kinds(run) == []
    event = AuditEvent.objects.get(action="drift.scanned")
    assert event.payload["findings"] == 0 and event.payload["servers"] == len(world.servers)


def test_each_kind_of_out_of_band_change_is_found(sim, world, attached_by_portal, client, auditor):
    web01, app02 = world.servers["web-01"], world.servers["app-02"]
    added = sim.out_of_band("add", server_id=app02.id, subnet_id=world.subnets["prod-app"].id)
    sim.out_of_band("remove", port_id=attached_by_portal.result_port_id)
    broken = sim.out_of_band("add", server_id=web01.id, subnet_id=world.subnets["prod-db"].id)
    sim.out_of_band("error", port_id=broken)
    run = drift_scan(trigger="test")
    found = {(f.kind, f.port_id): f for f in DriftFinding.objects.filter(run=run)}
    assert set(found) == {
        (DriftKind.ADDED_OUTSIDE, added),
        (DriftKind.GONE, attached_by_portal.result_port_id),
        (DriftKind.ADDED_OUTSIDE, broken),
        (DriftKind.PORT_ERROR, broken),
    }
    assert found[(DriftKind.GONE, attached_by_portal.result_port_id)].request_id == attached_by_portal.pk
    assert AuditEvent.objects.get(action="drift.scanned").payload["by_kind"] == {
        "added_outside": 2,
        "gone": 1,
        "port_error": 1,
    }

    client.force_login(auditor)
    page = client.get("/drift/", {"kind": "gone"}).content.decode()
    assert attached_by_portal.result_port_id in page and added not in page
    export = b"".join(client.get("/drift/export.csv").streaming_content).decode().splitlines()
    assert len(export) == 5 and export[0].startswith('"run","run_started_at","kind"')
    metrics = client.get("/metrics").content.decode()
    assert 'portal_drift_findings{kind="added_outside"} 2.0' in metrics


def test_a_portal_detach_is_not_drift(sim, world, requester, attached_by_portal, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        detach = services.detach_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="done with it",
            server_id=attached_by_portal.server_id,
            port_id=attached_by_portal.result_port_id,
        )
    detach.refresh_from_db()
    assert detach.status == Status.SUCCEEDED
    assert kinds(drift_scan(trigger="test")) == []


def test_the_page_is_for_auditors_and_admins_and_scan_now_runs_it(
    sim, world, client, requester, auditor, django_capture_on_commit_callbacks
):
    client.force_login(requester)
    assert client.get("/drift/").status_code == 404
    assert AuditEvent.objects.filter(action="audit.access", outcome="denied").exists()
    client.force_login(auditor)
    assert "No drift scan has run yet." in client.get("/drift/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):  # its effect, delivered after the commit
        client.post("/drift/scan/")  # the tests' task backend runs it at once
    page = client.get("/drift/").content.decode()
    assert "No drift: everything SCP shows is explained" in page
    assert AuditEvent.objects.filter(action="drift.requested", actor_name="auditor").exists()


def test_scp_down_leaves_a_failed_run_with_the_reason(sim, world, settings, db):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver"})
    run = drift_scan(trigger="test")
    assert "SCP could not be read" in run.error and run.finished_at is not None
    assert AuditEvent.objects.get(action="drift.scanned").outcome == "failure"


def test_a_team_auditor_counts_and_links_only_what_it_may_open(
    sim, world, attached_by_portal, client, django_user_model
):
    from portal.teams.models import ServerOwnership, Team

    sim.out_of_band("add", server_id=world.servers["app-02"].id, subnet_id=world.subnets["prod-app"].id)
    sim.out_of_band("remove", port_id=attached_by_portal.result_port_id)
    run = drift_scan(trigger="test")
    assert run.findings_count == 2
    watchers = Team.objects.create(name="web-watchers")  # owns web-* too, but the request is another team's
    ServerOwnership.objects.create(team=watchers, kind="name_pattern", value="web-*")
    watcher = django_user_model.objects.create_user("watcher", password="x-pass-2026-long")
    watchers.auditors.add(watcher)
    assert attached_by_portal.team_id != watchers.pk
    client.force_login(watcher)
    page = client.get("/drift/").content.decode()
    assert "findings on your teams' servers: 1" in page and "findings in all" not in page
    assert attached_by_portal.result_port_id in page
    assert f"/requests/{attached_by_portal.pk}/" not in page  # it would be a 404 for them
    assert client.get(f"/requests/{attached_by_portal.pk}/").status_code == 404
