"""The portal on a 390-px-wide screen (nothing spills past it) and with JavaScript turned off (attach still works)."""

import uuid

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def spills(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_the_main_pages_fit_a_390px_screen(new_page, requester, auditor, sim, world):
    from portal.interfaces.services import interface_request_submit

    server = world.servers["web-01"].id
    done = interface_request_submit(
        requester=requester,
        idempotency_key=uuid.uuid4(),
        justification="narrow",
        server_id=server,
        mode="port",
        port_id=world.spare_port().id,
    )
    pages = {
        "requester": [
            "/servers/",
            f"/servers/{server}/",
            f"/servers/{server}/attach/",
            f"/requests/{done.pk}/",
            "/requests/",
            "/accounts/profile/",
        ],
        "auditor": ["/audit/", "/drift/"],
    }
    for role, urls in pages.items():
        page = new_page(viewport={"width": 390, "height": 844})
        sign_in(page, role)
        for url in urls:
            page.goto(url)
            page.wait_for_load_state("networkidle")
            assert spills(page) <= 0, f"{url} is {spills(page)} px wider than the screen"
    page = new_page(viewport={"width": 390, "height": 844})
    sign_in(page, "requester")
    page.goto(f"/servers/{server}/attach/")
    page.get_by_label("Existing port").check()
    page.get_by_label("Unattached port (in the server's VPC)").select_option(world.spare_port(n=2).id)
    page.get_by_label("Justification").fill("Narrow preview")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and submit").wait_for()
    assert spills(page) <= 0, f"the preview is {spills(page)} px wider than the screen"


def test_attach_works_with_javascript_turned_off(new_page, requester, sim, world):
    page = new_page(java_script_enabled=False)
    sign_in(page, "requester")
    page.goto(f"/servers/{world.servers['web-01'].id}/attach/")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_role("button", name="Add a fixed IP").click()  # a plain form post: the page comes back with a row
    page.get_by_label("Fixed IP 1", exact=True).fill("192.168.20.93")
    page.get_by_label("Justification").fill("No JavaScript here")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#preview-what").inner_text().endswith("with 192.168.20.93")
    assert '"ip_address": "192.168.20.93"' in page.locator("#preview-body").text_content()
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url("**/requests/*/")
    assert page.locator("#status").inner_text() == "Succeeded"
    assert len(sim.attach_posts()) == 1
