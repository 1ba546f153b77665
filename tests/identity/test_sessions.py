"""Sessions end when idle too long or past their absolute lifetime; a user can end every one of them at once."""

import os

import pytest
from django.test import Client

from portal.audit.models import AuditEvent
from portal.identity.models import UserSession
from portal.identity.sessions import SEEN, STARTED

PASSWORD = os.environ["DEMO_PASSWORD"]


def signed_in(username: str, address: str = "198.51.100.20") -> Client:
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=f"browser-{address}")
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def age(client: Client, *, started: float = 0, seen: float = 0) -> None:
    session = client.session
    session[STARTED] -= started
    session[SEEN] -= seen
    session.save()


def test_an_idle_session_ends_with_a_message_and_an_audit_event(requester, settings):
    client = signed_in("requester")
    assert client.get("/requests/").status_code == 200
    age(client, seen=settings.CONFIG.session_idle_timeout + 5)
    response = client.get("/requests/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/requests/")
    page = client.get(response["Location"])
    assert "signed out after a period without activity" in page.text
    assert client.get("/requests/").status_code == 302  # really signed out
    event = AuditEvent.objects.get(action="auth.session_expired")
    assert event.payload == {"reason": "idle"} and event.actor_name == "requester"


def test_an_active_session_still_ends_at_its_absolute_lifetime(requester, settings):
    client = signed_in("requester")
    age(client, started=settings.CONFIG.session_max_age + 5)  # seen just now: active, but too old
    response = client.get("/requests/")
    assert response.status_code == 302
    assert "maximum length" in client.get(response["Location"]).text
    assert AuditEvent.objects.get(action="auth.session_expired").payload == {"reason": "lifetime"}


def test_an_htmx_request_of_an_expired_session_is_sent_to_sign_in(requester, settings):
    client = signed_in("requester")
    age(client, seen=settings.CONFIG.session_idle_timeout + 5)
    response = client.get("/requests/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_activity_keeps_a_session_alive(requester, settings):
    client = signed_in("requester")
    age(client, seen=settings.CONFIG.session_idle_timeout - 30)
    assert client.get("/requests/").status_code == 200
    assert client.session[SEEN] > client.session[STARTED] - 1  # touched: the idle clock started again
    assert client.get("/requests/").status_code == 200


def test_the_profile_lists_sessions_and_sign_out_everywhere_ends_them_all(requester, other_requester):
    laptop, phone = signed_in("requester", "198.51.100.20"), signed_in("requester", "198.51.100.21")
    bystander = signed_in("other", "198.51.100.22")
    page = laptop.get("/accounts/profile/")
    assert page.status_code == 200
    assert "198.51.100.20" in page.text and "198.51.100.21" in page.text and "198.51.100.22" not in page.text
    assert "this browser" in page.text and "platform: member" in page.text
    assert UserSession.objects.filter(user=requester).count() == 2
    response = laptop.post("/accounts/sign-out-everywhere/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "Signed out everywhere: ended 2 sessions." in response.text
    for client in (laptop, phone):
        assert client.get("/requests/").status_code == 302
    assert bystander.get("/requests/").status_code == 200  # someone else's session is untouched
    assert not UserSession.objects.filter(user=requester).exists()
    event = AuditEvent.objects.get(action="auth.signed_out_everywhere")
    assert event.payload == {"sessions": 2} and event.actor_name == "requester"


def test_sign_out_everywhere_needs_a_post(requester):
    client = signed_in("requester")
    assert client.get("/accounts/sign-out-everywhere/").status_code == 405
    assert client.get("/requests/").status_code == 200


def test_signing_out_forgets_the_session(requester):
    client = signed_in("requester")
    assert UserSession.objects.filter(user=requester).count() == 1
    client.post("/accounts/logout/")
    assert not UserSession.objects.exists()


@pytest.mark.parametrize("path", ["/accounts/profile/"])
def test_the_profile_needs_sign_in(client, db, path):
    assert client.get(path).status_code == 302


def test_sessions_that_ended_without_a_sign_out_drop_off_the_list(requester, settings):
    import datetime as dt

    from django.utils import timezone

    laptop = signed_in("requester", "198.51.100.20")
    signed_in("requester", "198.51.100.21")
    stale = timezone.now() - dt.timedelta(seconds=settings.CONFIG.session_idle_timeout + 3600)
    UserSession.objects.filter(source_ip="198.51.100.21").update(last_seen_at=stale)
    page = laptop.get("/accounts/profile/")
    assert "198.51.100.20" in page.text and "198.51.100.21" not in page.text
    assert UserSession.objects.filter(user=requester).count() == 1
