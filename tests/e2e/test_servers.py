"""The server list in a real browser: paging forward and back through htmx, with the address bar kept in step."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_next_and_previous_pages_swap_in_place(signed_in, sim, world, monkeypatch):
    monkeypatch.setattr("portal.interfaces.selectors.SERVER_PAGE_SIZE", 5)
    page = signed_in
    page.goto("/servers/")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(5)
    first = rows.all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    expect(page).to_have_url(re.compile(r"marker="))
    expect(rows.first).not_to_have_text(first[0])
    second = rows.all_inner_texts()
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    page.get_by_role("link", name="Previous page").click()
    expect(rows.first).to_have_text(second[0])
    page.get_by_role("link", name="Previous page").click()
    expect(rows.first).to_have_text(first[0])
    expect(page.get_by_role("link", name="Previous page")).to_have_count(0)
    page.go_back()  # the browser's own history follows the pages too
    expect(rows.first).to_have_text(second[0])


def test_on_a_phone_server_names_stay_whole_and_created_reads_as_a_time(new_page, requester, sim, world):
    from tests.e2e.conftest import sign_in

    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, "requester")
    page.goto("/servers/")
    links = page.locator("#results tbody td.server-name a")
    expect(links.first).to_be_visible()
    lines = links.evaluate_all("as => as.map(a => a.getClientRects().length)")
    assert lines and set(lines) == {1}  # every name on one line: none breaks mid-word
    created = page.locator("#results tbody tr").first.locator("time")
    expect(created).to_have_count(1)  # SCP's ISO text shown as a time in the viewer's zone, UTC on hover
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \w+", created.inner_text()) and created.get_attribute("datetime")
