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
