"""Four eyes in the browser: a requester and an approver in separate sessions."""

import re

import pytest
from playwright.sync_api import expect

from portal.audit.models import AuditEvent
from portal.interfaces.models import InterfaceRequest
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def needs_approval(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})


def submit_by_port(page, world, justification: str) -> str:
    page.goto(f"/servers/{world.servers['web-01'].id}/attach/")
    page.get_by_label("Existing port").check()
    page.get_by_label("Unattached port (in the server's VPC)").select_option(world.spare_port().id)
    page.get_by_label("Justification").fill(justification)
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    expect(page.locator("#status")).to_have_text("Pending approval")
    return page.url


def test_requester_submits_approver_approves_requester_sees_success(
    new_page, requester, approver, sim, world, needs_approval
):
    mine = new_page()
    sign_in(mine, "requester")
    url = submit_by_port(mine, world, "Backup agent needs its own NIC")
    assert sim.attach_posts() == []
    theirs = new_page()
    sign_in(theirs, "approver")
    expect(theirs.get_by_role("link", name=re.compile(r"Approvals\s*1"))).to_be_visible()
    theirs.get_by_role("link", name=re.compile("Approvals")).click()
    expect(theirs.get_by_text("Backup agent needs its own NIC")).to_be_visible()
    theirs.get_by_label("Comment (required to reject)").fill("Looks right")
    theirs.get_by_role("button", name="Approve").click()
    expect(theirs.get_by_role("status").filter(has_text="You approved this request")).to_be_visible()
    mine.goto(url)  # the page also refreshes itself; a reload keeps the test short
    expect(mine.locator("#status")).to_have_text("Succeeded")
    expect(mine.locator("#decision-comment")).to_have_text("Looks right")
    assert len(sim.attach_posts()) == 1


def test_a_rejection_shows_its_reason_to_the_requester(new_page, requester, approver, sim, world, needs_approval):
    mine = new_page()
    sign_in(mine, "requester")
    url = submit_by_port(mine, world, "Please")
    theirs = new_page()
    sign_in(theirs, "approver")
    theirs.goto("/approvals/")
    theirs.get_by_role("button", name="Reject").click()
    expect(theirs.get_by_role("alert")).to_have_text("Say why the request is rejected; the requester will read it.")
    theirs.get_by_label("Comment (required to reject)").fill("Use the storage VLAN, not prod-db")
    theirs.get_by_role("button", name="Reject").click()
    expect(theirs.get_by_role("status").filter(has_text="You rejected this request")).to_be_visible()
    mine.goto(url)
    expect(mine.locator("#status")).to_have_text("Rejected")
    expect(mine.locator("#status-reason")).to_contain_text("Use the storage VLAN, not prod-db")
    assert sim.attach_posts() == []


def test_an_approver_gets_no_approve_button_for_their_own_request(
    new_page, approver, second_approver, sim, world, needs_approval
):
    page = new_page()
    sign_in(page, "approver")
    url = submit_by_port(page, world, "My own change")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    page.goto("/approvals/")
    expect(page.get_by_text("My own change")).to_have_count(0)
    request = InterfaceRequest.objects.get()
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forced = page.request.post(
        f"/approvals/{request.pk}/decide/",
        form={
            "decision": "approve",
            "parameters_digest": request.parameters_digest,
            "comment": "sneaky",
            "csrfmiddlewaretoken": csrf,
        },
        headers={"Referer": page.url},
    )
    assert forced.status == 403 and "Nobody approves their own request" in forced.text()
    request.refresh_from_db()
    assert request.status == "pending_approval" and sim.attach_posts() == []
    assert AuditEvent.objects.filter(action="approval.approve", outcome="denied", actor_name="approver").exists()
    page.goto(url)
    expect(page.locator("#status")).to_have_text("Pending approval")


def test_polling_never_wipes_an_approvers_half_typed_comment(new_page, requester, approver, sim, world, needs_approval):
    mine = new_page()
    sign_in(mine, "requester")
    url = submit_by_port(mine, world, "Needs a careful look")
    theirs = new_page()
    sign_in(theirs, "approver")
    theirs.goto(url)
    comment = theirs.get_by_label("Comment (required to reject)")
    comment.fill("Checking with the network team first")
    assert theirs.locator("#request-status textarea").count() == 0  # the form is outside the polled region
    expect(theirs.locator("#request-status")).to_have_attribute("hx-trigger", "request-changed")  # on change only
    with theirs.expect_response(lambda r: "fragment=status" in r.url):
        theirs.evaluate(
            "htmx.ajax('GET', location.pathname + '?fragment=status', {target: '#request-status', swap: 'outerHTML'})"
        )  # a poll, now
    expect(theirs.locator("#status")).to_have_text("Pending approval")
    expect(comment).to_have_value("Checking with the network team first")


def test_the_requesters_open_page_shows_success_as_soon_as_it_happens(
    new_page, requester, approver, sim, world, needs_approval
):
    """Item 1 of "What a new user meets": the page no longer waits for a 15 s poll. It is told by its one-query
    change check (every second) and then fetches its status; no timer refetches the status itself."""
    mine = new_page()
    sign_in(mine, "requester")
    submit_by_port(mine, world, "Live page")
    status = mine.locator("#request-status")
    expect(status).to_have_attribute("hx-trigger", "request-changed")  # no "every …": nothing waits for a timer
    quiet = []
    mine.on("response", lambda r: "/changed/" in r.url and quiet.append(r.status))
    with mine.expect_response(lambda r: "/changed/" in r.url and r.status == 204):
        pass  # nothing happened yet: the check answers "no change", for one query
    theirs = new_page()
    sign_in(theirs, "approver")
    theirs.get_by_role("link", name=re.compile("Approvals")).click()
    with mine.expect_response(lambda r: "fragment=status" in r.url, timeout=60_000) as refreshed:
        theirs.get_by_role("button", name="Approve").click()
    assert refreshed.value.status == 200
    expect(mine.locator("#status")).to_have_text(re.compile("Approved|Executing|Succeeded"))
    expect(mine.locator("#status")).to_have_text("Succeeded", timeout=60_000)
    assert 204 in quiet and 200 in quiet  # unchanged checks, then the one that said "changed"
    expect(mine.locator("#request-watch")).to_have_count(0)  # final: the page stops asking
