"""Detach in the browser: chosen on the server page, previewed, approved by someone else, carried out."""

import re

import pytest
from playwright.sync_api import expect

from portal.scp import schemas
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def needs_approval(settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})


def test_detach_with_approval_end_to_end(new_page, requester, approver, sim, world, scp, needs_approval):
    server = world.servers["web-01"]
    made = scp.attach_interface(server.id, schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-db"].id))
    mine = new_page()
    sign_in(mine, "requester")
    mine.goto(f"/servers/{server.id}/")
    default = world.ports["web-01-eth0"].id
    expect(mine.locator(f'[data-detach-blocked="{default}"]')).to_have_text(
        "This is the server's default interface; it cannot be detached."
    )
    expect(mine.get_by_role("link", name=f"Detach {default}")).to_have_count(0)
    mine.get_by_role("link", name=f"Detach {made.port_id}").click()
    expect(mine.locator("#preview-call")).to_have_text(f"DELETE /v1/servers/{server.id}/interfaces/{made.port_id}")
    expect(mine.locator("#detach-effect")).to_contain_text("The portal did not attach this interface")
    mine.get_by_label("Justification").fill("The backup network moved")
    mine.get_by_role("button", name="Confirm and submit the detach").click()
    mine.wait_for_url(re.compile(r"/requests/\d+/$"))
    url = mine.url
    expect(mine.get_by_role("heading", level=1)).to_contain_text("detach from web-01")
    expect(mine.locator("#status")).to_have_text("Pending approval")
    assert [r for r in sim.requests() if r["method"] == "DELETE"] == []

    theirs = new_page()
    sign_in(theirs, "approver")
    theirs.goto("/approvals/")
    expect(theirs.get_by_text("The backup network moved")).to_be_visible()
    expect(theirs.get_by_role("heading", name=re.compile("detach from web-01"))).to_be_visible()
    theirs.get_by_role("button", name="Approve").click()
    expect(theirs.get_by_role("status").filter(has_text="You approved this request")).to_be_visible()

    mine.goto(url)
    expect(mine.locator("#status")).to_have_text("Succeeded")
    expect(mine.locator("#detach-result")).to_contain_text("SCP deleted the port and freed its addresses")
    assert len([r for r in sim.requests() if r["method"] == "DELETE"]) == 1
    mine.goto(f"/servers/{server.id}/")
    expect(mine.get_by_text(made.port_id)).to_have_count(0)


def test_detaching_the_default_interface_is_refused_even_by_its_address(new_page, requester, sim, world):
    page = new_page()
    sign_in(page, "requester")
    server, default = world.servers["web-01"], world.ports["web-01-eth0"].id
    page.goto(f"/servers/{server.id}/detach/{default}/")
    expect(page.locator("#detach-refused")).to_have_text(
        "This is the server's default interface; it cannot be detached."
    )
    expect(page.get_by_role("button", name="Confirm and submit the detach")).to_have_count(0)


def test_the_detach_form_speaks_of_detaching_names_the_subnet_and_can_be_left(new_page, requester, sim, world, scp):
    server = world.servers["web-01"]
    made = scp.attach_interface(server.id, schemas.ServerInterfaceCreateRequest(subnet_id=world.subnets["prod-db"].id))
    page = new_page()
    sign_in(page, "requester")
    page.goto(f"/servers/{server.id}/detach/{made.port_id}/")
    expect(page.locator("#detach-subnet")).to_contain_text("prod-db (192.168.20.0/24)")
    expect(page.get_by_text("Why this interface should be detached.")).to_be_visible()
    page.get_by_role("button", name="Confirm and submit the detach").click()  # no justification
    expect(page.get_by_text("Say why this interface should be detached.")).to_be_visible()
    expect(page.get_by_text("needed")).to_have_count(0)  # nothing speaks of attaching
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(f"**/servers/{server.id}/")
    assert [r for r in sim.requests() if r["method"] == "DELETE"] == []
