"""The Content-Security-Policy holds on every page, for every role: no inline script or style, no eval.

Each page is loaded in Chromium with a listener for `securitypolicyviolation` events (installed before any page
script runs) and a watch on console errors; one violation or error anywhere fails the test with its page.
"""

import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from portal.interfaces.models import InterfaceRequest, Status
from tests.e2e.conftest import sign_in
from tests.e2e.test_attach import settled

pytestmark = pytest.mark.e2e

WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at line ' + e.lineNumber);
});
"""


def watched_page(new_page):
    page = new_page()
    page.add_init_script(WATCH)
    errors: list[str] = []
    # A page's own 404 (a request outside one's audience) is expected; a sub-resource that fails is not.
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.type}: {msg.text}")
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} for {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.errors = errors
    return page


def assert_clean(page, url: str) -> None:
    violations = page.evaluate("window.__violations || []")
    assert violations == [], f"CSP violations on {url}: {violations}"
    assert page.errors == [], f"console errors on {url}: {page.errors}"


def visit_all(page, urls: list[str]) -> None:
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status < 500, f"{url} answered {response and response.status}"
        csp = response.headers.get("content-security-policy", "")
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp, csp
        page.wait_for_load_state("networkidle")
        assert_clean(page, url)


@pytest.fixture
def admin_user(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="admin", password=os.environ["DEMO_PASSWORD"], email="admin@example.com"
    )


@pytest.fixture
def requests_of_each_kind(requester, approver, sim, world, settings):
    """One request that succeeded and one waiting for approval, so their pages and the queue have content."""
    from portal.interfaces.services import interface_request_submit

    server = world.servers["web-01"].id
    done = interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        server_id=server,
        mode="port",
        port_id=world.spare_port().id,
        justification="CSP walk: succeeded",
    )
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    waiting = interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        server_id=server,
        mode="port",
        port_id=world.spare_port(n=2).id,
        justification="CSP walk: waiting",
    )
    done.refresh_from_db()
    assert done.status == Status.SUCCEEDED and waiting.status == Status.PENDING_APPROVAL
    return done, waiting


def test_the_sign_in_pages_keep_the_policy(new_page, live_server):
    page = watched_page(new_page)
    visit_all(page, ["/accounts/login/", "/accounts/login/?next=/servers/"])
    page.get_by_label("Username").fill("nobody")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert_clean(page, "failed sign-in")


def test_every_page_keeps_the_policy_for_every_role(new_page, requests_of_each_kind, auditor, admin_user, world):
    done, waiting = requests_of_each_kind
    server = world.servers["web-01"].id
    from portal.audit.models import AuditEvent

    event = AuditEvent.objects.order_by("-seq").first().seq
    common = ["/servers/", f"/servers/{server}/", "/accounts/profile/", "/accounts/password_change/"]
    pages = {
        "requester": [
            *common,
            f"/servers/{server}/attach/",
            "/requests/",
            f"/requests/{done.pk}/",
            f"/requests/{waiting.pk}/",
            "/requests/999999/",
            "/api/v1/docs",
            f"/servers/{server}/detach/{done.result_port_id}/",
        ],
        "approver": [*common, "/approvals/", f"/requests/{waiting.pk}/"],
        "auditor": [*common, "/audit/", f"/audit/events/{event}/", f"/requests/{done.pk}/", "/audit/?q=web", "/drift/"],
        "admin": [
            "/admin/",
            "/admin/interfaces/interfacerequest/",
            f"/admin/interfaces/interfacerequest/{done.pk}/change/",
            "/admin/auth/user/",
            "/admin/auth/user/add/",
            "/admin/teams/team/",
            "/admin/teams/team/add/",
            "/admin/approvals/approvalpolicy/add/",
            "/admin/axes/accessattempt/",
            "/admin/audit/auditevent/",
            "/admin/api/apitoken/",
        ],
    }
    for role, urls in pages.items():
        page = watched_page(new_page)
        if role == "admin":
            page.goto("/admin/login/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(os.environ["DEMO_PASSWORD"])
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url("**/admin/")
        else:
            sign_in(page, role)
        visit_all(page, urls)


def test_htmx_swaps_keep_the_policy(new_page, requester, sim, world):
    """The attach form's htmx round trips (mode switch, adding, checking and removing a fixed IP, the preview)."""
    page = watched_page(new_page)
    sign_in(page, "requester")
    page.goto(f"/servers/{world.servers['web-01'].id}/attach/")
    page.get_by_label("Existing port").check()
    page.wait_for_load_state("networkidle")
    page.get_by_label("New port on a subnet").check()
    page.wait_for_load_state("networkidle")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_role("button", name="Add a fixed IP").click()
    page.wait_for_load_state("networkidle")
    settled(page)  # htmx listens on the new row only once it has processed the swapped-in content
    page.locator("#fixed_ip_0").fill("192.168.20.77")
    page.locator("#fixed_ip_0").blur()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#fixed_ip_0_check")).to_contain_text("192.168.20.77")
    page.get_by_role("button", name="Remove fixed IP 1").click()
    expect(page.locator("#fixed_ip_0")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    page.get_by_label("Justification").fill("CSP htmx walk")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    page.wait_for_load_state("networkidle")
    assert_clean(page, page.url)
    assert InterfaceRequest.objects.filter(justification="CSP htmx walk").exists()
