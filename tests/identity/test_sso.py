"""Single sign-on through a real OpenID Connect provider (npm's oidc-provider), with PKCE, state and nonce."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from portal.audit.models import AuditEvent
from portal.identity.models import Identity


def start(client) -> str:
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302, response.content[:300]
    return response.url


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/oidc/callback/", location
    return f"{parts.path}?{parts.query}"


def sign_in(client, sso, username: str):
    return client.get(callback_path(sso.sign_in(start(client), username)))


def signed_in_as(client) -> str | None:
    response = client.get("/servers/")
    if response.status_code != 200:
        return None
    return response.context["user"].get_username()


def test_sign_in_creates_the_user_and_applies_the_group_mappings(client, sso, sim):
    authorize = start(client)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["nonce"]
    response = client.get(callback_path(sso.sign_in(authorize, "alice")))
    assert response.status_code == 302 and response.url == "/"
    assert signed_in_as(client) == "alice"
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password() and alice.email == "alice@example.com"
    assert list(alice.teams.values_list("name", flat=True)) == ["web"]
    assert list(alice.groups.values_list("name", flat=True)) == ["web-approvers"]
    identity = Identity.objects.get(user=alice)
    assert (identity.issuer, identity.subject) == (sso.url, "alice")
    event = AuditEvent.objects.get(action="auth.sso_login")
    assert event.payload["issuer"] == sso.url and event.payload["subject"] == "alice"
    assert event.payload["after"] == {"groups": ["web-approvers"], "member_of": ["web"], "audits": []}
    page = client.get("/servers/").content.decode()
    assert "web-01" in page and "app-02" not in page


def test_a_group_change_at_the_idp_takes_effect_at_the_next_sign_in(client, sso, sim):
    sign_in(client, sso, "alice")
    client.post("/accounts/logout/")
    users = {"alice": {"email": "alice@example.com", "groups": ["portal-apps"]}}
    sso.set_users(users)
    sign_in(client, sso, "alice")
    alice = get_user_model().objects.get(username="alice")
    assert list(alice.teams.values_list("name", flat=True)) == ["apps"] and not alice.groups.exists()
    page = client.get("/servers/").content.decode()
    assert "app-02" in page and "web-01" not in page
    last = AuditEvent.objects.filter(action="auth.sso_login").order_by("seq").last()
    assert last.payload["before"]["member_of"] == ["web"] and last.payload["after"]["member_of"] == ["apps"]
    assert get_user_model().objects.filter(username__startswith="alice").count() == 1  # the same user, by subject


def test_a_user_with_no_mapped_group_gets_a_clear_page_and_no_access(client, sso):
    response = sign_in(client, sso, "carol")
    assert response.status_code == 403
    assert "None of your identity provider groups gives access" in response.content.decode()
    assert signed_in_as(client) is None and not get_user_model().objects.filter(username="carol").exists()
    refusal = AuditEvent.objects.get(action="auth.sso_refused")
    assert refusal.payload["subject"] == "carol" and refusal.payload["idp_groups"] == ["marketing"]
    assert refusal.payload["issuer"] == sso.url


def test_a_wrong_state_is_refused(client, sso):
    location = sso.sign_in(start(client), "alice")
    forged = location.replace("state=", "state=x")
    response = client.get(callback_path(forged))
    assert response.status_code == 400 and "did not start in this browser" in response.content.decode()
    assert signed_in_as(client) is None
    assert "state" in AuditEvent.objects.get(action="auth.sso_refused").payload["reason"]


def test_a_wrong_nonce_is_refused(client, sso):
    location = sso.sign_in(start(client), "alice")
    state = parse_qs(urlsplit(location).query)["state"][0]
    session = client.session
    session["oidc_states"][state]["nonce"] = "not-the-nonce-the-idp-signed"
    session.save()
    response = client.get(callback_path(location))
    assert response.status_code == 403 and "did not check out" in response.content.decode()
    assert signed_in_as(client) is None
    assert "nonce" in AuditEvent.objects.get(action="auth.sso_refused").payload["reason"].lower()


def test_an_expired_code_is_refused(client, sso, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"oidc_client_id": "portal-short"})  # codes live 1 s
    location = sso.sign_in(start(client), "alice")
    time.sleep(2.5)
    response = client.get(callback_path(location))
    assert response.status_code == 403 and "refused the sign-in" in response.content.decode()
    assert signed_in_as(client) is None
    refusal = AuditEvent.objects.get(action="auth.sso_refused")
    assert refusal.payload["answer"] == "invalid_grant"


def test_a_code_is_used_once(client, sso):
    location = sso.sign_in(start(client), "alice")
    assert client.get(callback_path(location)).status_code == 302
    client.post("/accounts/logout/")
    response = client.get(callback_path(location))
    assert response.status_code in (400, 403) and signed_in_as(client) is None


def test_sign_out_also_ends_the_idp_session(client, sso):
    sign_in(client, sso, "alice")
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response.url.startswith(f"{sso.url}/session/end?")
    query = parse_qs(urlsplit(response.url).query)
    assert query["id_token_hint"] and query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    assert signed_in_as(client) is None


@pytest.mark.parametrize("mode", ["off", "staff"])
def test_password_sign_in_can_be_switched_off_or_kept_for_administrators(
    client, sso, settings, mode, requester, django_user_model
):
    settings.CONFIG = settings.CONFIG.model_copy(update={"password_login": mode})
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with single sign-on" in page and (('name="password"' in page) == (mode == "staff"))
    response = client.post("/accounts/login/", {"username": "requester", "password": "test-pass-2026"})
    assert response.status_code == 200 and signed_in_as(client) is None
    assert ("switched off" if mode == "off" else "administrators only") in response.content.decode()
    django_user_model.objects.create_user("root", password="test-pass-2026", is_staff=True)
    client.post("/accounts/login/", {"username": "root", "password": "test-pass-2026"})
    assert signed_in_as(client) == ("root" if mode == "staff" else None)


def test_an_unreachable_idp_is_a_clear_page_not_an_error(client, sso, settings):
    from portal.identity import oidc

    settings.CONFIG = settings.CONFIG.model_copy(update={"oidc_issuer": "http://127.0.0.1:9"})
    oidc._discovery.clear()
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 503 and "cannot be reached" in response.content.decode()


def test_without_oidc_configured_the_sso_urls_are_404(client, db):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404
