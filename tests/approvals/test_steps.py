"""Ordered approval steps: "any one of netops", then "2 of security"; a rejection at any step ends the request."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from portal.approvals.models import ApprovalPolicy, PolicyOutcome
from portal.approvals.selectors import deciders_for, pending_for
from portal.audit.models import AuditEvent
from portal.interfaces import services
from portal.interfaces.errors import NotAllowed
from portal.interfaces.models import InterfaceRequest, Status
from portal.interfaces.services.decisions import request_decide, requests_expire_due
from tests.approvals.test_concurrency import race_approvers
from tests.conftest import _user, platform_team


@pytest.fixture
def two_steps(db):
    """A policy for web-*: any one of netops, then two of security. Both groups approve for the platform team."""
    netops, security = (Group.objects.get_or_create(name=n)[0] for n in ("netops", "security"))
    platform_team().approver_groups.add(netops, security)
    policy = ApprovalPolicy.objects.create(
        name="network change", order=1, server_name_pattern="web-*", outcome=PolicyOutcome.REQUIRE_APPROVAL
    )
    policy.steps.create(order=1, required=1).groups.add(netops)
    policy.steps.create(order=2, required=2).groups.add(security)
    return policy


@pytest.fixture
def people(django_user_model, two_steps):
    users = {}
    for name, group in (
        ("net1", "netops"),
        ("net2", "netops"),
        ("sec1", "security"),
        ("sec2", "security"),
        ("sec3", "security"),
    ):
        users[name] = _user(django_user_model, name)
        users[name].groups.add(Group.objects.get(name=group))
        platform_team().members.add(users[name])
    return users


def submit(world, requester):
    return services.interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="two steps",
        server_id=world.servers["web-01"].id,
        mode="port",
        port_id=world.spare_port().id,
    )


def decide(request, user, approve=True, comment="ok"):
    request.refresh_from_db()
    return request_decide(
        request=request, user=user, approve=approve, comment=comment, parameters_digest=request.parameters_digest
    )


def fresh(user):
    return type(user).objects.get(pk=user.pk)  # a new HTTP request: roles are read afresh


def test_the_steps_run_in_order_and_the_request_executes_after_the_last(
    sim, world, requester, people, django_capture_on_commit_callbacks
):
    request = submit(world, requester)
    assert request.status == Status.PENDING_APPROVAL
    assert request.approval_steps == [{"groups": ["netops"], "required": 1}, {"groups": ["security"], "required": 2}]
    assert [u.username for u in deciders_for(request)] == ["net1", "net2"]
    assert [r.pk for r in pending_for(user=fresh(people["sec1"]))] == []  # not their step yet
    with pytest.raises(NotAllowed, match="Only members of netops"):
        decide(request, people["sec1"])
    decide(request, people["net1"])
    assert (request.status, request.current_step) == (Status.PENDING_APPROVAL, 1)
    assert [u.username for u in deciders_for(request)] == ["sec1", "sec2", "sec3"]
    with pytest.raises(NotAllowed, match="Only members of security"):
        decide(request, people["net2"])
    decide(request, people["sec1"])
    assert (request.status, request.current_step) == (Status.PENDING_APPROVAL, 1)  # 1 of 2
    with pytest.raises(NotAllowed, match="already decided"):
        decide(request, people["sec1"])
    assert sim.attach_posts() == []
    with django_capture_on_commit_callbacks(execute=True):
        decide(request, people["sec2"])
    request.refresh_from_db()
    assert request.status == Status.SUCCEEDED and len(sim.attach_posts()) == 1
    actions = list(
        AuditEvent.objects.filter(interface_request_id=request.pk, action__startswith="approval.", outcome="success")
        .order_by("seq")
        .values_list("action", "actor_name", "payload__step")
    )
    assert actions == [
        ("approval.step_completed", "net1", 1),
        ("approval.recorded", "sec1", 2),
        ("approval.approved", "sec2", 2),
    ]


def test_a_rejection_at_any_step_ends_the_request(sim, world, requester, people):
    request = submit(world, requester)
    decide(request, people["net1"])
    decide(request, people["sec1"], approve=False, comment="not this week")
    request.refresh_from_db()
    assert request.status == Status.REJECTED and "not this week" in request.status_reason
    with pytest.raises(NotAllowed, match="only pending requests"):
        decide(request, people["sec2"])
    assert sim.attach_posts() == []


def test_nobody_decides_their_own_request_at_any_step(sim, world, people):
    request = submit(world, people["sec1"])  # a security member asks
    decide(request, people["net1"])
    with pytest.raises(NotAllowed, match="Nobody approves their own request"):
        decide(request, people["sec1"])
    assert [u.username for u in deciders_for(request)] == ["sec2", "sec3"]


def test_the_page_and_the_queue_say_which_step_waits_and_who_can_decide(client, sim, world, requester, people):
    request = submit(world, requester)
    decide(request, people["net1"])
    client.force_login(requester)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert "Step 1: one approver from netops — done" in page and "net1 approved" in page
    assert "Step 2: 2 approvers from security — <strong>waiting</strong>" in page
    assert "Can decide: sec1, sec2, sec3" in page
    client.force_login(people["sec2"])
    queue = client.get("/approvals/").content.decode()
    assert f"Request {request.pk}</a>" in queue and "Can decide: sec1, sec2, sec3" in queue
    client.force_login(people["net2"])
    assert f"Request {request.pk}</a>" not in client.get("/approvals/").content.decode()


def test_the_requester_is_told_when_the_request_expires(
    sim, world, requester, people, django_capture_on_commit_callbacks
):
    request = submit(world, requester)
    InterfaceRequest.objects.filter(pk=request.pk).update(expires_at=request.created_at - dt.timedelta(seconds=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert requests_expire_due() == 1
    assert [(m.subject, m.to) for m in mail.outbox] == [(f"Request {request.pk} expired", [requester.email])]
    assert "nobody decided it in time" in mail.outbox[0].body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvers_deciding_the_last_step_at_once_make_one_execution(sim, world, requester, people):
    """20 times: step 1 and half of step 2 are decided; then sec2 and sec3 approve the last step at once."""
    rounds = 20
    servers = [world.servers[n].id for n in ("web-01", "web-07", "web-10")]
    requests = []
    for i in range(rounds):
        request = services.interface_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification=f"race {i}",
            server_id=servers[i % 3],
            mode="subnet",
            subnet_id=world.subnets["prod-db"].id,
        )
        decide(request, people["net1"])
        decide(request, people["sec1"])
        requests.append(request)
    assert {(r.status, r.current_step) for r in InterfaceRequest.objects.all()} == {(Status.PENDING_APPROVAL, 1)}
    outcomes = race_approvers(["sec2", "sec3"], requests, workers=1)
    for request in requests:
        assert sorted(o[str(request.pk)] for o in outcomes) == ["approved", "refused"], request.pk
        events = AuditEvent.objects.filter(interface_request_id=request.pk)
        assert events.filter(action="approval.approved").count() == 1
        assert events.filter(action="interface_request.claimed").count() == 1
    assert set(InterfaceRequest.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert len(sim.attach_posts()) == rounds


def test_a_refusal_never_changes_the_request_by_its_wording(sim, world, requester, people):
    """A group named expired-infra appears in the refusal's text; the request stays pending all the same."""
    policy = ApprovalPolicy.objects.get(name="network change")
    odd = Group.objects.create(name="expired-infra")
    platform_team().approver_groups.add(odd)
    step = policy.steps.get(order=1)
    step.groups.set([odd])
    request = submit(world, requester)
    with pytest.raises(NotAllowed, match="expired-infra"):
        decide(request, people["net1"])
    request.refresh_from_db()
    assert request.status == Status.PENDING_APPROVAL
