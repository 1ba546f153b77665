"""A requester attaches interfaces in a real browser, as a new user would."""

import re

import pytest
from playwright.sync_api import expect

from portal.interfaces.models import InterfaceRequest
from portal.scp import schemas
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def settled(page) -> None:
    """Wait until htmx has swapped and processed new content (its listeners attach only then)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def open_attach_form(page, server_name: str) -> None:
    page.get_by_label("Name contains").fill(server_name)
    page.get_by_role("link", name=server_name, exact=True).click()
    page.get_by_role("link", name="Attach interface").click()
    expect(page.get_by_role("heading", name=f"Attach an interface to {server_name}")).to_be_visible()


def fixed_ip_on_prod_db(page, address: str) -> None:
    """Choose prod-db, add a fixed-IP row and type `address` into it."""
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_role("button", name="Add a fixed IP").click()
    settled(page)
    page.get_by_label("Fixed IP 1", exact=True).fill(address)


def test_attach_by_subnet_with_a_fixed_ip_and_see_the_mac(signed_in, sim, world):
    page = signed_in
    open_attach_form(page, "web-01")
    fixed_ip_on_prod_db(page, "192.168.20.30")
    page.get_by_label("Justification").focus()  # leaving the field checks the address with SCP
    expect(page.locator("#fixed_ip_0_check")).to_have_text("192.168.20.30 is free.")
    page.get_by_label("Justification").fill("Storage network for nightly backups")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-what")).to_have_text(
        "a new port on prod-db (192.168.20.0/24, gateway 192.168.20.1) with 192.168.20.30"
    )
    expect(page.get_by_text("virtualserver 1.3")).to_be_hidden()  # the exact call is one click away
    page.get_by_text("The exact call to SCP").click()
    body = page.locator("#preview-body")
    expect(body).to_contain_text('"ip_address": "192.168.20.30"')
    expect(page.get_by_text("virtualserver 1.3")).to_be_visible()
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    expect(page.locator("#status")).to_have_text("Succeeded")
    expect(page.locator("#result-mac")).to_have_text(re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$"))
    expect(page.locator("#result-addresses")).to_have_text("192.168.20.30")
    assert len(sim.attach_posts()) == 1


def test_attach_an_existing_port(signed_in, sim, world):
    page = signed_in
    open_attach_form(page, "web-01")
    page.get_by_label("Existing port").check()
    expect(page.get_by_label("Subnet (in the server's VPC)")).to_be_hidden()
    spare = world.spare_port()
    page.get_by_label("Unattached port (in the server's VPC)").select_option(spare.id)
    page.get_by_label("Justification").fill("Reuse the reserved port")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-body")).to_contain_text(spare.id)
    page.get_by_role("button", name="Confirm and submit").click()
    expect(page.locator("#status")).to_have_text("Succeeded")
    assert InterfaceRequest.objects.get().result_port_id == spare.id
    assert sim.attach_posts()[0]["body"] == {"port_id": spare.id}


def preview_with_fixed_ip_then_someone_takes_it(page, world, scp, address: str) -> None:
    open_attach_form(page, "web-01")
    subnet = page.get_by_label("Subnet (in the server's VPC)")
    subnet.select_option(label="prod-app (192.168.10.0/24, gateway 192.168.10.1)")
    page.get_by_role("button", name="Add a fixed IP").click()
    settled(page)
    page.get_by_label("Fixed IP 1", exact=True).fill(address)
    page.get_by_label("Justification").fill("Monitoring agent")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("button", name="Confirm and submit")).to_be_visible()
    # Someone else takes the address, outside the portal, while the requester reads the preview.
    scp.attach_interface(
        world.servers["app-02"].id,
        schemas.ServerInterfaceCreateRequest(
            subnet_id=world.subnets["prod-app"].id, fixed_ips=[{"ip_address": address}]
        ),
    )


def test_an_address_taken_after_a_preview_older_than_its_window_is_a_clear_error(signed_in, sim, world, scp, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"scp_check_fresh_seconds": 0})  # Confirm asks SCP again
    page = signed_in
    preview_with_fixed_ip_then_someone_takes_it(page, world, scp, "192.168.10.77")
    sim.clear_log()
    page.get_by_role("button", name="Confirm and submit").click()
    expect(page.locator("#fixed_ip_0_error")).to_have_text("192.168.10.77 is already in use in 192.168.10.0/24.")
    expect(page.get_by_label("Fixed IP 1", exact=True)).to_have_value("192.168.10.77")  # nothing typed is lost
    expect(page.get_by_label("Justification")).to_have_value("Monitoring agent")
    assert sim.attach_posts() == [] and InterfaceRequest.objects.count() == 0


def test_an_address_taken_while_the_preview_stands_is_scps_refusal_and_submits_again_filled_in(
    signed_in, sim, world, scp
):
    """Confirm within SCP_CHECK_FRESH_SECONDS submits on the preview's check; SCP refuses the taken address, the
    request says so, nothing is attached, and "Submit again" brings back everything that was typed."""
    page = signed_in
    preview_with_fixed_ip_then_someone_takes_it(page, world, scp, "192.168.10.79")
    page.get_by_role("button", name="Confirm and submit").click()
    expect(page.locator("#status")).to_have_text("Failed")
    expect(page.locator("#status-reason")).to_contain_text("192.168.10.79 is already in use")
    assert InterfaceRequest.objects.get().check_facts["by"] == "preview"
    page.get_by_role("link", name="Submit again").click()
    expect(page.get_by_label("Fixed IP 1", exact=True)).to_have_value("192.168.10.79")
    expect(page.get_by_label("Justification")).to_have_value("Monitoring agent")


def test_a_double_click_on_confirm_makes_one_request(signed_in, sim, world):
    page = signed_in
    open_attach_form(page, "web-01")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_label("Justification").fill("Double click")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and submit").dblclick()
    expect(page.locator("#status")).to_have_text("Succeeded")
    assert InterfaceRequest.objects.count() == 1 and len(sim.attach_posts()) == 1


def test_a_re_posted_page_without_javascript_makes_one_request(new_page, requester, sim, world):
    page = new_page(java_script_enabled=False)
    sign_in(page, "requester")
    page.goto(f"/servers/{world.servers['web-01'].id}/attach/")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_label("Justification").fill("No JavaScript here")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    first = page.url
    page.go_back()  # the preview page, then submit it again
    page.get_by_role("button", name="Confirm and submit").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    assert page.url == first
    assert InterfaceRequest.objects.count() == 1 and len(sim.attach_posts()) == 1


def test_names_from_the_api_are_shown_escaped(signed_in, sim, world):
    page = signed_in
    hostile = '<img src=x onerror="window.pwned=1">web-evil'
    sim.set_server(world.servers["web-07"].id, name=hostile)
    page.goto("/servers/")
    expect(page.get_by_role("link", name=hostile)).to_be_visible()
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").count() == 0


def test_a_locked_server_says_why_it_cannot_take_an_interface(signed_in, sim, world):
    page = signed_in
    page.goto(f"/servers/{world.servers['web-04'].id}/")
    expect(page.get_by_text("The server is locked")).to_be_visible()
    expect(page.get_by_role("link", name="Attach interface")).to_have_count(0)


def test_a_held_ip_is_refused_as_you_type_without_naming_a_request_one_may_not_see(
    signed_in, sim, world, other_requester, settings
):
    from portal.interfaces.services import interface_request_submit

    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})
    holder = interface_request_submit(
        requester=other_requester,
        idempotency_key=__import__("uuid").uuid4(),
        justification="first",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-db"].id,
        fixed_ips=["192.168.20.88"],
    )
    page = signed_in
    open_attach_form(page, "web-01")
    fixed_ip_on_prod_db(page, "192.168.20.88")
    page.get_by_label("Justification").focus()
    expect(page.locator("#fixed_ip_0_check")).to_have_text(  # another requester's: its number is not theirs to see
        "192.168.20.88 is held by another open request until that request ends."
    )
    page.get_by_label("Justification").fill("Wants the same address")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_text("192.168.20.88 is held by another open request").first).to_be_visible()
    expect(page.get_by_text(f"request {holder.pk}")).to_have_count(0)
    expect(page.get_by_role("button", name="Confirm and submit")).to_have_count(0)


def test_a_repeated_fixed_ip_is_called_a_repeat_as_you_type(signed_in, sim, world):
    page = signed_in
    open_attach_form(page, "web-01")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    for _ in range(2):
        page.get_by_role("button", name="Add a fixed IP").click()
        settled(page)
    page.get_by_label("Fixed IP 1", exact=True).fill("192.168.20.91")
    page.get_by_label("Fixed IP 2", exact=True).focus()
    expect(page.locator("#fixed_ip_0_check")).to_have_text("192.168.20.91 is free.")
    page.get_by_label("Fixed IP 2", exact=True).fill("192.168.20.91")
    page.get_by_label("Justification").focus()
    expect(page.locator("#fixed_ip_1_check")).to_have_text("192.168.20.91 is given more than once.")


def test_keyboard_focus_follows_the_work(signed_in, sim, world):
    """After 'Add a fixed IP' the new row has the focus; after Preview, Confirm has it."""
    page = signed_in
    open_attach_form(page, "web-01")
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-db (192.168.20.0/24, gateway 192.168.20.1)"
    )
    page.get_by_role("button", name="Add a fixed IP").click()
    settled(page)
    expect(page.get_by_label("Fixed IP 1", exact=True)).to_be_focused()
    page.keyboard.type("192.168.20.92")
    page.get_by_label("Justification").fill("Keyboard walk")
    page.get_by_role("button", name="Preview").click()
    settled(page)
    expect(page.get_by_role("button", name="Confirm and submit")).to_be_focused()


def test_enter_in_a_fixed_ip_field_previews_and_never_removes_the_address(signed_in, sim, world):
    page = signed_in
    open_attach_form(page, "web-01")
    fixed_ip_on_prod_db(page, "192.168.20.31")
    page.get_by_label("Justification").fill("Storage network")
    page.get_by_label("Fixed IP 1", exact=True).press("Enter")
    expect(page.locator("#preview-what")).to_contain_text("192.168.20.31")  # previewed, the address kept
    assert InterfaceRequest.objects.count() == 0


def test_check_results_follow_their_fields(signed_in, sim, world):
    """Adding a row keeps the first row's result; changing the subnet checks every address again (no stale
    result beside a field)."""
    page = signed_in
    open_attach_form(page, "web-01")
    fixed_ip_on_prod_db(page, "192.168.20.93")
    page.get_by_label("Justification").focus()
    expect(page.locator("#fixed_ip_0_check")).to_have_text("192.168.20.93 is free.")
    page.get_by_role("button", name="Add a fixed IP").click()
    settled(page)
    expect(page.get_by_label("Fixed IP 2", exact=True)).to_be_visible()
    expect(page.locator("#fixed_ip_0_check")).to_have_text("192.168.20.93 is free.")  # kept across the round trip
    page.get_by_label("Subnet (in the server's VPC)").select_option(
        label="prod-app (192.168.10.0/24, gateway 192.168.10.1)"
    )
    expect(page.locator("#fixed_ip_0_check")).not_to_have_text("192.168.20.93 is free.")
    expect(page.locator("#fixed_ip_0_check")).to_contain_text("192.168.10.0/24")  # now checked against prod-app
