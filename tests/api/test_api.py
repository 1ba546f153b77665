"""The JSON API end to end over the real simulator: the same services, rules and audit events as the pages."""

import uuid

from portal.audit.models import AuditEvent
from portal.interfaces.models import InterfaceRequest
from tests.api.conftest import API


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_list_servers_and_one_server(sim, world, requester, api_as):
    api = api_as(requester, "read")
    page = api.get("/servers", q="web-0").json()
    names = {s["name"] for s in page["items"]}
    assert {"web-01", "web-04", "web-07"} <= names
    web01 = world.servers["web-01"]
    detail = api.get(f"/servers/{web01.id}").json()
    assert detail["server"]["name"] == "web-01" and detail["unavailable_reason"] is None
    assert all(i["port_id"] for i in detail["interfaces"])
    subnets = api.get(f"/servers/{web01.id}/subnets").json()
    assert {"prod-app", "prod-db"} <= {s["name"] for s in subnets}
    ports = api.get(f"/servers/{web01.id}/ports").json()
    assert world.spare_port().id in {p["id"] for p in ports}
    assert api.get("/servers", state="SHUTOFF").json()["items"] == [
        s for s in api.get("/servers", state="SHUTOFF").json()["items"] if s["state"] == "SHUTOFF"
    ]


def test_unknown_server_and_bad_query_are_problems(sim, world, requester, api_as):
    api = api_as(requester, "read")
    assert problem(api.get("/servers/no-such-server"), 404)["detail"] == "No such server."
    body = problem(api.get("/servers", state="MELTING"), 422)
    assert body["errors"][0]["field"] == "state"
    problem(api.get("/servers", marker="not a marker!"), 422)
    problem(api.client.get(f"{API}/nothing-here", headers=api.headers), 404)


def test_ip_check_as_you_type(sim, world, requester, api_as):
    api = api_as(requester, "read")
    web01, subnet = world.servers["web-01"], world.subnets["prod-db"]
    free = api.get(f"/servers/{web01.id}/ip-check", subnet_id=subnet.id, address="192.168.20.40").json()
    assert free == {"address": "192.168.20.40", "ok": True, "message": "192.168.20.40 is free."}
    outside = api.get(f"/servers/{web01.id}/ip-check", subnet_id=subnet.id, address="10.9.9.9").json()
    assert outside["ok"] is False and "192.168.20.0/24" in outside["message"]


def test_preview_shows_the_exact_call_and_records_nothing(sim, world, requester, api_as, attach_body):
    api = api_as(requester, "read", "request")
    web01 = world.servers["web-01"]
    response = api.post(
        f"/servers/{web01.id}/attach-preview", attach_body(fixed_ips=["192.168.20.41"], justification="")
    )
    assert response.status_code == 200, response.content
    call = response.json()["call"]
    assert call["method"] == "POST" and call["path"] == f"/v1/servers/{web01.id}/interfaces"
    assert call["body"] == {"subnet_id": world.subnets["prod-db"].id, "fixed_ips": [{"ip_address": "192.168.20.41"}]}
    assert InterfaceRequest.objects.count() == 0 and sim.attach_posts() == []


def test_a_submission_with_its_previews_check_asks_scp_nothing_more(sim, world, requester, api_as, attach_body):
    api = api_as(requester, "read", "request")
    web01 = world.servers["web-01"]
    preview = api.post(f"/servers/{web01.id}/attach-preview", attach_body(fixed_ips=["192.168.20.43"])).json()
    assert preview["check"]
    sim.clear_log()
    body = attach_body(fixed_ips=["192.168.20.43"], check=preview["check"])
    submitted = api.post(f"/servers/{web01.id}/attach-requests", body)
    assert submitted.status_code == 201, submitted.content
    calls = [r["method"] for r in sim.requests()]
    assert calls[0] == "POST"  # the write itself first (its execution ran at once here): no check read before
    assert InterfaceRequest.objects.get(pk=submitted.json()["id"]).check_facts["by"] == "preview"
    other = api.post(f"/servers/{web01.id}/attach-requests", attach_body(fixed_ips=["192.168.20.44"], check="x"))
    assert other.status_code == 201 and InterfaceRequest.objects.get(pk=other.json()["id"]).check_facts["by"] == (
        "submission"
    )  # a check that does not stand is ignored, never an error


def test_bad_input_gets_the_forms_wording_field_by_field(sim, world, requester, api_as, attach_body):
    api = api_as(requester, "request")
    web01 = world.servers["web-01"]
    body = problem(
        api.post(f"/servers/{web01.id}/attach-requests", attach_body(fixed_ips=["192.168.20.42", "192.168.20.42"])), 422
    )
    assert {"field": "fixed_ips[1]", "message": "192.168.20.42 is given more than once."} in body["errors"]
    body = problem(api.post(f"/servers/{web01.id}/attach-requests", attach_body(justification="")), 422)
    assert body["errors"] == [{"field": "justification", "message": "Say why this interface is needed."}]
    body = problem(api.post(f"/servers/{web01.id}/attach-requests", attach_body(fixed_ips=["10.1.1.1"])), 422)
    assert body["errors"][0]["field"] == "fixed_ips[0]" and "192.168.20.0/24" in body["errors"][0]["message"]
    problem(api.post(f"/servers/{web01.id}/attach-requests", {"mode": "sideways"}), 422)
    response = api.client.post(
        f"{API}/servers/{web01.id}/attach-requests", "{not json", content_type="application/json", headers=api.headers
    )
    assert problem(response, 400)["detail"] == "The request body is not valid JSON; nothing was done."
    invalid = AuditEvent.objects.filter(action="interface_request.invalid")
    assert invalid.count() >= 3 and all(e.payload["api_token"].startswith("scpp_") for e in invalid)
    assert InterfaceRequest.objects.count() == 0 and sim.attach_posts() == []


def test_submit_is_idempotent_per_key_and_poll_until_succeeded(sim, world, requester, api_as, attach_body):
    api = api_as(requester, "read", "request")
    web01 = world.servers["web-01"]
    key = str(uuid.uuid4())
    first = api.post(f"/servers/{web01.id}/attach-requests", attach_body(), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.content
    again = api.post(f"/servers/{web01.id}/attach-requests", attach_body(), headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert first["Location"] == f"/api/v1/attach-requests/{first.json()['id']}"
    other = api.post(
        f"/servers/{web01.id}/attach-requests",
        attach_body(subnet_id=world.subnets["prod-app"].id),
        headers={"Idempotency-Key": key},
    )
    assert "used for request" in problem(other, 409)["detail"]
    assert len(sim.attach_posts()) == 1
    done = api.get(f"/attach-requests/{first.json()['id']}")
    body = done.json()
    assert body["status"] == "succeeded" and body["poll"] == {
        "final": True,
        "retry_after": None,
        "waiting_for": "nothing: the request has ended",
    }
    assert "Retry-After" not in done and body["result"]["mac_addr"]
    mine = api.get("/attach-requests").json()
    assert [r["id"] for r in mine["items"]] == [body["id"]] and mine["next_before"] is None
    submitted = AuditEvent.objects.get(action="interface_request.submitted")
    token_prefix = api.headers["Authorization"].split()[1][:13]
    assert submitted.payload["api_token"] == token_prefix and submitted.actor_name == "requester"
    assert api.headers["Authorization"].split()[1] not in str(
        list(AuditEvent.objects.values_list("payload", flat=True))
    )


def test_pending_request_says_when_to_ask_again_and_can_be_cancelled(
    sim, world, requester, api_as, attach_body, needs_approval
):
    api = api_as(requester, "read", "request")
    created = api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", attach_body()).json()
    assert created["status"] == "pending_approval"
    response = api.get(f"/attach-requests/{created['id']}")
    assert response["Retry-After"] == "60" and response.json()["poll"]["retry_after"] == 60
    cancelled = api.post(f"/attach-requests/{created['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert "can no longer be cancelled" in problem(api.post(f"/attach-requests/{created['id']}/cancel"), 409)["detail"]
    assert sim.attach_posts() == []


def test_approver_decides_with_the_digest_they_reviewed(
    sim, world, requester, approver, api_as, attach_body, needs_approval
):
    mine = api_as(requester, "read", "request")
    created = mine.post(f"/servers/{world.servers['web-01'].id}/attach-requests", attach_body()).json()
    theirs = api_as(approver, "approve")
    queue = theirs.get("/approvals").json()
    assert [item["request"]["id"] for item in queue] == [created["id"]]
    assert queue[0]["request"]["parameters_digest"] == created["parameters_digest"]
    stale = theirs.post(f"/approvals/{created['id']}/decision", {"decision": "approve", "parameters_digest": "0" * 64})
    assert "not the ones you were shown" in problem(stale, 403)["detail"]
    no_reason = theirs.post(
        f"/approvals/{created['id']}/decision",
        {"decision": "reject", "parameters_digest": created["parameters_digest"]},
    )
    assert "Say why" in problem(no_reason, 403)["detail"]
    approved = theirs.post(
        f"/approvals/{created['id']}/decision",
        {"decision": "approve", "parameters_digest": created["parameters_digest"]},
    )
    assert approved.status_code == 200, approved.content
    assert mine.get(f"/attach-requests/{created['id']}").json()["status"] == "succeeded"
    decided = AuditEvent.objects.get(action="approval.approved")
    assert decided.actor_name == "approver" and decided.payload["api_token"].startswith("scpp_")


def test_auditor_reads_filters_exports_verifies_and_anchors(sim, world, requester, auditor, api_as, attach_body):
    api_as(requester, "request").post(f"/servers/{world.servers['web-01'].id}/attach-requests", attach_body())
    api = api_as(auditor, "audit")
    page = api.get("/audit/events", action="interface_request.submitted").json()
    assert [e["action"] for e in page["items"]] == ["interface_request.submitted"]
    assert page["items"][0]["payload"]["parameters"]["method"] == "POST"
    assert problem(api.get("/audit/events", since="2026-01-02T00:00:00Z", until="2026-01-01T00:00:00Z"), 422)
    csv_export = api.get("/audit/export.csv", action="interface_request.submitted")
    assert csv_export["Content-Type"].startswith("text/csv")
    lines = b"".join(csv_export.streaming_content).decode().splitlines()
    assert len(lines) == 2 and "interface_request.submitted" in lines[1]
    jsonl = api.get("/audit/export.jsonl")
    assert jsonl["Content-Type"] == "application/x-ndjson" and b"".join(jsonl.streaming_content).count(b"\n") > 5
    exported = AuditEvent.objects.filter(action="audit.exported").order_by("seq")
    assert exported.count() == 2 and exported.first().payload["filters"] == {"action": "interface_request.submitted"}
    started = api.post("/audit/verify")
    assert started.status_code == 202  # the tests' task backend runs it at once
    last = api.get("/audit/verification").json()["last"]
    assert last["ok"] is True and last["events"] > 0
    from portal.audit.selectors import chain_head

    anchor = api.get("/audit/anchor").json()
    assert (anchor["seq"], anchor["hash"]) == chain_head() and AuditEvent.objects.get(seq=anchor["seq"]).hash == anchor[
        "hash"
    ]


def test_me_names_the_token_and_its_effective_scopes(requester, token_for):
    from tests.api.conftest import ApiClient

    secret, token = token_for(requester, "read", "request")
    me = ApiClient(secret).get("/me").json()
    assert me["username"] == "requester" and me["scopes"] == ["read", "request"] and me["token"] == token.prefix


def test_detach_through_the_api(sim, world, requester, api_as, scp):
    from portal.scp import schemas

    web01 = world.servers["web-01"]
    made = scp.attach_interface(web01.id, schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-db"].id))
    api = api_as(requester, "read", "request")
    preview = api.post(f"/servers/{web01.id}/detach-preview", {"port_id": made.port_id}).json()
    assert preview["call"]["method"] == "DELETE" and preview["call"]["body"] is None and "SCP" in preview["effect"]
    default = world.ports["web-01-eth0"].id
    body = {"port_id": default, "justification": "x"}
    refused = problem(api.post(f"/servers/{web01.id}/detach-requests", body), 422)
    message = "This is the server's default interface; it cannot be detached."
    assert refused["errors"] == [{"field": "port_id", "message": message}]
    assert problem(api.post(f"/servers/{web01.id}/detach-requests", {"port_id": made.port_id}), 422)["errors"] == [
        {"field": "justification", "message": "Say why this interface should be detached."}
    ]
    created = api.post(f"/servers/{web01.id}/detach-requests", {"port_id": made.port_id, "justification": "gone"})
    assert created.status_code == 201, created.content
    done = api.get(f"/attach-requests/{created.json()['id']}").json()
    assert done["action"] == "detach" and done["status"] == "succeeded" and done["result"] is None
    assert done["call"]["path"].endswith(f"/interfaces/{made.port_id}")
