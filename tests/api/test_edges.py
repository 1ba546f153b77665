"""The edges strangers and bad input reach: oversized bodies, garbage tokens and sign-ins beyond the lock-out
(counted per address, never each one a row of the append-only log), a requester's own request after they leave
its team, and one Idempotency-Key posted twice at once."""

import datetime as dt
import threading
import uuid

import pytest
from django.db import connection, connections
from django.db.models import F
from django.test import Client

from portal.audit.models import AuditEvent, Effect, RefusalTally
from portal.audit.outbox import effect_deliver
from portal.interfaces.models import InterfaceRequest, Status
from tests.conftest import platform_team

API = "/api/v1"


@pytest.mark.parametrize("debug", [True, False])
def test_an_oversized_json_body_is_a_413_problem_and_an_oversized_form_a_clear_page(
    api_as, requester, world, settings, debug
):
    settings.DEBUG = debug
    api = api_as(requester, "read", "request")
    huge = {"mode": "subnet", "subnet_id": "x", "justification": "j" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    response = api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", huge)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert "larger than" in response.json()["detail"]
    browser = Client()
    browser.force_login(requester)
    page = browser.post(f"/servers/{world.servers['web-01'].id}/attach/", {"justification": huge["justification"]})
    assert page.status_code == 413 and "shorten it and try again" in page.content.decode()
    assert InterfaceRequest.objects.count() == 0


@pytest.mark.postgres  # (the tally is locked while counting)
def test_200_garbage_tokens_from_one_address_write_two_events_and_are_answered_429_beyond_the_limit(db, settings):
    # (a window an hour long: on a busy machine the 200 calls never outlast it)
    settings.CONFIG = settings.CONFIG.model_copy(update={"anonymous_refusal_limit": 20, "refusal_window_seconds": 3600})
    stranger = Client(REMOTE_ADDR="203.0.113.7")
    responses = [stranger.get(f"{API}/servers", headers={"Authorization": f"Bearer garbage{n}"}) for n in range(200)]
    answers = [r.status_code for r in responses]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}
    # Until the window that these calls began ends (an hour; not the next hour of the clock).
    assert 3000 <= int(responses[-1]["Retry-After"]) <= 3600
    refused = AuditEvent.objects.filter(action="api_token.refused")
    assert refused.count() == 1 and refused.get().payload["source"] == "203.0.113.7"
    assert sum(RefusalTally.objects.values_list("count", flat=True)) == 200
    # The window ends: one more event says how many more came, and the tally goes.
    summary = Effect.objects.get(kind="audit.refusal_summary")
    Effect.objects.filter(pk=summary.pk).update(due_at=summary.created_at)
    assert effect_deliver(effect_id=summary.pk) == "delivered"
    assert refused.count() == 2 and refused.latest("seq").payload["more"] == 199
    assert not RefusalTally.objects.exists()
    assert (
        Client(REMOTE_ADDR="203.0.113.8").get(f"{API}/servers", headers={"Authorization": "Bearer x"}).status_code
        == 401
    )


@pytest.mark.postgres  # (the tally is locked while counting)
def test_a_refusal_after_its_window_writes_that_windows_count_and_begins_a_new_window(db, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"refusal_window_seconds": 3600})
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(3):
        stranger.get(f"{API}/servers", headers={"Authorization": "Bearer garbage"})
    RefusalTally.objects.update(window_start=F("window_start") - dt.timedelta(hours=2))  # that window is over
    stranger.get(f"{API}/servers", headers={"Authorization": "Bearer garbage"})
    refused = AuditEvent.objects.filter(action="api_token.refused").order_by("seq")
    assert [e.payload.get("more") for e in refused] == [None, 2, None]  # first, its window's count, a new first
    first_summary = Effect.objects.filter(kind="audit.refusal_summary").order_by("pk").first()
    Effect.objects.filter(pk=first_summary.pk).update(due_at=first_summary.created_at)
    assert effect_deliver(effect_id=first_summary.pk) == "delivered"
    assert refused.count() == 3  # written already: not twice
    assert RefusalTally.objects.get().count == 1


def test_sign_ins_beyond_the_lock_out_are_counted_not_each_recorded(db, requester, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"refusal_window_seconds": 3600})
    stranger = Client(REMOTE_ADDR="198.51.100.4")
    for _ in range(settings.AXES_FAILURE_LIMIT + 40):
        stranger.post("/accounts/login/", {"username": "requester", "password": "wrong"})
    failed = AuditEvent.objects.filter(action="auth.login_failed").count()
    locked = AuditEvent.objects.filter(action="auth.locked_out").count()
    assert failed <= settings.AXES_FAILURE_LIMIT + 1 and locked == 1, (failed, locked)


def test_a_requester_who_left_the_team_can_still_cancel_their_own_pending_request(
    api_as, requester, world, attach_body, needs_approval
):
    api = api_as(requester, "read", "request")
    created = api.post(f"/servers/{world.servers['web-01'].id}/attach-requests", attach_body())
    assert created.status_code == 201, created.content
    platform_team().members.remove(requester)
    cancelled = api.post(f"/attach-requests/{created.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert InterfaceRequest.objects.get(pk=created.json()["id"]).status == Status.CANCELLED


def twice_at_once(send) -> list:
    """`send()` from two threads released together; what each returned."""
    results, start = [], threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(send())
        finally:
            connections.close_all()  # this thread's

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fixed", [False, True])
def test_one_idempotency_key_posted_twice_at_once_answers_201_then_200_with_the_same_request(
    sim, world, requester, token_for, attach_body, fixed
):
    if connection.vendor != "postgresql":
        pytest.skip("a race between two transactions: runs in make test's PostgreSQL pass")
    secret, _ = token_for(requester, "read", "request")
    path = f"{API}/servers/{world.servers['web-01'].id}/attach-requests"
    for n in range(6):
        body = attach_body(fixed_ips=[f"192.168.20.{100 + n}"] if fixed else [])
        headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": str(uuid.uuid4())}

        def post(body=body, headers=headers):
            response = Client().post(path, body, content_type="application/json", headers=headers)
            return response.status_code, response.json().get("id")

        answers = twice_at_once(post)
        assert sorted(status for status, _ in answers) == [200, 201], answers
        assert len({pk for _, pk in answers}) == 1, answers
    assert InterfaceRequest.objects.count() == 6


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_forms_confirm_clicked_twice_at_once_lands_both_clicks_on_one_request(sim, world, requester):
    if connection.vendor != "postgresql":
        pytest.skip("a race between two transactions: runs in make test's PostgreSQL pass")
    path = f"/servers/{world.servers['web-01'].id}/attach/"
    for n in range(6):
        data = {
            "mode": "subnet",
            "subnet_id": world.subnets["prod-db"].id,
            "port_id": "",
            "fixed_ip": [f"192.168.20.{60 + n}"],
            "justification": "Second NIC for the backup network",
            "idempotency_key": str(uuid.uuid4()),
            "action": "confirm",
        }

        def click(data=data):
            browser = Client()
            browser.force_login(requester)
            return browser.post(path, data)

        landed = twice_at_once(click)
        assert [r.status_code for r in landed] == [302, 302], [r.content[:500] for r in landed]
        assert len({r["Location"] for r in landed}) == 1
    assert InterfaceRequest.objects.count() == 6
