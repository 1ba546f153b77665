"""A third operation, defined and registered here in the tests alone, goes through the whole life of a request:
submitted, approved, executed, reconciled after a lost answer, shown on its page and in the mail, with no edit
to any portal module. It is a toy: its "write" reads the server, so that the simulator serves it as it is."""

import types
import uuid

import pytest
from django.core import mail
from django.test import Client

from portal.audit.models import AuditEvent
from portal.interfaces import registry, services
from portal.interfaces.errors import AttachRejected
from portal.interfaces.lifecycle import transition
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.operations.base import Operation, ScpCall, Settlement
from portal.interfaces.services.decisions import request_decide
from portal.scp.errors import ScpNotFound


class ServerProbe(Operation):
    """Toy: "probe" a server with a note (GET /v1/servers/{id} stands in for a write)."""

    name = "probe"

    def validate(self, *, client, params, owner_check, exclude_pk=None, viewer=None):
        try:
            server = client.get_server(params["server_id"])
        except ScpNotFound:
            server = None
        if owner_check is not None:
            owner_check(server)
        if not params.get("note"):
            raise AttachRejected({"note": ["Say what to probe for."]})
        return types.SimpleNamespace(server=server, action=self.name, mode="port", fixed_ips=[], interfaces=None)

    def record_fields(self, plan):
        return {"mode": "port", "parameters": {"note": plan.note} if hasattr(plan, "note") else {}}

    def call(self, request):
        return ScpCall("GET", f"/v1/servers/{request.server_id}")

    def plan_call(self, plan):
        return ScpCall("GET", f"/v1/servers/{plan.server.id}")

    def revalidate(self, *, client, request):
        server = client.get_server(request.server_id)
        return types.SimpleNamespace(server=server, interfaces=client.list_server_interfaces(request.server_id))

    def send(self, *, client, request, plan, answered):
        server = client.get_server(request.server_id)
        return Settlement("succeed", payload={"probe": server.state}, fields={"result": {"state": server.state}})

    def look(self, *, client, request, over):
        return Settlement("succeed")

    def wait(self, *, client, request):
        return Settlement("succeed")

    def reconcile(self, *, client, request, interfaces):
        return Settlement("succeed", payload={"via": "reconciliation", "interfaces": len(interfaces)})

    def describe(self, request):
        return f"probe {request.server_name}"


@pytest.fixture
def probe():
    operation = registry.register(ServerProbe())
    yield operation
    registry.unregister(operation.name)


def _submit(probe, requester, world, note="ping"):
    return services.request_submit(
        operation=probe,
        requester=requester,
        idempotency_key=uuid.uuid4(),
        params={"server_id": world.servers["web-01"].id, "note": note},
        justification="a toy operation",
    )


def _approve(request, approver):
    request_decide(request=request, user=approver, approve=True, parameters_digest=request.parameters_digest)


def test_a_third_operation_is_submitted_approved_and_executed_through_the_same_lifecycle(
    sim, world, requester, approver, probe, settings, django_capture_on_commit_callbacks
):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    with pytest.raises(AttachRejected, match="Say what to probe for"):
        _submit(probe, requester, world, note="")
    assert AuditEvent.objects.get(action="interface_request.invalid").payload["input"]["action"] == "probe"

    request = _submit(probe, requester, world)
    assert request.status == Status.PENDING_APPROVAL and request.action == "probe"
    submitted = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.submitted")
    assert submitted.payload["parameters"]["method"] == "GET" and submitted.payload["parameters"]["body"] is None

    with django_capture_on_commit_callbacks(execute=True):
        _approve(request, approver)
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED and request.result == {"state": "ACTIVE"}
    actions = list(
        AuditEvent.objects.filter(interface_request_id=request.pk).order_by("seq").values_list("action", flat=True)
    )
    for expected in (
        "approval.approved",
        "interface_request.claimed",
        "scp.write.intent",
        "interface_request.succeeded",
    ):
        assert expected in actions
    assert [m.subject for m in mail.outbox] == [f"Request {request.pk} approved", f"Request {request.pk}: succeeded"]
    assert f"probe {request.server_name}" in mail.outbox[0].body

    page = Client()
    page.force_login(requester)
    assert page.get(f"/requests/{request.pk}/").status_code == 200
    assert page.get("/requests/").status_code == 200


def test_a_third_operations_lost_answer_is_reconciled_by_its_own_rule(sim, world, requester, approver, probe, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    request = _submit(probe, requester, world)
    _approve(request, approver)  # its execution's start is not run here: the answer is "lost" below instead
    assert transition(request, "claim") and transition(request, "lose_answer", reason="lost")
    InterfaceRequest.objects.filter(pk=request.pk).update(ports_before=[])
    services.interface_request_reconcile(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED
    succeeded = AuditEvent.objects.get(interface_request_id=request.pk, action="interface_request.succeeded")
    assert succeeded.payload["via"] == "reconciliation"
