"""A requester makes a personal access token on their account page, uses it, and revokes it, in Chromium."""

import pytest
import requests
from playwright.sync_api import expect

from portal.api.models import ApiToken
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_create_use_and_revoke_a_token(new_page, requester, live_server):
    page = new_page()
    sign_in(page, "requester")
    page.locator("#profile-link").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.get_by_label("audit: the audit log, its export, verification and anchor")).to_have_count(0)
    page.get_by_label("Name").fill("laptop script")
    page.get_by_label("request: preview, submit and cancel attach requests").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("scpp_") and len(secret) == 57
    row = page.locator("#token-list tr", has_text="laptop script")
    expect(row).to_contain_text("read, request")
    expect(row).to_contain_text("never")

    http = requests.Session()
    http.trust_env = False
    me = http.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert me.json()["scopes"] == ["read", "request"]
    page.reload()  # re-posts the form: no second token, and the secret is not shown again
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    expect(page.get_by_text("was created already; its secret was shown once")).to_be_visible()
    assert ApiToken.objects.count() == 1
    expect(page.locator("#token-list tr", has_text="laptop script")).not_to_contain_text("never")

    page.get_by_role("button", name="Revoke laptop script").click()
    expect(page.get_by_text("is revoked; it no longer works.")).to_be_visible()
    expect(page.locator("#token-list tr", has_text="laptop script")).to_contain_text("revoked")
    refused = http.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert refused.status_code == 401 and ApiToken.objects.get().revoked_at is not None
