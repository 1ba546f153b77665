"""A request page's change check: one query, answered before sessions are read; "changed" exactly when the
request has a new event; a token that does not check out tells nothing but "ask the page again"."""

import re

import pytest
from django.test import Client

from portal.interfaces.lifecycle import transition


@pytest.fixture
def pending(settings, sim, world, submit):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    return submit(justification="watched", server_id=server.id, mode="subnet", subnet_id=subnet.id)


def watch_url(client, request) -> str:
    page = client.get(f"/requests/{request.pk}/").content.decode()
    return re.search(r'id="request-watch" hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")


def test_the_check_answers_no_change_for_one_query_then_changed_after_a_transition(
    requester_client, pending, django_assert_num_queries
):
    assert pending.status == "pending_approval"
    url = watch_url(requester_client, pending)
    assert "every 1500ms" in requester_client.get(f"/requests/{pending.pk}/").content.decode()  # waiting: slower
    with django_assert_num_queries(1):  # no session, no user: the newest event of the request, by its index
        unchanged = requester_client.get(url)
    assert unchanged.status_code == 204 and "HX-Trigger" not in unchanged
    transition(pending, "cancel", reason="changed my mind")
    changed = requester_client.get(url)
    assert changed.status_code == 200 and changed["HX-Trigger"] == "request-changed"
    final = requester_client.get(f"/requests/{pending.pk}/").content.decode()
    assert 'id="request-watch"' not in final and 'hx-trigger="request-changed"' not in final


def test_a_token_that_does_not_check_out_only_says_ask_again(requester_client, pending, other_requester):
    url = watch_url(requester_client, pending)
    stranger = Client()
    assert stranger.get(url).status_code == 200  # another browser (its session cookie is not the page's)
    other = re.sub(r"/requests/\d+/", f"/requests/{pending.pk + 1}/", url)
    assert requester_client.get(other).status_code == 200  # a token for another request
    assert requester_client.get(url.replace("t=", "t=x")).status_code == 200  # a forged token
    assert requester_client.get(re.sub(r"v=\d+", "v=abc", url)).status_code == 200
    for answer in (stranger.get(url), requester_client.get(other)):
        assert answer.content == b""  # never anything about the request itself


def test_an_event_committed_while_the_page_is_drawn_shows_as_a_change(requester_client, pending):
    """The worker may commit a transition between the page's read of the request and of its newest event: the
    page then shows the state before it, and its watch must still see that change (found by the attach bench,
    whose page stayed on Executing for good)."""
    from django.db.models.signals import post_init

    from portal.interfaces.models import InterfaceRequest

    moved = []

    def commit_meanwhile(sender, instance, **kwargs):  # right after the view has read the request
        if instance.pk == pending.pk and not moved:
            moved.append(True)
            transition(InterfaceRequest.objects.get(pk=pending.pk), "cancel", reason="meanwhile")

    post_init.connect(commit_meanwhile, sender=InterfaceRequest)
    try:
        page = requester_client.get(f"/requests/{pending.pk}/").content.decode()
    finally:
        post_init.disconnect(commit_meanwhile, sender=InterfaceRequest)
    assert moved and 'id="status">Pending approval' in page  # drawn at the state before the transition
    url = re.search(r'id="request-watch" hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert requester_client.get(url).status_code == 200  # the watch sees it
