"""Under DEBUG (make run), a refusal or a wrong address shows the portal's own 404 page, never Django's technical
one listing every URL pattern; the API answers problem details for any address under /api/."""

import pytest
from django.test import Client

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


def test_a_request_outside_ones_audience_and_a_wrong_address_show_the_portals_page(new_page, requester, debug):
    page = new_page()
    sign_in(page, "requester")
    for path, words in (("/requests/999999/", "No such request."), ("/no/such/page/", "That page does not exist.")):
        response = page.goto(path)
        assert response.status == 404
        text = page.locator("body").inner_text()
        assert words in text and "URLconf" not in text and "Django" not in text, text[:500]
        assert page.get_by_role("link", name="Back to the servers").is_visible()


def test_an_unknown_api_address_is_a_problem_not_a_page(db, debug, settings):
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert Client().get("/servers")["Location"] == "/servers/"  # a missing slash is still put right
    settings.CONFIG = settings.CONFIG.model_copy(update={"debug_technical_404": True})
    assert "URLconf" in Client().get("/no/such/page/").content.decode()  # the opt-in brings Django's back
