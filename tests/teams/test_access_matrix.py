"""Every URL × every role × own team, other team and anonymous: the status, and nothing of another team's in the
body. One access rule answers all of them (portal.interfaces.access); this matrix is its contract."""

import pytest

from portal.audit.models import AuditEvent
from portal.drift.services import drift_scan
from portal.interfaces.models import Status

from .conftest import FIXED_IP, SECRET_JUSTIFICATION

HX = {"HTTP_HX_REQUEST": "true"}

# role -> expected status, per URL. "web_*" are the request's own team, "apps_*" another team.
ROLES = ["web_req", "web_appr", "web_aud", "apps_req", "apps_appr", "apps_aud", "global_aud", "nobody", "anonymous"]


def urls(world, request, event_seq):
    server = world.servers["web-01"].id
    subnet = world.subnets["prod-db"].id
    return {
        "request page": ("get", f"/requests/{request.pk}/", {}, {}),
        "request status fragment": ("get", f"/requests/{request.pk}/?fragment=status", {}, HX),
        "cancel confirmation": ("get", f"/requests/{request.pk}/cancel/", {}, {}),
        "cancel": ("post", f"/requests/{request.pk}/cancel/", {"confirm": "yes"}, {}),
        "decide (htmx)": ("post", f"/approvals/{request.pk}/decide/", {"decision": "maybe"}, HX),
        "decide (form)": ("post", f"/approvals/{request.pk}/decide/", {"decision": "maybe"}, {}),
        "server page": ("get", f"/servers/{server}/", {}, {}),
        "attach form": ("get", f"/servers/{server}/attach/", {}, {}),
        "attach preview": ("post", f"/servers/{server}/attach/", {"action": "preview", "mode": "port"}, HX),
        "submit again": ("get", f"/servers/{server}/attach/?again={request.pk}", {}, {}),
        "check ip": ("get", f"/servers/{server}/attach/check-ip/?subnet_id={subnet}&fixed_ip={FIXED_IP}", {}, HX),
        "audit event": ("get", f"/audit/events/{event_seq}/", {}, {}),
        "audit filtered by request": ("get", f"/audit/?request_id={request.pk}", {}, {}),
        "audit export csv": ("get", f"/audit/export.csv?request_id={request.pk}", {}, {}),
        "audit export jsonl": ("get", "/audit/export.jsonl", {}, {}),
        "server list": ("get", "/servers/", {}, {}),
        "server search": ("get", "/servers/?q=web", {}, HX),
        "my requests": ("get", "/requests/", {}, {}),
        "approval queue": ("get", "/approvals/", {}, {}),
        "detach page": ("get", f"/servers/{server}/detach/{world.ports['web-01-eth0'].id}/", {}, {}),
        "drift report": ("get", "/drift/", {}, {}),
        "drift export": ("get", "/drift/export.csv", {}, {}),
        "drift scan now": ("post", "/drift/scan/", {}, {}),
        "profile": ("get", "/accounts/profile/", {}, {}),
        "preferences": ("post", "/accounts/preferences/", {"time_zone": ""}, {}),
        "language switch": ("post", "/language/", {"language": "en"}, {}),
    }


EXPECTED = {
    #                              web_req web_appr web_aud apps_req apps_appr apps_aud global nobody anon
    "request page": (200, 200, 200, 404, 404, 404, 200, 404, 302),
    "request status fragment": (200, 200, 200, 404, 404, 404, 200, 404, 302),
    "cancel confirmation": (200, 404, 404, 404, 404, 404, 404, 404, 302),
    "cancel": (302, 404, 404, 404, 404, 404, 404, 404, 302),
    "decide (htmx)": (200, 200, 404, 404, 404, 404, 404, 404, 302),
    "decide (form)": (403, 403, 404, 404, 404, 404, 404, 404, 302),
    "server page": (200, 200, 200, 404, 404, 404, 404, 404, 302),
    "attach form": (200, 200, 403, 404, 404, 403, 403, 403, 302),
    "attach preview": (200, 200, 403, 404, 404, 403, 403, 403, 302),
    "submit again": (200, 404, 403, 404, 404, 403, 403, 403, 302),
    "check ip": (200, 200, 404, 404, 404, 404, 404, 404, 302),
    "audit event": (404, 404, 200, 404, 404, 404, 200, 404, 302),
    "audit filtered by request": (404, 404, 200, 404, 404, 200, 200, 404, 302),
    "audit export csv": (404, 404, 200, 404, 404, 200, 200, 404, 302),
    "audit export jsonl": (404, 404, 200, 404, 404, 200, 200, 404, 302),
    "server list": (200, 200, 200, 200, 200, 200, 200, 200, 302),
    "server search": (200, 200, 200, 200, 200, 200, 200, 200, 302),
    "my requests": (200, 200, 200, 200, 200, 200, 200, 200, 302),
    "approval queue": (403, 200, 403, 403, 200, 403, 403, 403, 302),
    "detach page": (409, 409, 403, 404, 404, 403, 403, 403, 302),
    "drift report": (404, 404, 200, 404, 404, 200, 200, 404, 302),
    "drift export": (404, 404, 200, 404, 404, 200, 200, 404, 302),
    "drift scan now": (404, 404, 302, 404, 404, 302, 302, 404, 302),
    "profile": (200, 200, 200, 200, 200, 200, 200, 200, 302),
    "preferences": (302, 302, 302, 302, 302, 302, 302, 302, 302),
    "language switch": (302, 302, 302, 302, 302, 302, 302, 302, 302),
}


def _body(response) -> str:
    if hasattr(response, "streaming_content"):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_its_audience_allows(client, org, sim, world, web_request, role):
    submitted = AuditEvent.objects.get(action="interface_request.submitted", interface_request_id=web_request.pk)
    web_server = world.servers["web-01"]
    # A drift finding on the web team's server: another team's auditor must not see it in the report or export.
    sim.out_of_band("add", server_id=web_server.id, subnet_id=world.subnets["prod-db"].id)
    drift_scan(trigger="test")
    if role != "anonymous":
        client.force_login(org.users[role])
    outsider = not role.startswith(("web_", "global"))
    for name, (method, url, data, headers) in urls(world, web_request, submitted.seq).items():
        response = getattr(client, method)(url, data, **headers)
        expected = EXPECTED[name][ROLES.index(role)]
        assert response.status_code == expected, f"{name} as {role}: {response.status_code}, expected {expected}"
        body = _body(response)
        assert "Traceback" not in body
        if outsider:
            for secret in (SECRET_JUSTIFICATION, FIXED_IP, web_server.id, web_server.name, "web-req"):
                assert secret not in body, f"{name} as {role} shows {secret!r}"
    web_request.refresh_from_db()
    assert web_request.status == (Status.CANCELLED if role == "web_req" else Status.PENDING_APPROVAL)


def test_refusals_are_audited_with_the_purpose(client, org, sim, world, web_request):
    client.force_login(org.users["apps_appr"])
    client.get(f"/requests/{web_request.pk}/")
    client.post(f"/approvals/{web_request.pk}/decide/", {"decision": "approve"})
    client.get(f"/servers/{world.servers['web-01'].id}/")
    denied = AuditEvent.objects.filter(outcome="denied", actor_name="apps-appr").order_by("seq")
    assert [(e.action, e.payload.get("purpose")) for e in denied] == [
        ("interface_request.access", "view"),
        ("interface_request.access", "decide"),
        ("server.access", "view"),
    ]
    assert all(e.payload["reason"] for e in denied)


def test_an_invalid_decision_value_is_a_refusal_in_the_audit_log(client, org, sim, web_request):
    client.force_login(org.users["web_appr"])
    response = client.post(f"/approvals/{web_request.pk}/decide/", {"decision": "approve!"}, **HX)
    assert response.status_code == 200 and "Choose Approve or Reject" in response.content.decode()
    event = AuditEvent.objects.filter(action="approval.decide", outcome="denied").get()
    assert event.actor_name == "web-appr" and event.interface_request_id == web_request.pk


@pytest.mark.parametrize("pk", ["0", "99999999999999999999", "-1"])
def test_request_ids_out_of_range_are_404_not_500(client, org, pk):
    client.force_login(org.users["web_req"])
    assert client.get(f"/requests/{pk}/").status_code == 404


def test_the_404_page_never_shows_the_url_resolvers_detail(client, org):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "portal.urls" not in body and "servers/&lt;str:server_id&gt;" not in body and "URLconf" not in body
    client.force_login(org.users["web_req"])
    body = client.get("/no/such/page/").content.decode()
    assert "portal.urls" not in body and "That page does not exist" in body


def test_outsiders_refused_attempts_are_for_auditors_not_the_requesters_timeline(client, org, sim, web_request):
    client.force_login(org.users["apps_appr"])
    client.get(f"/requests/{web_request.pk}/")
    client.force_login(org.users["web_req"])
    assert "apps-appr" not in client.get(f"/requests/{web_request.pk}/").content.decode()
    client.force_login(org.users["web_aud"])
    assert "apps-appr" in client.get(f"/audit/?request_id={web_request.pk}").content.decode()
