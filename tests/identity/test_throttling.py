"""Password guessing is throttled per user name and per address (django-axes), audited, and undone by an admin."""

import os

import pytest
from axes.models import AccessAttempt

from portal.audit.models import AuditEvent

PASSWORD = os.environ["DEMO_PASSWORD"]
pytestmark = pytest.mark.postgres  # axes keeps addresses in PostgreSQL's inet columns


def sign_in(client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def actions(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=name).order_by("seq"))


def test_five_wrong_passwords_pause_the_account_even_for_the_right_one(client, requester, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "requester", "wrong")
        assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    response = sign_in(client, "requester", "wrong")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text and "15 minutes" in response.text
    response = sign_in(client, "requester", PASSWORD)  # the right password does not get through a lock-out
    assert response.status_code == 429 and "_auth_user_id" not in client.session
    assert len(actions("auth.login_failed")) >= settings.AXES_FAILURE_LIMIT
    locked = actions("auth.locked_out")
    assert locked and locked[0].payload["username"] == "requester" and locked[0].outcome == "denied"
    assert locked[0].source_ip == "198.51.100.7"


def test_the_lock_follows_the_user_name_to_another_address(client, requester, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "requester", "wrong", address=f"198.51.100.{n + 1}")
    assert sign_in(client, "requester", PASSWORD, address="203.0.113.9").status_code == 429


def test_one_address_guessing_many_names_is_paused(client, requester, other_requester, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, f"someone-{n}", "wrong", address="192.0.2.66")
    assert sign_in(client, "other", PASSWORD, address="192.0.2.66").status_code == 429
    assert sign_in(client, "other", PASSWORD, address="192.0.2.67").status_code == 302  # elsewhere: fine


def test_the_cool_off_is_configurable_and_shown(client, requester, settings):
    import datetime as dt

    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=45)
    sign_in(client, "requester", "wrong")
    response = sign_in(client, "requester", "wrong")
    assert response.status_code == 429 and "45 minutes" in response.text


def test_a_success_before_the_limit_starts_the_count_again(client, requester, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "requester", "wrong")
    assert sign_in(client, "requester", PASSWORD).status_code == 302
    client.logout()
    assert sign_in(client, "requester", "wrong").status_code == 200  # not locked: the count started again


def test_an_admin_unlocks_an_account_and_the_unlock_is_audited(client, requester, settings, django_user_model):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "requester", "wrong")
    assert AccessAttempt.objects.filter(username="requester").exists()
    admin = django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)
    client.force_login(admin)
    changelist = client.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and "requester" in changelist.text
    attempt = AccessAttempt.objects.get(username="requester")
    response = client.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="requester").exists()
    unlocked = actions("auth.unlocked")
    assert len(unlocked) == 1 and unlocked[0].payload["username"] == "requester"
    assert unlocked[0].actor_name == "root"
    client.logout()
    assert sign_in(client, "requester", PASSWORD).status_code == 302


def test_a_sign_in_without_a_user_name_counts_against_the_address_only():
    from portal.identity.throttling import lockout_parameters

    assert lockout_parameters(None, {"username": "alice"}) == ["username", "ip_address"]
    assert lockout_parameters(None, {}) == ["ip_address"]  # single sign-on: never "the user with no name"
