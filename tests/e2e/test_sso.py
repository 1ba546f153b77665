"""Single sign-on in Chromium through the real test IdP: sign in, see the team's servers, sign out at both ends."""

import re

import pytest
from playwright.sync_api import expect

from tests.identity.conftest import sso  # noqa: F401  (fixture)
from tests.idp import idp  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def sso_sign_in(page, username: str) -> None:
    """Through the login page's single sign-on link, the IdP's own form (any password)."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()


def test_sign_in_through_the_idp_and_out_again(new_page, sso, sim, live_server):  # noqa: F811
    page = new_page()
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.wait_for_url(f"{sso.url}/**")
    page.locator("input[name=login]").fill("alice")
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_url("**/servers/")
    expect(page.get_by_role("link", name="web-01")).to_be_visible()
    expect(page.get_by_role("link", name="app-02")).to_have_count(0)
    expect(page.locator(".signout")).to_contain_text("alice")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{sso.url}/session/end**")
    page.get_by_role("button", name=re.compile("Yes", re.I)).click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/servers/")
    page.wait_for_url("**/accounts/login/**")


def test_someone_without_a_mapped_group_sees_why(new_page, sso, sim):  # noqa: F811
    page = new_page()
    sso_sign_in(page, "carol")
    expect(page.locator("#refused")).to_contain_text("None of your identity provider groups gives access")
    expect(page.locator("#idp-groups")).to_contain_text("marketing")  # what the IdP sent, to fix a mapping


def test_removing_every_group_at_the_idp_ends_an_open_browser_session(new_page, sso, sim):  # noqa: F811
    """The session signed in first loses its pages once the same person's next sign-in finds no mapped group."""
    from django.test import Client

    from tests.identity.test_sso import sign_in

    page = new_page()
    sso_sign_in(page, "alice")
    page.wait_for_url("**/servers/")
    page.goto("/approvals/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    sso.set_users({"alice": {"email": "alice@example.com", "groups": ["marketing"]}})
    assert sign_in(Client(), sso, "alice").status_code == 403  # alice, elsewhere, with no mapped group left
    page.goto("/approvals/")
    page.wait_for_url("**/accounts/login/**")
