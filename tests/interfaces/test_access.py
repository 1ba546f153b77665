"""Who may see what: anonymous users sign in first; a requester sees only their own requests."""

import re
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.interfaces import services


@pytest.mark.parametrize("path", ["/", "/servers/", "/requests/", "/requests/1/", "/servers/x/attach/"])
def test_anonymous_users_are_sent_to_sign_in(client, db, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_requester_cannot_see_someone_elses_request(client, sim, world, requester, other_requester):
    request = services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="mine",
        server_id=world.servers["web-01"].id,
        mode="port",
        port_id=world.spare_port().id,
    )
    client.force_login(other_requester)
    response = client.get(f"/requests/{request.pk}/")
    assert response.status_code == 404 and b"mine" not in response.content
    assert client.post(f"/requests/{request.pk}/cancel/").status_code == 404
    denials = AuditEvent.objects.filter(action="interface_request.access", outcome="denied").order_by("seq")
    assert list(denials.values_list("actor_name", "payload__purpose")) == [("other", "view"), ("other", "cancel")]
    client.force_login(requester)
    assert client.get(f"/requests/{request.pk}/").status_code == 200


def test_my_requests_lists_only_mine_newest_first(client, sim, world, requester, other_requester):
    for user, note in ((requester, "first"), (other_requester, "theirs"), (requester, "second")):
        services.interface_request_submit(
            requester=user,
            idempotency_key=uuid.uuid4(),
            justification=note,
            server_id=world.servers["web-01"].id,
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
        )
    client.force_login(requester)
    page = client.get("/requests/").content.decode()
    rows = re.findall(r'<a href="/requests/\d+/">', page)
    assert len(rows) == 2


def test_a_user_without_the_requester_role_gets_no_attach_form(client, sim, world, auditor):
    client.force_login(auditor)
    response = client.get(f"/servers/{world.servers['web-01'].id}/attach/")
    assert response.status_code == 403 and b"Requester role needed" in response.content


def test_sign_in_success_failure_and_sign_out_are_audited(client, requester):
    client.post("/accounts/login/", {"username": "requester", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post(
        "/accounts/login/",
        {"username": "requester", "password": "test-pass-2026"},
        REMOTE_ADDR="10.1.2.3",
        HTTP_USER_AGENT="pytest-browser",
    )
    client.post("/accounts/logout/")
    events = list(AuditEvent.objects.order_by("seq").values_list("action", "outcome", "actor_name"))
    assert events == [
        ("auth.login_failed", "failure", ""),
        ("auth.login", "success", "requester"),
        ("auth.logout", "success", "requester"),
    ]
    failed = AuditEvent.objects.get(action="auth.login_failed")
    assert failed.payload == {"username": "requester"} and failed.source_ip == "10.1.2.3"
    assert AuditEvent.objects.get(action="auth.login").user_agent == "pytest-browser"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(client, requester, settings):
    client.post(
        "/accounts/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    settings.CONFIG = settings.CONFIG.model_copy(update={"trusted_proxies": ["10.0.0.1"]})
    client.post(
        "/accounts/login/",
        {"username": "x", "password": "y"},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.1",
    )
    assert list(AuditEvent.objects.order_by("seq").values_list("source_ip", flat=True)) == ["10.0.0.1", "203.0.113.7"]


def test_server_and_port_names_from_the_api_are_escaped(requester_client, sim, world):
    page = requester_client.get("/servers/").content.decode()
    assert "web-01" in page
    # Names come from SCP; Django escapes them. A hostile name in the simulator is covered in tests/e2e.
    response = requester_client.get(f"/servers/{world.servers['web-01'].id}/")
    assert response.status_code == 200 and "182.197.61.81" in response.content.decode()


def test_submit_again_prefills_a_new_form_from_my_failed_request(client, sim, world, requester, other_requester):
    sim.faults(conflict_rate=1.0)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        failed = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="try again please",
            server_id=world.servers["web-01"].id,
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
            fixed_ips=["192.168.20.88"],
        )
    failed.refresh_from_db()
    assert failed.status == "failed"
    client.force_login(requester)
    page = client.get(f"/servers/{failed.server_id}/attach/?again={failed.pk}").content.decode()
    assert 'value="192.168.20.88"' in page and "try again please" in page
    assert str(failed.idempotency_key) not in page  # a new request, with a new key
    client.force_login(other_requester)
    page = client.get(f"/servers/{failed.server_id}/attach/?again={failed.pk}").content.decode()
    assert "try again please" not in page  # only one's own requests can be copied


def test_cancel_asks_first_and_only_the_confirmation_cancels(sim, world, requester, client, settings):
    import uuid

    from portal.interfaces import services
    from portal.interfaces.models import Status

    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    request = services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-db"].id,
    )
    client.force_login(requester)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert f'href="/requests/{request.pk}/cancel/"' in page  # a link to the question, not a button that acts
    question = client.get(f"/requests/{request.pk}/cancel/")
    assert question.status_code == 200 and "Yes, cancel the request" in question.content.decode()
    client.post(f"/requests/{request.pk}/cancel/")  # no confirmation: nothing happens
    request.refresh_from_db()
    assert request.status == Status.PENDING_APPROVAL
    client.post(f"/requests/{request.pk}/cancel/", {"confirm": "yes"})
    request.refresh_from_db()
    assert request.status == Status.CANCELLED


def test_the_server_list_shows_addresses_interfaces_and_vpc(sim, world, requester, client, scp):
    import re

    web01 = world.servers["web-01"]
    server = scp.get_server(web01.id)
    assert server.ip_addresses and server.interface_count == 1
    client.force_login(requester)
    page = client.get("/servers/", {"q": "web-01"}).content.decode()
    cell = r"<tr>\s*<td class=\"server-name\"><a href=\"/servers/" + web01.id + r"/\">"
    row = re.search(cell + r".*?</tr>", page, re.S).group(0)
    assert server.ip_addresses[0] in row and '<td class="interfaces">1</td>' in row and web01.vpc_id[:13] in row


def test_server_addresses_in_an_unexpected_shape_show_nothing_rather_than_failing():
    from portal.scp.schemas import Server

    odd = Server.model_validate({"id": "s", "addresses": [{"ip_addresses": "10.0.0.1"}, "x", {"ip_addresses": [1]}]})
    assert odd.ip_addresses == [] and odd.interface_count == 2
    assert Server.model_validate({"id": "s", "addresses": "none"}).interface_count is None
