"""Personal access tokens: scopes within roles, expiry, revocation, rate limit, and never a key to the pages."""

import datetime as dt
import re
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from portal.api.models import ApiToken
from portal.api.tokens import token_create, token_revoke
from portal.audit.models import AuditEvent
from portal.interfaces.models import InterfaceRequest
from tests.api.conftest import API, ApiClient
from tests.api.test_api import problem

# Which scopes each role may put on a token (read is everyone's; the others follow the roles).
ALLOWED = {
    "requester": {"read", "request"},
    "approver": {"read", "request", "approve"},  # the tests' approvers are members of the platform team too
    "auditor": {"read", "audit"},
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("scope", ["read", "request", "approve", "audit"])
def test_a_token_carries_only_scopes_the_roles_allow(role, scope, request, sim, world):
    user = request.getfixturevalue(role)
    expires = timezone.now() + dt.timedelta(days=1)
    if scope not in ALLOWED[role]:
        with pytest.raises(ValueError, match="Choose scopes among"):
            token_create(user=user, name="x", scopes=[scope], expires_at=expires)
        return
    api = ApiClient(token_create(user=user, name="x", scopes=[scope], expires_at=expires).secret)
    # Each scope opens its own operations and no others.
    answers = {
        "read": api.get("/servers").status_code,
        "request": api.post(
            f"/servers/{world.servers['web-01'].id}/attach-preview", {"mode": "port", "port_id": world.spare_port().id}
        ).status_code,
        "approve": api.get("/approvals").status_code,
        "audit": api.get("/audit/anchor").status_code,
    }
    assert {name for name, status in answers.items() if status == 200} == {scope}
    assert {status for name, status in answers.items() if name != scope} == {403}


def test_a_read_token_cannot_submit_and_the_refusal_is_audited(sim, world, requester, api_as):
    api = api_as(requester, "read")
    body = {"mode": "port", "port_id": world.spare_port().id, "justification": "reuse"}
    refused = problem(api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", body), 403)
    assert refused["detail"] == "This token does not have the request scope."
    event = AuditEvent.objects.get(action="api_token.refused")
    assert (
        event.outcome == "denied" and event.actor_name == "requester" and event.payload["api_token"].startswith("scpp_")
    )
    assert InterfaceRequest.objects.count() == 0 and sim.attach_posts() == []


def test_scopes_shrink_with_the_roles(sim, world, requester, api_as):
    """A token made while its owner was a requester stops submitting when the owner leaves the team."""
    api = api_as(requester, "read", "request")
    requester.teams.clear() if hasattr(requester, "teams") else None
    from portal.teams.models import Team

    for team in Team.objects.all():
        team.members.remove(requester)
    body = {"mode": "port", "port_id": world.spare_port().id, "justification": "reuse"}
    refused = problem(api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", body), 403)
    assert refused["detail"] == "Your roles do not allow the request scope."
    assert api.get("/me").json()["scopes"] == ["read"]


def test_an_approver_token_cannot_approve_its_owners_request(sim, world, approver, api_as, needs_approval):
    api = api_as(approver, "read", "request", "approve")
    body = {"mode": "subnet", "subnet_id": world.subnets["prod-db"].id, "justification": "mine"}
    created = api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", body).json()
    assert created["status"] == "pending_approval"
    assert api.get("/approvals").json() == []
    refused = api.post(
        f"/approvals/{created['id']}/decision",
        {"decision": "approve", "parameters_digest": created["parameters_digest"]},
    )
    assert problem(refused, 403)["detail"] == "Nobody approves their own request."
    assert InterfaceRequest.objects.get().status == "pending_approval" and sim.attach_posts() == []


def test_someone_elses_request_is_not_found(sim, world, requester, other_requester, api_as):
    mine = (
        api_as(requester, "read", "request")
        .post(
            f"/servers/{world.servers['web-01'].id}/attach-requests",
            {"mode": "subnet", "subnet_id": world.subnets["prod-db"].id, "justification": "mine"},
        )
        .json()
    )
    theirs = api_as(other_requester, "read", "request")
    assert problem(theirs.get(f"/attach-requests/{mine['id']}"), 404)["detail"] == "No such request."
    assert problem(theirs.post(f"/attach-requests/{mine['id']}/cancel"), 404)["detail"] == "No such request."
    assert AuditEvent.objects.filter(action="interface_request.access", outcome="denied").count() == 2


@pytest.mark.parametrize("how", ["expired", "revoked", "unknown", "malformed"])
def test_expired_revoked_or_unknown_tokens_get_401(how, requester, token_for):
    secret, token = token_for(requester, "read")
    if how == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif how == "revoked":
        assert token_revoke(token=token, by=requester)
    elif how == "unknown":
        secret = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    else:
        secret = "let-me-in"
    response = ApiClient(secret).get("/me")
    body = problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    reason = {"unknown": "unknown token", "malformed": "malformed token"}.get(how, how)
    assert body["detail"] == f"The token is not accepted ({reason})."
    refusal = AuditEvent.objects.filter(action="api_token.refused").latest("seq")
    assert refusal.payload["reason"] == reason and secret not in str(refusal.payload)


def test_no_credentials_get_401(db):
    response = Client().get(f"{API}/servers")
    assert problem(response, 401)["detail"] == "Authentication needed: a bearer token, or a signed-in session."


@pytest.mark.parametrize("path", ["/servers/", "/requests/", "/approvals/", "/audit/", "/accounts/profile/", "/admin/"])
def test_a_token_never_opens_a_page(path, admin_user, token_for):
    secret, _ = token_for(admin_user, "read")
    response = Client().get(path, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_browser_session_calls_the_api_with_csrf(sim, world, requester):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(requester)
    assert browser.get(f"{API}/me").json()["scopes"] == ["read", "request"]
    path = f"{API}/servers/{world.servers['web-01'].id}/attach-preview"
    body = {"mode": "port", "port_id": world.spare_port().id}
    refused = browser.post(path, body, content_type="application/json")
    assert "CSRF" in problem(refused, 403)["detail"]
    browser.get("/accounts/profile/")  # sets the CSRF cookie, as any page does
    token = browser.cookies["csrftoken"].value
    allowed = browser.post(path, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert allowed.status_code == 200, allowed.content


def test_rate_limit_answers_429_with_retry_after_and_audits_once(settings, requester, token_for):
    settings.CONFIG = settings.CONFIG.model_copy(update={"api_rate_limit": 3})
    secret, token = token_for(requester, "read")
    api = ApiClient(secret)
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]
    limited = [api.get("/me") for _ in range(3)]
    assert {r.status_code for r in limited} == {429}
    assert 1 <= int(limited[0]["Retry-After"]) <= 60
    assert "3 calls in the last minute" in limited[0].json()["detail"]
    assert AuditEvent.objects.filter(action="api_token.rate_limited").count() == 1
    other_secret, _ = token_for(requester, "read")
    assert ApiClient(other_secret).get("/me").status_code == 200  # the limit is per token
    ApiToken.objects.filter(pk=token.pk).update(window_started_at=timezone.now() - dt.timedelta(seconds=61))
    assert api.get("/me").status_code == 200


def test_create_on_the_profile_page_shows_the_secret_once_and_keeps_a_hash(client, requester):
    client.force_login(requester)
    page = client.get("/accounts/profile/").content.decode()
    assert 'value="read"' in page and 'value="request"' in page and 'value="audit"' not in page
    expires = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    form = {"name": "nightly CI", "scopes": ["read", "request"], "expires_on": expires, "creation_key": uuid.uuid4()}
    response = client.post("/accounts/tokens/", form)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'id="new-token-value"[^>]*value="(scpp_[^"]+)"', response.content.decode()).group(1)
    token = ApiToken.objects.get()
    assert token.prefix == secret[:13] and token.scopes == ["read", "request"] and token.name == "nightly CI"
    assert secret not in str(ApiToken.objects.values().get()) and token.secret_hash != secret
    assert secret not in client.get("/accounts/profile/").content.decode()  # shown once
    again = client.post("/accounts/tokens/", form, follow=True).content.decode()  # the same form re-posted
    assert "was created already" in again and secret not in again and ApiToken.objects.count() == 1
    assert ApiClient(secret).get("/me").json()["token"] == token.prefix
    created = AuditEvent.objects.get(action="api_token.created")
    assert created.payload["scopes"] == ["read", "request"] and secret not in str(created.payload)
    listed = client.get("/accounts/profile/").content.decode()
    assert token.prefix in listed and "nightly CI" in listed and "active" in listed
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert "revoked" in client.get("/accounts/profile/").content.decode()
    assert ApiClient(secret).get("/me").status_code == 401
    assert AuditEvent.objects.get(action="api_token.revoked").payload["by"] == "owner"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "scopes": ["read"]}, "Give the token a name"),
        ({"name": "x", "scopes": ["audit"]}, "Select a valid choice"),
        ({"name": "x", "scopes": []}, "Choose at least one scope."),
        ({"name": "x", "scopes": ["read"], "expires_on": "+200"}, "at most 90 days"),
        ({"name": "x", "scopes": ["read"], "expires_on": "+0"}, "Choose a day after today."),
        ({"name": "x", "scopes": ["read"], "expires_on": "someday"}, "Enter a date as YYYY-MM-DD."),
    ],
)
def test_the_token_form_refuses_with_reasons(data, error, client, requester):
    client.force_login(requester)
    days = data.pop("expires_on", "+10")
    data["expires_on"] = (
        (timezone.localdate() + dt.timedelta(days=int(days[1:]))).isoformat() if days.startswith("+") else days
    )
    response = client.post("/accounts/tokens/", {**data, "creation_key": uuid.uuid4()})
    assert response.status_code == 400 and error in response.content.decode()
    assert ApiToken.objects.count() == 0


def test_only_the_owner_revokes_on_the_profile_but_an_admin_revokes_anyones(
    client, requester, other_requester, admin_user, token_for
):
    _, token = token_for(requester, "read")
    client.force_login(other_requester)
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    refused = AuditEvent.objects.get(action="api_token.access")
    assert (refused.outcome, refused.actor_name, refused.payload) == ("denied", "other", {"token_id": token.pk})
    client.force_login(admin_user)
    response = client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin_user
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert event.payload["by"] == "administrator" and event.actor_name == admin_user.username
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert token.secret_hash not in page


def test_the_command_line_creates_and_revokes(requester, capsys):
    from django.core.management import call_command

    call_command("api_token", "create", "requester", "--scopes", "read,request", "--days", "3")
    secret = capsys.readouterr().out.strip()
    assert ApiClient(secret).get("/me").json()["scopes"] == ["read", "request"]
    call_command("api_token", "revoke", secret[:13])
    assert ApiClient(secret).get("/me").status_code == 401
