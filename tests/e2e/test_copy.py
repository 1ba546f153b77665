"""The guest-OS snippets stay inside their card at 1280 px, and they and a new API token have copy buttons that put
exactly their text on the clipboard."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def test_snippets_fit_their_card_and_copy_exactly(new_page, requester, sim, world, submit):
    server, subnet = world.servers["web-01"], world.subnets["prod-app"]
    request = submit(justification="snippets", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    assert request.status == "succeeded"
    page = new_page(viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, "requester")
    page.goto(f"/requests/{request.pk}/")
    page.get_by_text("NetworkManager").click()
    snippet = page.locator("#guest-nmcli")
    expect(snippet).to_be_visible()
    card = page.locator("main").bounding_box()
    box = snippet.bounding_box()
    assert box["x"] + box["width"] <= card["x"] + card["width"]  # the long nmcli line wraps inside the card
    assert snippet.evaluate("e => e.scrollWidth <= e.clientWidth")  # and nothing is cut off inside it
    button = page.locator("button[data-copy=guest-nmcli]")
    button.click()
    expect(button).to_have_text("Copied")
    assert clipboard(page) == snippet.text_content() and "nmcli connection add" in clipboard(page)


def test_a_new_token_is_copied_with_one_click(new_page, requester):
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, "requester")
    page.goto("/accounts/profile/")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token-value").input_value()
    page.locator("button[data-copy=new-token-value]").click()
    assert clipboard(page) == token and token.startswith("scpp_")
