"""The audit log's filters live in the address: a filtered view survives Back, a reload and Verify."""

from playwright.sync_api import expect

from portal.audit.events import AuditAction
from portal.audit.models import Outcome
from portal.audit.services import record_event
from tests.e2e.conftest import sign_in


def test_filters_are_in_the_url_across_htmx_swaps_back_and_verify(new_page, auditor, db):
    for n in range(3):
        record_event(action=AuditAction.LOGIN_FAILED, outcome=Outcome.FAILURE, payload={"n": n})
    record_event(action=AuditAction.DRIFT_SCANNED, outcome=Outcome.SUCCESS)
    page = new_page()
    sign_in(page, "auditor")
    page.goto("/audit/")
    page.get_by_label("Action").fill("auth.login_failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*action=auth.login_failed*")
    assert "fragment" not in page.url
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(3)
    page.reload()  # the address alone gives the same events
    expect(page.locator("#results tbody tr")).to_have_count(3)
    expect(page.get_by_label("Action")).to_have_value("auth.login_failed")
    page.get_by_role("button", name="Verify the chain now").click()
    page.wait_for_url("**/audit/?*action=auth.login_failed*")  # Verify keeps the filters too
    expect(page.locator("#results tbody tr")).to_have_count(3)
    page.get_by_label("Action").fill("drift.scanned")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/audit/?*action=drift.scanned*")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.go_back()
    page.wait_for_url("**/audit/?*action=auth.login_failed*")
    expect(page.locator("#results tbody tr")).to_have_count(3)
