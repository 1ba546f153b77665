"""The admin's audit, complete: a step's place, an inline delete, what a delete takes with it (and a warning
before it empties a policy step), IdP links, and related objects named by name. Through the real admin forms."""

import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from portal.approvals.models import ApprovalPolicy, ApprovalStep
from portal.audit.models import AuditEvent
from portal.identity.models import GroupMapping, Identity
from portal.identity.sessions import sessions_of
from portal.teams.models import Team


def one(action):
    [event] = AuditEvent.objects.filter(action=action)
    return event


def verified():
    out = io.StringIO()
    call_command("audit_verify", stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def two_steps(db):
    first, second = Group.objects.create(name="net-leads"), Group.objects.create(name="security")
    policy = ApprovalPolicy.objects.create(
        name="prod", order=1, server_name_pattern="prod-*", outcome="require_approval"
    )
    a = ApprovalStep.objects.create(policy=policy, order=1)
    a.groups.set([first])
    b = ApprovalStep.objects.create(policy=policy, order=2)
    b.groups.set([second])
    return policy, [(a, first), (b, second)]


def policy_form(policy, steps, *, orders, delete=()):
    data = {
        "name": policy.name,
        "order": policy.order,
        "enabled": "on",
        "server_name_pattern": policy.server_name_pattern,
        "vpc_id": "",
        "action": "any",
        "mode": "any",
        "fixed_ips": "any",
        "outcome": policy.outcome,
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    for n, ((step, group), order) in enumerate(zip(steps, orders, strict=True)):
        data |= {
            f"steps-{n}-id": step.pk,
            f"steps-{n}-policy": policy.pk,
            f"steps-{n}-order": order,
            f"steps-{n}-groups": [group.pk],
            f"steps-{n}-required": 1,
        }
        if n in delete:
            data[f"steps-{n}-DELETE"] = "on"
    return data


def test_reordering_approval_steps_is_an_event_with_the_order_before_and_after(admin_client, two_steps):
    policy, steps = two_steps
    response = admin_client.post(
        f"/admin/approvals/approvalpolicy/{policy.pk}/change/", policy_form(policy, steps, orders=[2, 1])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = one("admin.approvalpolicy.changed")
    assert event.payload["before"]["approvalstep"] == [
        "1. one approver from net-leads",
        "2. one approver from security",
    ]
    assert event.payload["after"]["approvalstep"] == ["1. one approver from security", "2. one approver from net-leads"]
    assert "verified" in verified().lower()


def test_deleting_one_step_inline_works_and_is_recorded(admin_client, two_steps):
    policy, steps = two_steps
    response = admin_client.post(
        f"/admin/approvals/approvalpolicy/{policy.pk}/change/", policy_form(policy, steps, orders=[1, 2], delete=[1])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(policy.steps.values_list("order", flat=True)) == [1]
    event = one("admin.approvalpolicy.changed")
    assert event.payload["after"]["approvalstep"] == ["1. one approver from net-leads"]
    assert "2. one approver from security" in event.payload["before"]["approvalstep"]


def test_deleting_a_group_records_what_it_took_and_warns_before_emptying_a_step(
    admin_client, two_steps, django_user_model
):
    policy, [(_, net_leads), _second] = two_steps
    team = Team.objects.create(name="web")
    team.approver_groups.add(net_leads)
    bob = django_user_model.objects.create_user("bob", password="x-pass-2026-long")
    bob.groups.add(net_leads)
    GroupMapping.objects.create(idp_group="idp-net-leads", portal_group=net_leads)

    page = admin_client.get(f"/admin/auth/group/{net_leads.pk}/delete/").content.decode()
    assert "leaves empty" in page and "one approver from net-leads" in page

    response = admin_client.post(f"/admin/auth/group/{net_leads.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = one("admin.group.deleted")
    assert event.payload["deleted"] == ["IdP group mapping: idp-net-leads → group net-leads"]
    unlinked = event.payload["unlinked"]
    assert any(row.startswith("team: web") for row in unlinked)
    assert any(row.startswith("user: bob") for row in unlinked)
    assert any(row.startswith("approval step: one approver from net-leads") for row in unlinked)
    assert event.payload["emptied"] == ["approval step: one approver from net-leads", "team: web", "user: bob"]
    assert "verified" in verified().lower()


def test_removing_an_idp_link_is_audited_and_takes_the_old_accounts_grants(admin_client, django_user_model):
    bob = django_user_model.objects.create_user("bob")
    bob.teams.add(Team.objects.create(name="web"))
    link = Identity.objects.create(user=bob, issuer="https://idp.example", subject="b-123")
    response = admin_client.post(f"/admin/identity/identity/{link.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = one("admin.identity.deleted")
    assert event.payload["before"]["subject"] == "b-123" and event.payload["before"]["user"] == "bob"
    revoked = one("auth.access_revoked")
    assert revoked.payload["reason"] == "IdP link removed" and revoked.actor_name == "root"
    assert not bob.teams.exists() and sessions_of(bob) == []


def test_a_mapping_event_names_its_group_and_team(admin_client):
    Group.objects.create(name="web-approvers")
    team = Team.objects.create(name="web")
    response = admin_client.post(
        "/admin/identity/groupmapping/add/",
        {
            "idp_group": "idp-web",
            "portal_group": Group.objects.get(name="web-approvers").pk,
            "team": team.pk,
            "team_role": "member",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    after = one("admin.groupmapping.added").payload["after"]
    assert after["portal_group"] == "web-approvers" and after["team"] == "web"
