"""The guest-side snippets after success, filled from SCP's real answer, and their reverse after a detach."""

import uuid

from portal.interfaces import services
from portal.interfaces.guest import guest_config
from portal.interfaces.models import Status


def test_snippets_for_ipv4_with_two_addresses():
    config = guest_config(
        port_id="0123456789abcdef",
        mac="fa:16:3e:aa:bb:cc",
        addresses=["192.168.20.30", "192.168.20.31"],
        cidr="192.168.20.0/24",
        gateway="192.168.20.1",
    )
    assert config.addresses == ["192.168.20.30/24", "192.168.20.31/24"] and config.name == "scp-01234567"
    assert 'macaddress: "fa:16:3e:aa:bb:cc"' in config.netplan
    assert "addresses: [192.168.20.30/24, 192.168.20.31/24]  # gateway 192.168.20.1" in config.netplan
    assert 'ipv4.addresses "192.168.20.30/24,192.168.20.31/24" ipv4.never-default yes' in config.nmcli
    assert 'MacAddress -eq "FA-16-3E-AA-BB-CC"' in config.netsh
    assert "static 192.168.20.30 255.255.255.0" in config.netsh and "add address" in config.netsh
    assert config.removal["nmcli"] == "sudo nmcli connection delete scp-01234567"


def test_snippets_for_ipv6():
    config = guest_config(
        port_id="p", mac="fa:16:3e:00:00:01", addresses=["2001:db8::5"], cidr="2001:db8::/64", gateway=None
    )
    assert config.addresses == ["2001:db8::5/64"] and "ipv6.method manual" in config.nmcli
    assert "netsh interface ipv6 add address" in config.netsh and "gateway" not in config.netplan


def test_the_request_page_shows_real_values_and_the_detach_the_reverse(
    sim, world, requester, client, submit, django_capture_on_commit_callbacks
):
    request = submit(
        justification="x",
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-db"].id,
        fixed_ips=["192.168.20.50"],
    )
    assert request.status == Status.SUCCEEDED
    client.force_login(requester)
    page = client.get(f"/requests/{request.pk}/").content.decode()
    assert 'id="result-prefixed">192.168.20.50/24<' in page
    assert f'id="result-gateway">{world.subnets["prod-db"].gateway_ip_address}<' in page
    assert request.result["mac_addr"] in page and f"scp-{request.result_port_id[:8]}" in page
    with django_capture_on_commit_callbacks(execute=True):
        detach = services.detach_request_submit(
            requester=requester,
            idempotency_key=uuid.uuid4(),
            justification="done",
            server_id=request.server_id,
            port_id=request.result_port_id,
        )
    page = client.get(f"/requests/{detach.pk}/").content.decode()
    assert f"sudo nmcli connection delete scp-{request.result_port_id[:8]}" in page
    assert "SCP deleted the port and freed its addresses" in page


def test_the_attach_form_shows_each_subnets_gateway_and_the_result_page_reads_it_without_asking_scp(
    sim, world, requester_client, submit
):
    server = world.servers["web-01"]
    form = requester_client.get(f"/servers/{server.id}/attach/").content.decode()
    subnet = world.subnets["prod-app"]
    assert f"prod-app ({subnet.cidr}, gateway {subnet.gateway_ip_address})" in form
    request = submit(justification="gateway", server_id=server.id, mode="subnet", subnet_id=subnet.id)
    assert request.subnet_gateway == subnet.gateway_ip_address
    sim.clear_log()
    page = requester_client.get(f"/requests/{request.pk}/").content.decode()
    assert f'id="result-gateway">{subnet.gateway_ip_address}<' in page
    assert [r for r in sim.requests() if "/subnets/" in r["path"]] == []  # recorded at submission
