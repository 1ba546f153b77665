"""Teams in the browser: another team's request is unreachable by any URL; a two-step policy end to end."""

import re

import pytest
from playwright.sync_api import expect

from portal.interfaces.models import InterfaceRequest
from tests.approvals.test_steps import people, two_steps  # noqa: F401  (fixtures)
from tests.e2e.conftest import sign_in
from tests.e2e.test_approvals import submit_by_port
from tests.teams.conftest import FIXED_IP, SECRET_JUSTIFICATION, org, web_request  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e


def test_requester_a_cannot_reach_requester_bs_request_by_any_url(new_page, org, sim, world, web_request):  # noqa: F811
    page = new_page()
    sign_in(page, "apps-req")
    server = world.servers["web-01"].id
    for url in (
        f"/requests/{web_request.pk}/",
        f"/requests/{web_request.pk}/?fragment=status",
        f"/servers/{server}/",
        f"/servers/{server}/attach/",
        f"/servers/{server}/attach/?again={web_request.pk}",
        f"/servers/{server}/attach/check-ip/?subnet_id={world.subnets['prod-db'].id}&fixed_ip={FIXED_IP}",
        "/requests/",
        "/servers/?q=web",
        "/approvals/",
        f"/audit/?request_id={web_request.pk}",
    ):
        response = page.goto(url)
        body = page.content()
        assert response.status in (200, 403, 404), url
        for secret in (SECRET_JUSTIFICATION, FIXED_IP, server, "web-01", "web-req"):
            assert secret not in body, f"{url} shows {secret!r}"
    page.goto("/servers/")
    expect(page.get_by_role("link", name="app-02")).to_be_visible()
    expect(page.get_by_role("link", name="web-01")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for url in (f"/requests/{web_request.pk}/cancel/", f"/approvals/{web_request.pk}/decide/"):
        forced = page.request.post(
            url,
            form={"decision": "approve", "csrfmiddlewaretoken": csrf},
            headers={"Referer": page.url, "HX-Request": "true"},
        )
        assert forced.status == 404 and SECRET_JUSTIFICATION not in forced.text()
    web_request.refresh_from_db()
    assert web_request.status == "pending_approval"


def approve_in_queue(new_page, username: str, request_id: int, comment: str):
    page = new_page()
    sign_in(page, username)
    page.goto("/approvals/")
    item = page.locator(f"#approval-{request_id}")
    item.get_by_label("Comment (required to reject)").fill(comment)
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").filter(has_text="You approved this request")).to_be_visible()


def test_two_step_policy_netops_then_two_of_security(new_page, requester, people, sim, world):  # noqa: F811
    mine = new_page()
    sign_in(mine, "requester")
    url = submit_by_port(mine, world, "Two-step change")
    request_id = int(re.search(r"/requests/(\d+)/", url).group(1))
    expect(mine.get_by_text("Step 1: one approver from netops — waiting")).to_be_visible()
    expect(mine.get_by_text("Can decide: net1, net2")).to_be_visible()
    approve_in_queue(new_page, "net1", request_id, "netops ok")
    mine.goto(url)
    expect(mine.get_by_text("Step 2: 2 approvers from security — waiting")).to_be_visible()
    approve_in_queue(new_page, "sec1", request_id, "first security look")
    mine.goto(url)
    expect(mine.locator("#status")).to_have_text("Pending approval")
    expect(mine.get_by_text("sec1 approved: “first security look”")).to_be_visible()
    assert sim.attach_posts() == []
    approve_in_queue(new_page, "sec2", request_id, "second security look")
    mine.goto(url)
    expect(mine.locator("#status")).to_have_text("Succeeded")
    assert len(sim.attach_posts()) == 1
    assert InterfaceRequest.objects.get(pk=request_id).decided_by.username == "sec2"
