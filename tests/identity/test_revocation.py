"""Access ends when it should: all IdP groups removed, the IdP session ended, the user gone at the IdP, the account
deactivated, a password changed. Each through the real test IdP and the real session and token machinery."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from portal.api.models import ApiToken
from portal.api.tokens import token_create
from portal.audit.models import AuditEvent
from portal.identity.models import UserSession
from portal.identity.recheck import SSO
from tests.identity.test_sso import sign_in, signed_in_as

pytestmark = pytest.mark.postgres  # transactions, locks and cascades: run again on PostgreSQL

ALICE = {"email": "alice@example.com", "groups": ["portal-web", "portal-web-approvers"]}


def token_of(user) -> str:
    return token_create(
        user=user, name="ci", scopes=["read", "approve"], expires_at=timezone.now() + dt.timedelta(days=30)
    ).secret


def api_status(secret: str) -> int:
    return Client().get("/api/v1/approvals", headers={"Authorization": f"Bearer {secret}"}).status_code


def make_due(client) -> None:
    """The session's next request re-checks with the IdP (as it would OIDC_RECHECK_SECONDS after the last)."""
    session = client.session
    session[SSO] = {**session[SSO], "checked": 0}
    session.save()


def test_removing_every_idp_group_ends_sessions_tokens_and_grants_at_the_next_sign_in(sso, sim):
    old_browser, new_browser = Client(), Client()
    sign_in(old_browser, sso, "alice")
    alice = get_user_model().objects.get(username="alice")
    secret = token_of(alice)
    assert old_browser.get("/approvals/").status_code == 200 and api_status(secret) == 200

    sso.set_users({"alice": {"email": "alice@example.com", "groups": ["marketing"]}})
    response = sign_in(new_browser, sso, "alice")

    assert response.status_code == 403 and "None of your identity provider groups" in response.content.decode()
    assert signed_in_as(old_browser) is None  # the session that was open before
    assert old_browser.get("/approvals/").status_code == 302
    assert api_status(secret) == 401
    alice.refresh_from_db()
    assert not alice.groups.exists() and not alice.teams.exists() and not alice.audited_teams.exists()
    assert not UserSession.objects.filter(user=alice).exists()
    revoked = AuditEvent.objects.get(action="auth.access_revoked")
    assert revoked.payload["reason"] == "no mapped IdP group" and revoked.payload["idp_groups"] == ["marketing"]
    assert revoked.payload["grants_removed"] == {"groups": ["web-approvers"], "member_of": ["web"], "audits": []}
    assert len(revoked.payload["tokens_revoked"]) == 1 and revoked.payload["sessions_ended"] == 1
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_a_session_whose_idp_session_ended_is_signed_out_at_its_next_recheck(client, sso, sim):
    sign_in(client, sso, "alice")
    make_due(client)
    assert signed_in_as(client) == "alice"  # the IdP still vouches: the re-check keeps the session
    assert not AuditEvent.objects.filter(action="auth.sso_session_ended").exists()

    sso.end_session("alice")
    assert signed_in_as(client) == "alice"  # not due yet: the portal does not ask the IdP at every request
    make_due(client)
    response = client.get("/servers/")
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert signed_in_as(client) is None
    ended = AuditEvent.objects.get(action="auth.sso_session_ended")
    assert ended.actor_name == "alice" and "refused to renew" in ended.payload["reason"]
    assert "invalid_grant" in ended.payload["reason"]


def test_a_user_the_idp_no_longer_knows_is_signed_out_at_the_recheck(client, sso, sim):
    sign_in(client, sso, "alice")
    sso.set_users({"bob": {"email": "bob@example.com", "groups": ["portal-apps"]}})
    make_due(client)
    response = client.get("/servers/", headers={"HX-Request": "true"})
    assert response.status_code == 302 and response["HX-Redirect"].startswith("/accounts/login/")
    assert signed_in_as(client) is None
    assert AuditEvent.objects.filter(action="auth.sso_session_ended").count() == 1


def test_a_group_change_at_the_idp_applies_at_the_recheck_without_a_new_sign_in(client, sso, sim):
    sign_in(client, sso, "alice")
    assert client.get("/approvals/").status_code == 200
    sso.set_users({"alice": {**ALICE, "groups": ["portal-web"]}})  # no longer an approver
    make_due(client)
    assert signed_in_as(client) == "alice"
    assert client.get("/approvals/").status_code == 403
    change = AuditEvent.objects.get(action="auth.sso_rechecked")
    assert change.payload["before"]["groups"] == ["web-approvers"] and change.payload["after"]["groups"] == []

    sso.set_users({"alice": {**ALICE, "groups": []}})  # and then no group at all
    make_due(client)
    assert signed_in_as(client) is None
    assert AuditEvent.objects.get(action="auth.access_revoked").payload["grants_removed"]["member_of"] == ["web"]


def test_the_refresh_token_is_not_kept_in_the_clear(client, sso):
    sign_in(client, sso, "alice")
    data = client.session[SSO]
    assert data["subject"] == "alice" and data["refresh"].startswith("gAAAA")  # a Fernet token
    assert sso.url not in data["refresh"]


def test_deactivating_a_user_ends_their_sessions_and_tokens_at_once(client, sso, sim):
    sign_in(client, sso, "alice")
    alice = get_user_model().objects.get(username="alice")
    secret = token_of(alice)
    alice.is_active = False
    alice.save()
    assert signed_in_as(client) is None
    assert client.post("/accounts/preferences/", {"language": "ko", "time_zone": ""}).status_code == 302
    assert api_status(secret) == 401
    assert ApiToken.objects.get(user=alice).revoked_at is not None
    revoked = AuditEvent.objects.get(action="auth.access_revoked")
    assert revoked.payload["reason"] == "account deactivated" and revoked.payload["sessions_ended"] == 1
    assert alice.teams.exists()  # kept, for when the account comes back


def test_a_password_change_keeps_the_session_reachable_by_sign_out_everywhere(requester):
    here, elsewhere = Client(), Client()
    here.post("/accounts/login/", {"username": "requester", "password": "test-pass-2026"})
    response = here.post(
        "/accounts/password_change/",
        {"old_password": "test-pass-2026", "new_password1": "N3w-pass-2026-xyz", "new_password2": "N3w-pass-2026-xyz"},
    )
    assert response.status_code == 302
    assert signed_in_as(here) == "requester"  # Django cycled this session's key and kept it signed in
    assert UserSession.objects.filter(user=requester, session_key=here.session.session_key).exists()

    elsewhere.post("/accounts/login/", {"username": "requester", "password": "N3w-pass-2026-xyz"})
    response = elsewhere.post("/accounts/sign-out-everywhere/", follow=True)
    assert "ended 2 sessions" in response.content.decode()
    assert signed_in_as(here) is None and signed_in_as(elsewhere) is None
