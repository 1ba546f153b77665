"""Changes made in the admin to who may do what are audit events: who, what, before and after."""

from django.contrib.auth.models import Group

from portal.approvals.models import ApprovalPolicy
from portal.audit.models import AuditEvent
from portal.teams.models import Team


def events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_adding_a_policy_that_approves_everything_is_audited(admin_client):
    response = admin_client.post(
        "/admin/approvals/approvalpolicy/add/",
        {
            "name": "let everything through",
            "order": 1,
            "enabled": "on",
            "server_name_pattern": "*",
            "vpc_id": "",
            "action": "any",
            "mode": "any",
            "fixed_ips": "any",
            "outcome": "auto_approve",
            "steps-TOTAL_FORMS": "0",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    [event] = events("admin.approvalpolicy.added")
    assert event.actor_name == "root" and event.payload["after"]["outcome"] == "auto_approve"
    assert event.payload["after"]["name"] == "let everything through"


def test_putting_a_user_in_a_team_and_an_approver_group_is_audited_with_before_and_after(
    admin_client, django_user_model
):
    bob = django_user_model.objects.create_user("bob", password="x-pass-2026-long")
    group = Group.objects.create(name="web-approvers")
    team = Team.objects.create(name="web")
    response = admin_client.post(
        f"/admin/teams/team/{team.pk}/change/",
        {
            "name": "web",
            "members": [bob.pk],
            "approver_groups": [group.pk],
            "auditors": [],
            "ownerships-TOTAL_FORMS": "1",
            "ownerships-INITIAL_FORMS": "0",
            "ownerships-MIN_NUM_FORMS": "0",
            "ownerships-MAX_NUM_FORMS": "1000",
            "ownerships-0-kind": "name_pattern",
            "ownerships-0-value": "web-*",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    [event] = events("admin.team.changed")
    assert event.payload["before"]["members"] == [] and event.payload["after"]["members"] == ["bob"]
    assert event.payload["after"]["approver_groups"] == ["web-approvers"]
    assert event.payload["after"]["serverownership"] == ["web: Server name pattern web-*"]


def test_a_password_changed_by_an_admin_is_audited_without_the_password(admin_client, django_user_model):
    bob = django_user_model.objects.create_user("bob", password="x-pass-2026-long")
    response = admin_client.post(
        f"/admin/auth/user/{bob.pk}/password/",
        {
            "password1": "N3w-pass-for-bob-2026",
            "password2": "N3w-pass-for-bob-2026",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    [event] = events("admin.user.password_changed")
    assert event.target == f"user:{bob.pk}" and event.actor_name == "root"
    for stored in AuditEvent.objects.all():
        assert "N3w-pass" not in str(stored.payload) and "pbkdf2" not in str(stored.payload)


def test_a_user_changing_their_own_password_is_audited(client, requester):
    client.force_login(requester)
    response = client.post(
        "/accounts/password_change/",
        {
            "old_password": "test-pass-2026",
            "new_password1": "An0ther-pass-2026",
            "new_password2": "An0ther-pass-2026",
        },
    )
    assert response.status_code == 302
    [event] = events("auth.password_changed")
    assert event.actor_name == "requester" and event.payload == {"by": "self"}


def test_the_audit_log_in_the_admin_is_for_auditors_only(admin_client, django_user_model):
    ApprovalPolicy.objects.create(name="p", outcome="auto_approve")
    assert admin_client.get("/admin/audit/auditevent/").status_code == 403
    auditor_admin = django_user_model.objects.create_user("aud", password="x-pass-2026-long", is_staff=True)
    auditor_admin.groups.add(Group.objects.create(name="auditor"))
    admin_client.force_login(auditor_admin)
    assert admin_client.get("/admin/audit/auditevent/").status_code == 200
