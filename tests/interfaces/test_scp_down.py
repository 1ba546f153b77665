"""With SCP not answering, a page that needs it says so in one clear 503 page, whichever view it is."""

import pytest

from portal.audit.models import AuditEvent


@pytest.fixture
def scp_down(settings):
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"scp_virtualserver_url": "http://127.0.0.1:9/virtualserver", "scp_vpc_url": "http://127.0.0.1:9/vpc"}
    )


@pytest.mark.parametrize("page", ["/servers/{id}/", "/servers/{id}/attach/"])
def test_a_page_that_needs_scp_says_scp_is_not_answering(sim, world, requester, client, scp_down, page):
    client.force_login(requester)
    response = client.get(page.format(id=world.servers["web-01"].id))
    assert response.status_code == 503
    assert "SCP is not answering right now" in response.content.decode()
    assert AuditEvent.objects.filter(action="scp.call", outcome="failure").exists()  # the attempt is on record


def test_the_scp_down_page_speaks_the_readers_language(sim, world, requester, client, scp_down):
    client.force_login(requester)
    response = client.get(f"/servers/{world.servers['web-01'].id}/", HTTP_ACCEPT_LANGUAGE="ko")
    assert response.status_code == 503 and "SCP is not answering" not in response.content.decode()


def test_the_server_list_says_it_in_place_and_keeps_its_search(sim, world, requester, client, scp_down):
    client.force_login(requester)
    response = client.get("/servers/?q=web")
    assert response.status_code == 200
    text = response.content.decode()
    assert "SCP is not answering right now" in text and 'value="web"' in text


def test_the_detach_page_says_nothing_could_be_checked(sim, world, requester, client, scp_down):
    client.force_login(requester)
    response = client.get(f"/servers/{world.servers['web-01'].id}/detach/port-1/")
    assert response.status_code == 409
    assert "SCP could not be asked to check this request right now; nothing was sent." in response.content.decode()


def test_a_hung_scp_costs_a_page_its_short_budget_not_the_workers_timeout(sim, world, requester, client, settings):
    """SCP that accepts the connection and never answers: the page gives up after SCP_PAGE_READ_TIMEOUT (the
    call on record says so), while the worker's SCP_READ_TIMEOUT stays long."""
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_read_timeout": 60.0, "scp_page_read_timeout": 0.3})
    sim.faults(latency_ms=3000)
    client.force_login(requester)
    response = client.get(f"/servers/{world.servers['web-01'].id}/")
    sim.faults()
    assert response.status_code == 503 and "SCP is not answering right now" in response.content.decode()
    call = AuditEvent.objects.filter(action="scp.call", outcome="unknown").latest("seq")  # no answer in time
    assert "within 0.3s" in str(call.payload), call.payload
    from portal.core.scp import scp_client

    assert scp_client()._timeout[1] == 60.0  # outside a page (a worker, a command): the long timeout
