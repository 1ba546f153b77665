"""Control characters are refused at the edge with a clear 400, audited; the audit log stores no NUL anywhere.

Marked postgres: PostgreSQL refuses NUL in text and JSON, which is where these used to answer 500.
"""

import pytest

from portal.audit.events import AuditAction
from portal.audit.models import AuditEvent
from portal.audit.services import record_event

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(
    ("method", "url", "data", "where"),
    [
        ("get", "/servers/%00/attach/", {}, "path"),
        ("get", "/servers/%00/", {}, "path"),
        ("get", "/requests/1/%00", {}, "path"),
        ("get", "/servers/", {"q": "web\x00"}, "query"),
        ("get", "/audit/", {"actor": "a\x00b"}, "query"),
        ("get", "/servers/x/attach/check-ip/", {"subnet_id": "a\x00b", "fixed_ip": "1.2.3.4"}, "query"),
        ("get", "/servers/", {"q\x01": "x"}, "query"),
    ],
)
def test_a_control_character_is_a_clear_400_and_an_audit_event(client, requester, sim, method, url, data, where):
    client.force_login(requester)
    response = getattr(client, method)(url, data)
    assert response.status_code == 400
    assert "does not accept" in response.content.decode()
    event = AuditEvent.objects.get(action="request.rejected")
    assert event.payload["where"] == where and event.actor_name == "requester"
    assert "\x00" not in event.payload["path"]


@pytest.mark.parametrize(
    ("url", "data", "expected"),
    [
        ("/servers/{web}/attach/", {"action": "preview", "mode": "subnet", "subnet_id": "a\x00b"}, 200),
        (
            "/servers/{web}/attach/",
            {"action": "confirm", "mode": "port", "port_id": "p\x00", "justification": "a\x00"},
            200,
        ),
        ("/approvals/{pending}/decide/", {"decision": "reject", "comment": "no\x00 way"}, 200),
        ("/accounts/login/", {"username": "a\x00", "password": "x"}, 200),
    ],
)
def test_nul_in_form_fields_is_a_form_error_or_dropped_never_a_500(
    client, sim, world, requester, approver, settings, url, data, expected
):
    import uuid

    from portal.interfaces import services

    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    pending = services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="port",
        port_id=world.spare_port().id,
    )
    if "login" not in url:
        client.force_login(approver if "decide" in url else requester)
    response = client.post(url.format(web=world.servers["web-01"].id, pending=pending.pk), data, HTTP_HX_REQUEST="true")
    assert response.status_code == expected
    for event in AuditEvent.objects.all():
        assert "\x00" not in str(event.payload) and "\x00" not in event.target


def test_the_audit_log_stores_no_nul_and_the_chain_still_verifies(db):
    from portal.audit.services import audit_verify_database

    event = record_event(
        action=AuditAction.DRIFT_REQUESTED,
        outcome="failure",
        target="t\x00",
        payload={"k\x00": ["v\x00", {"x": "\x00"}]},
    )
    event.refresh_from_db()
    assert event.target == "t\ufffd" and event.payload == {"k\ufffd": ["v\ufffd", {"x": "\ufffd"}]}
    assert audit_verify_database().ok


def test_the_control_character_refusal_speaks_the_readers_language(client, requester, sim):
    client.force_login(requester)
    response = client.get("/servers/%00/", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 400
    text = response.content.decode()
    assert "제어 문자" in text and "잘못된 요청" in text and "does not accept" not in text
