"""SCP's published API versions: warned about ahead of the pinned version's Not Before date, refused after it."""

import datetime as dt
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.core.checks import check_scp_version_watch
from portal.core.models import ScpApiVersion
from portal.core.version_watch import scp_versions_refresh, version_refusal, version_watch
from portal.interfaces import services

TODAY = dt.datetime.now(dt.UTC).date()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


@pytest.fixture
def admin(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "x-pass-2026")


def publish(sim, not_before: str) -> None:
    sim.publish_versions(virtualserver=[["1.4", "CURRENT", None], ["1.3", "DEPRECATED", not_before]])


def test_the_default_catalogue_says_nothing_about_the_pinned_versions(sim, db):
    counts = scp_versions_refresh()
    assert counts == {"virtualserver": 4, "vpc": 3}
    assert ScpApiVersion.objects.get(service="virtualserver", version="1.2").not_before == dt.date(2026, 8, 31)
    assert [w.level for w in version_watch()] == ["ok", "ok"]
    assert check_scp_version_watch() == [] and version_refusal() is None


def test_within_ninety_days_admins_see_a_banner_get_one_mail_and_check_warns(sim, admin, requester, client, mailoutbox):
    publish(sim, days(30))
    scp_versions_refresh()
    [watch] = [w for w in version_watch() if w.level != "ok"]
    assert watch.service == "virtualserver" and "in 30 days" in watch.message
    assert "SCP_VIRTUALSERVER_API_VERSION" in watch.message
    [warning] = check_scp_version_watch()
    assert warning.id == "portal.W002" and "in 30 days" in warning.msg
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["root@example.com"]
    scp_versions_refresh()  # the next day's read: nothing new, no second mail
    assert len(mailoutbox) == 1
    assert AuditEvent.objects.filter(action="scp.version_warning").count() == 1
    client.force_login(admin)
    assert 'data-scp-version="virtualserver"' in client.get("/servers/").text
    client.force_login(requester)
    assert "data-scp-version" not in client.get("/servers/").text  # not the requester's business
    assert version_refusal() is None  # still callable


def test_past_the_date_an_approved_request_is_refused_before_anything_is_sent(
    sim, world, requester, approver, settings, django_capture_on_commit_callbacks
):
    from portal.interfaces.services.decisions import request_decide

    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    with django_capture_on_commit_callbacks(execute=True):
        request = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="approved after the date",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    assert request.status == "pending_approval"
    publish(sim, days(-1))  # meanwhile SCP's list says the pinned version's date has passed
    scp_versions_refresh()
    [error] = check_scp_version_watch()
    assert error.id == "portal.W003"
    sim.clear_log()
    with django_capture_on_commit_callbacks(execute=True):
        request_decide(request=request, user=approver, approve=True, parameters_digest=request.parameters_digest)
    request.refresh_from_db()
    assert request.status == "failed"
    assert "reached its Not Before date" in request.status_reason
    assert "SCP_VIRTUALSERVER_API_VERSION" in request.status_reason
    assert sim.requests() == []  # refused before sending anything at all
    failed = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.failed")
    assert failed.payload["stage"] == "api_version" and failed.payload["sent"] is False


def test_past_the_date_a_new_request_is_refused_with_the_reason(sim, world, requester):
    from portal.interfaces.errors import ScpUnavailable

    publish(sim, days(-1))
    scp_versions_refresh()
    sim.clear_log()
    with pytest.raises(ScpUnavailable, match="reached its Not Before date"):
        services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="after the date",
            server_id=world.servers["web-01"].id,
            mode="port",
            port_id=world.spare_port().id,
        )
    assert sim.requests() == []


def test_a_version_scp_stops_listing_is_a_warning(sim, db):
    sim.publish_versions(virtualserver=[["1.4", "CURRENT", None]])
    scp_versions_refresh()
    [watch] = [w for w in version_watch() if w.level != "ok"]
    assert watch.level == "warning" and "no longer lists virtualserver API version 1.3" in watch.message


def test_an_unreadable_catalogue_entry_is_skipped_not_a_crash(sim, db):
    sim.publish_versions(virtualserver=[["1.3", "CURRENT", None], ["banana", "SUPPORTED", None]])
    assert scp_versions_refresh()["virtualserver"] == 1


def test_the_simulator_refuses_calls_with_an_expired_version_too(sim, scp):
    from portal.scp.errors import ScpBadRequest

    publish(sim, days(-1))
    with pytest.raises(ScpBadRequest, match="no longer supported"):
        scp.list_servers()
