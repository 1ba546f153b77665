"""Every bad input gets a message the requester can act on, and nothing is sent to SCP.

Marked postgres: PostgreSQL refuses what SQLite stores (a NUL in text), so the hostile inputs run on both.
"""

import html
import re
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.interfaces.models import InterfaceRequest

pytestmark = pytest.mark.postgres


def _cases(world):
    prod_app = world.subnets["prod-app"]
    used = world.ports["web-01-eth0"].fixed_ip_address
    return [
        # (name, server, overrides, message)
        ("truncated address", "web-01", {"fixed_ip": ["192.168.10"]}, "not a valid IP address"),
        ("octet over 255", "web-01", {"fixed_ip": ["192.168.10.300"]}, "not a valid IP address"),
        ("words", "web-01", {"fixed_ip": ["my-address"]}, "not a valid IP address"),
        ("address with prefix", "web-01", {"fixed_ip": ["192.168.10.5/24"]}, "not a valid IP address"),
        ("IPv6 with IPv4 tail", "web-01", {"fixed_ip": ["::ffff:192.168.10.5"]}, "is an IPv6 address"),
        ("mixed notation", "web-01", {"fixed_ip": ["192.168.10.5:1"]}, "mixes IPv6 and IPv4"),
        ("IPv6", "web-01", {"fixed_ip": ["2001:db8::1"]}, "is an IPv6 address"),
        ("outside the CIDR", "web-01", {"fixed_ip": ["10.0.0.5"]}, "outside the subnet 192.168.10.0/24"),
        ("next subnet", "web-01", {"fixed_ip": ["192.168.11.5"]}, "outside the subnet"),
        ("network address", "web-01", {"fixed_ip": ["192.168.10.0"]}, "network address"),
        ("broadcast address", "web-01", {"fixed_ip": ["192.168.10.255"]}, "broadcast address"),
        ("gateway address", "web-01", {"fixed_ip": [prod_app.gateway_ip_address]}, "gateway address"),
        ("duplicate addresses", "web-01", {"fixed_ip": ["192.168.10.20", "192.168.10.20"]}, "more than once"),
        ("address in use", "web-01", {"fixed_ip": [used]}, f"{used} is already in use"),
        ("too many addresses", "web-01", {"fixed_ip": [f"192.168.10.{i}" for i in range(20, 37)]}, "at most 16"),
        ("overlong address", "web-01", {"fixed_ip": ["1" * 500]}, "not a valid IP address"),
        ("both modes", "web-01", {"port_id": world.spare_port().id}, "not both"),
        ("no mode", "web-01", {"mode": ""}, "Choose how to attach"),
        ("unknown mode", "web-01", {"mode": "bridge"}, "Select a valid choice"),
        ("subnet mode without subnet", "web-01", {"subnet_id": ""}, "Choose a subnet"),
        ("subnet of another VPC", "web-01", {"subnet_id": world.subnets["dev-app"].id}, "not in this server's VPC"),
        ("overlong subnet id", "web-01", {"subnet_id": "x" * 300}, "That is not a subnet id"),
        ("port mode without port", "web-01", {"mode": "port", "subnet_id": ""}, "Choose a port"),
        (
            "port of another VPC",
            "web-01",
            {"mode": "port", "subnet_id": "", "port_id": world.spare_port("vpc-dev").id},
            "cannot be attached here",
        ),
        (
            "attached port",
            "web-01",
            {"mode": "port", "subnet_id": "", "port_id": world.ports["web-04-eth0"].id},
            "cannot be attached here",
        ),
        ("unknown port", "web-01", {"mode": "port", "subnet_id": "", "port_id": "f" * 36}, "cannot be attached here"),
        (
            "fixed IPs with a port",
            "web-01",
            {"mode": "port", "subnet_id": "", "port_id": world.spare_port().id, "fixed_ip": ["192.168.10.9"]},
            "Fixed IPs can only be given for a new port",
        ),
        ("locked server", "web-04", {}, "The server is locked"),
        ("server in ERROR", "app-08", {}, "The server is ERROR"),
        ("no justification", "web-01", {"justification": ""}, "Say why this interface is needed"),
        ("blank justification", "web-01", {"justification": "   \n "}, "Say why this interface is needed"),
        ("overlong justification", "web-01", {"justification": "x" * 1001}, "Keep the justification to 1,000"),
        ("markup in justification", "web-01", {"justification": "<script>alert(1)</script>"}, "markup"),
        ("entity in justification", "web-01", {"justification": "fine &lt;b&gt;"}, "markup"),
        ("null byte in justification", "web-01", {"justification": "a\x00b"}, "Null characters are not allowed"),
        ("bad idempotency key", "web-01", {"idempotency_key": "not-a-uuid"}, "Reload the form"),
    ]


CASE_NAMES = [
    "truncated address",
    "octet over 255",
    "words",
    "address with prefix",
    "IPv6 with IPv4 tail",
    "mixed notation",
    "IPv6",
    "outside the CIDR",
    "next subnet",
    "network address",
    "broadcast address",
    "gateway address",
    "duplicate addresses",
    "address in use",
    "too many addresses",
    "overlong address",
    "both modes",
    "no mode",
    "unknown mode",
    "subnet mode without subnet",
    "subnet of another VPC",
    "overlong subnet id",
    "port mode without port",
    "port of another VPC",
    "attached port",
    "unknown port",
    "fixed IPs with a port",
    "locked server",
    "server in ERROR",
    "no justification",
    "blank justification",
    "overlong justification",
    "markup in justification",
    "entity in justification",
    "null byte in justification",
    "bad idempotency key",
]


@pytest.mark.parametrize("action", ["preview", "confirm"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_bad_input_is_explained_and_nothing_is_sent(requester_client, sim, world, attach_data, case, action):
    name, server, overrides, message = next(c for c in _cases(world) if c[0] == case)
    data = attach_data(action=action, **overrides)
    response = requester_client.post(f"/servers/{world.servers[server].id}/attach/", data)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert message in page, f"{name}: expected {message!r}"
    assert sim.attach_posts() == []
    assert InterfaceRequest.objects.count() == 0


def test_bad_input_keeps_the_form_open_with_what_was_typed(requester_client, sim, world, attach_data):
    data = attach_data(fixed_ip=["192.168.10.21", "10.9.9.9"], justification="keep me")
    page = requester_client.post(f"/servers/{world.servers['web-01'].id}/attach/", data).content.decode()
    assert 'value="192.168.10.21"' in page and 'value="10.9.9.9"' in page and "keep me" in page
    assert 'id="fixed_ip_1_error"' in page and 'aria-invalid="true"' in page  # the error is tied to its row


def test_a_rejected_form_is_audited_with_its_detail(requester_client, sim, world, attach_data):
    requester_client.post(f"/servers/{world.servers['web-01'].id}/attach/", attach_data(fixed_ip=["10.0.0.5"]))
    event = AuditEvent.objects.get(action="interface_request.invalid")
    assert event.outcome == "failure" and event.actor_name == "requester"
    assert event.payload["input"]["fixed_ips"] == ["10.0.0.5"]
    assert "outside the subnet" in event.payload["errors"]["fixed_ip_0"][0]


def test_unknown_server_is_a_clear_404(requester_client, sim):
    response = requester_client.get(f"/servers/{uuid.uuid4()}/attach/")
    assert response.status_code == 404 and b"No such server" in response.content
    assert sim.attach_posts() == []


@pytest.mark.parametrize(
    "query",
    ["?state=<script>", "?marker=' OR 1=1", "?q=" + "x" * 5000, "?marker=%00", "?state=active&q=%ff%fe"],
)
def test_server_list_survives_hostile_query_parameters(requester_client, sim, query):
    response = requester_client.get("/servers/" + query)
    assert response.status_code == (400 if "%00" in query else 200)  # a NUL is refused at the edge, clearly
    assert b"<script>" not in response.content


def test_server_list_pages_forward_and_back(requester_client, sim, world, monkeypatch):
    monkeypatch.setattr("portal.interfaces.selectors.SERVER_PAGE_SIZE", 5)

    def names_and_links(url):
        response = requester_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        names = re.findall(r'<a href="/servers/([^/"]+)/">[^<]+</a>', html)  # server ids, in order
        links = {
            rel: href.replace("&amp;", "&")
            for href, rel in re.findall(r'<a href="(\?[^"]+)"[^>]*>(First|Previous|Next) page</a>', html)
        }
        return names, links

    pages, url = [], "/servers/"
    while True:  # forward to the end
        names, links = names_and_links(url)
        pages.append(names)
        if "Next" not in links:
            break
        url = "/servers/" + links["Next"]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert {n for p in pages for n in p} == {s.id for s in world.servers.values()}  # no repeats, none left out
    for expected in reversed(pages[:-1]):  # and back again, one page at a time
        names, previous_links = names_and_links(url)
        url = "/servers/" + previous_links["Previous"]
        assert names_and_links(url)[0] == expected
    assert "Previous" not in names_and_links(url)[1]  # back on the first page
    tampered = f"/servers/?marker={pages[1][0]}&back=%3Cscript%3E"
    links = names_and_links(tampered)[1]
    assert links["Previous"] == links["First"]  # a tampered trail leads to the first page, not to an error


def test_an_htmx_preview_on_a_server_that_became_unavailable_reloads_the_page(
    requester_client, sim, world, attach_data
):
    server = world.servers["web-01"]
    sim.set_server(server.id, locked=True)
    response = requester_client.post(
        f"/servers/{server.id}/attach/", attach_data(action="preview"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"/servers/{server.id}/attach/"
    assert b"<html" not in response.content  # no page inside the form's panel
    page = requester_client.get(response["HX-Redirect"]).content.decode()
    assert "The server is locked" in page


def test_ipv6_spellings_of_one_address_are_one_address_and_stored_canonical():
    import uuid

    from django.http import QueryDict

    from portal.interfaces.forms import AttachForm

    data = QueryDict(mutable=True)
    data.update({"mode": "subnet", "subnet_id": "s", "justification": "x", "idempotency_key": str(uuid.uuid4())})
    data.setlist("fixed_ip", ["2001:db8::5", "2001:DB8::5"])
    form = AttachForm(data)
    assert not form.is_valid() and form.fixed_ip_errors == {1: "2001:DB8::5 is given more than once."}
    data.setlist("fixed_ip", ["2001:DB8:0::5"])
    form = AttachForm(data)
    assert form.is_valid() and form.attach_params()["fixed_ips"] == ["2001:db8::5"]
