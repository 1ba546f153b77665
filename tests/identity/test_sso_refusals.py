"""Refused single sign-ons: the right reason in the event and on the page, no sign-out without a pending state,
refusals from strangers aggregated and limited, the IdP's issuer checked (RFC 9207), and SSO failures kept apart
from the password lock-out."""

from urllib.parse import urlsplit

from django.test import Client

from portal.audit.models import AuditEvent
from portal.identity import oidc
from tests.identity.test_sso import callback_path, sign_in, signed_in_as, start


def refusals():
    return list(AuditEvent.objects.filter(action="auth.sso_refused").order_by("seq"))


def test_an_error_callback_without_this_sessions_state_signs_nobody_out(client, sso, sim):
    sign_in(client, sso, "alice")
    before = AuditEvent.objects.count()
    response = client.get("/oidc/callback/?error=access_denied&state=not-mine")
    assert response.status_code == 400 and signed_in_as(client) == "alice"
    response = client.get("/oidc/callback/?error=<script>alert(1)</script>")
    assert response.status_code == 400 and signed_in_as(client) == "alice"
    [first] = AuditEvent.objects.filter(action="auth.sso_refused", seq__gt=before)  # the second is counted only
    assert first.payload["error"] == "access_denied" and "without a state" in first.payload["reason"]
    assert "<script>" not in str(AuditEvent.objects.filter(seq__gt=before).values_list("payload", flat=True))


def test_a_stranger_sending_error_callbacks_is_counted_then_refused(sso, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"anonymous_refusal_limit": 3})
    stranger = Client()
    answers = [stranger.get(f"/oidc/callback/?error=x{n}").status_code for n in range(6)]
    assert answers == [400, 400, 400, 429, 429, 429]
    assert len(refusals()) == 1
    assert int(stranger.get("/oidc/callback/?error=y")["Retry-After"]) >= 1


def test_an_error_callback_with_the_pending_state_ends_that_sign_in(client, sso):
    authorize = start(client)
    state = dict(p.split("=", 1) for p in urlsplit(authorize).query.split("&"))["state"]
    response = client.get("/oidc/callback/", {"error": "login_required", "state": state, "iss": sso.url})
    assert response.status_code == 403 and "did not sign you in" in response.content.decode()
    assert refusals()[-1].payload["reason"] == "the identity provider answered 'login_required'"
    assert state not in client.session.get("oidc_states", {})


def test_userinfo_about_another_subject_is_refused_for_that_reason(client, sso):
    sso.set_mischief(userinfo_sub="mallory")
    response = sign_in(client, sso, "alice")
    assert response.status_code == 403 and "did not check out" in response.content.decode()
    assert signed_in_as(client) is None
    assert refusals()[-1].payload["reason"] == "the userinfo answer is about another subject"


def test_an_unsigned_id_token_is_refused_as_not_checking_out(client, sso):
    sso.set_mischief(id_token_alg_none=True)
    response = sign_in(client, sso, "alice")
    page = response.content.decode()
    assert response.status_code == 403 and "did not check out" in page and "could not be reached" not in page
    assert signed_in_as(client) is None
    assert "'none'" in refusals()[-1].payload["reason"]


def test_an_authorization_response_naming_another_issuer_is_refused(client, sso):
    location = sso.sign_in(start(client), "alice")
    path = callback_path(location)
    if "iss=" in path:  # the test IdP sends RFC 9207's iss: replace it
        forged = "&".join(p for p in path.split("&") if not p.startswith("iss=")) + "&iss=http%3A%2F%2Fevil.example"
    else:
        forged = f"{path}&iss=http%3A%2F%2Fevil.example"
    response = client.get(forged)
    assert response.status_code == 400 and signed_in_as(client) is None
    assert refusals()[-1].payload["reason"] == "the authorization response names another issuer"
    assert client.get(path).status_code in (400, 403)  # its state is spent: the real answer cannot follow


def test_the_authorization_response_must_carry_iss_when_the_idp_promises_it(client, sso):
    promised = oidc.provider_metadata().get("authorization_response_iss_parameter_supported") is True
    location = sso.sign_in(start(client), "alice")
    path = callback_path(location)
    stripped = "&".join(p for p in path.split("&") if not p.split("?")[-1].startswith("iss="))
    response = client.get(stripped)
    assert (response.status_code == 400) == promised
    assert promised, "the test IdP advertises RFC 9207; without it this test proves nothing"


def test_failed_single_sign_ons_never_lock_the_break_glass_password_sign_in(sso, settings, django_user_model):
    settings.CONFIG = settings.CONFIG.model_copy(update={"password_login": "staff"})
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_user("root", password="test-pass-2026", is_staff=True)
    browser = Client()
    for _ in range(4):
        assert sign_in(browser, sso, "carol").status_code == 403  # carol's groups map to nothing
    assert len(refusals()) == 4
    browser.post("/accounts/login/", {"username": "root", "password": "test-pass-2026"})
    assert signed_in_as(browser) == "root"
    assert not AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_a_password_sign_in_refused_because_passwords_are_off_is_audited(client, sso, settings, requester):
    settings.CONFIG = settings.CONFIG.model_copy(update={"password_login": "off"})
    response = client.post("/accounts/login/", {"username": "requester", "password": "test-pass-2026"})
    assert response.status_code == 200 and "switched off" in response.content.decode()
    [event] = AuditEvent.objects.filter(action="auth.login_failed")
    assert event.payload["username"] == "requester" and event.payload["reason"] == "password sign-in is off"
