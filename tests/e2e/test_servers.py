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
