"""ScpClient against the simulator over real HTTP: every endpoint, every error status, pagination, faults."""

import random
import socket
import time

import pytest

from portal.core.config_access import scp_settings
from portal.scp import schemas
from portal.scp.client import RetryPolicy, ScpClient
from portal.scp.errors import (
    ScpBadRequest,
    ScpConfigurationError,
    ScpConflict,
    ScpNotFound,
    ScpNotSent,
    ScpOutcomeUnknown,
    ScpServerError,
    ScpUnauthorized,
)
from tests.conftest import TEST_SETTLE_SECONDS


def make_client(**overrides) -> ScpClient:
    options = {**scp_settings(), "retry": RetryPolicy(attempts=3, backoff_base=0.01, rng=random.Random(1))}
    options.update(overrides)
    return ScpClient(**options)


def subnet_in_vpc_of(world, server_name):
    server = world.servers[server_name]
    return next(s for s in world.subnets.values() if s.vpc_id == server.vpc_id)


def test_servers_follow_marker_pagination_without_gaps_or_repeats(scp):
    page = scp.list_servers(limit=5)
    assert len(page.servers) == 5 and page.next_marker == page.servers[-1].id
    ids = [s.id for s in scp.iter_servers(page_size=5)]
    assert len(ids) == 12 == len(set(ids))
    names = [s.name for s in scp.iter_servers(page_size=5)]
    assert names[0] == "web-12" or names[0].endswith("12")  # newest first by default


def test_server_filters(scp):
    assert [s.name for s in scp.iter_servers(name="web-0")] == ["web-07", "web-04", "web-01"]
    assert {s.state for s in scp.iter_servers(state="SHUTOFF")} == {"SHUTOFF"}


def test_one_server_and_its_interfaces(scp, world):
    server = scp.get_server(world.servers["web-01"].id)
    assert server.name == "web-01" and server.state == "ACTIVE"
    interfaces = scp.list_server_interfaces(server.id)
    assert len(interfaces) == 1 and interfaces[0].is_default is True
    assert interfaces[0].static_nat.external_ip_address == "182.197.61.81"
    one = scp.get_server_interface(server.id, interfaces[0].port_id)
    assert one.port_id == interfaces[0].port_id


def test_subnets_follow_page_pagination(scp):
    first = scp.list_subnets(page=0, size=3)
    assert first.total_count == 4 and len(first.subnets) == 3
    assert len({s.id for s in scp.iter_subnets(page_size=3)}) == 4
    subnet = scp.get_subnet(first.subnets[0].id)
    assert subnet.cidr == first.subnets[0].cidr and subnet.gateway_ip_address


def test_ports_follow_marker_pagination_and_filters(scp):
    all_ports = list(scp.iter_ports(page_size=4))
    assert len(all_ports) == len({p.id for p in all_ports}) == 12 + 5
    page = scp.list_ports(limit=4, with_count=True)
    assert page.count == 17 and page.next_marker
    unattached = list(scp.iter_ports(attached_resource_types="UNATTACHED"))
    assert len(unattached) == 5 and not any(p.is_attached for p in unattached)
    assert scp.get_port(unattached[0].id).id == unattached[0].id


def test_ip_availability(scp, world):
    subnet = world.subnets["prod-app"]
    used = world.ports["web-01-eth0"].fixed_ip_address
    assert scp.check_ip_availability(subnet_id=subnet.id, ip_address="192.168.10.200").available
    answer = scp.check_ip_availability(subnet_id=subnet.id, ip_address=used)
    assert not answer.available and "in use" in answer.message


def test_version_list(scp):
    listed = scp.list_versions("virtualserver")
    assert {v.id: v.status for v in listed.versions}["v1.3"] == "CURRENT"


def test_attach_poll_and_detach(scp, world):
    server = world.servers["web-01"]
    subnet = world.subnets["prod-db"]
    body = schemas.ServerInterfaceCreateRequest(subnet_id=subnet.id, fixed_ips=[{"ip_address": "192.168.20.77"}])
    interface = scp.attach_interface(server.id, body)
    assert interface.port_state == "BUILD" and interface.mac_addr.startswith("fa:16:3e:")
    assert interface.addresses == ["192.168.20.77"]
    scp.detach_interface(server.id, interface.port_id)
    assert scp.get_server_interface(server.id, interface.port_id).port_state == "DELETING"  # as SCP: asynchronous
    time.sleep(TEST_SETTLE_SECONDS + 0.05)
    with pytest.raises(ScpNotFound):
        scp.get_server_interface(server.id, interface.port_id)


@pytest.mark.parametrize(
    ("case", "error", "code"),
    [
        ("unknown server", ScpNotFound, "VirtualServer.Server.NotFound"),
        ("both modes", ScpBadRequest, "VirtualServer.CreateInterface.Duplicated"),
        ("port attached", ScpConflict, "VirtualServer.CreateInterface.PortInUse"),
    ],
)
def test_error_statuses_become_typed_errors(scp, world, case, error, code):
    server = world.servers["web-01"]
    attached = world.ports["web-04-eth0"]
    spare = world.spare_port()
    if case == "unknown server":
        call = lambda: scp.attach_interface("nope", schemas.ServerInterfaceCreateRequest(port_id=spare.id))  # noqa: E731
    elif case == "both modes":
        # The client's own schema refuses both modes, so send the raw body the way a broken client would.
        call = lambda: scp._request(  # noqa: E731
            "POST", "virtualserver", f"/v1/servers/{server.id}/interfaces", body={"subnet_id": "a", "port_id": "b"}
        )
    else:
        call = lambda: scp.attach_interface(server.id, schemas.ServerInterfaceCreateRequest(port_id=attached.id))  # noqa: E731
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert raised.value.raw_body.startswith('{"errors"')


def test_wrong_secret_is_401(sim):
    client = make_client(secret_key="wrong")
    with pytest.raises(ScpUnauthorized) as raised:
        client.list_servers()
    assert raised.value.status == 401


def test_5xx_is_a_server_error(sim, scp):
    sim.faults(error_rate=1.0, error_statuses=[500], error_methods=["GET"])
    with pytest.raises(ScpServerError) as raised:
        scp.list_servers()
    assert raised.value.status == 500 and not raised.value.retryable
    assert len(sim.requests()) == 1  # a 500 is final: no retry


def test_get_is_retried_on_503_with_a_fresh_signature(sim):
    sim.faults(error_rate=0.5, error_statuses=[503], error_methods=["GET"], seed=3)
    records = []
    client = make_client(observer=records.append)
    for _ in range(6):
        client.list_servers(limit=1)
    log = sim.requests()
    assert any(r["status"] == 503 for r in log)  # faults were injected ...
    assert len(log) > 6  # ... and retried
    assert [r.attempt for r in records if r.status == 503]
    timestamps_differ = {r.url for r in records}  # same URL every time: retries re-sign, not re-encode
    assert len(timestamps_differ) == 1


def test_post_is_never_retried(sim, world):
    sim.faults(error_rate=1.0, error_statuses=[503], error_methods=["POST"])
    client = make_client()
    body = schemas.ServerInterfaceCreateRequest(port_id=world.spare_port().id)
    with pytest.raises(ScpServerError):
        client.attach_interface(world.servers["web-01"].id, body)
    assert len(sim.attach_posts()) == 1


def test_read_timeout_after_apply_is_outcome_unknown(sim, world, scp):
    sim.faults(late_after_apply_rate=1.0, late_seconds=1.0)
    client = make_client(read_timeout=0.3)
    server = world.servers["web-01"]
    port = world.spare_port()
    with pytest.raises(ScpOutcomeUnknown):
        client.attach_interface(server.id, schemas.ServerInterfaceCreateRequest(port_id=port.id))
    assert len(sim.attach_posts()) == 1
    assert port.id in {i.port_id for i in scp.list_server_interfaces(server.id)}  # it was applied


def test_dropped_connection_after_apply_is_outcome_unknown(sim, world, scp):
    sim.faults(drop_after_apply_rate=1.0)
    server = world.servers["web-01"]
    subnet = world.subnets["prod-db"]
    with pytest.raises(ScpOutcomeUnknown):
        make_client().attach_interface(server.id, schemas.ServerInterfaceCreateRequest(subnet_id=subnet.id))
    assert len(sim.attach_posts()) == 1
    assert len(scp.list_server_interfaces(server.id)) == 2


def test_connection_refused_is_not_sent_and_get_is_retried():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    records = []
    client = make_client(
        virtualserver_url=f"http://127.0.0.1:{port}/virtualserver",
        vpc_url=f"http://127.0.0.1:{port}/vpc",
        observer=records.append,
    )
    with pytest.raises(ScpNotSent):
        client.list_servers()
    assert [r.attempt for r in records] == [1, 2, 3]
    records.clear()
    with pytest.raises(ScpNotSent):
        client.attach_interface("x", schemas.ServerInterfaceCreateRequest(port_id="p"))
    assert [r.attempt for r in records] == [1]


def test_observer_records_never_hold_the_secret_or_signature(sim, world):
    records = []
    secret = scp_settings()["secret_key"]
    client = make_client(observer=records.append)
    client.attach_interface(
        world.servers["web-01"].id, schemas.ServerInterfaceCreateRequest(port_id=world.spare_port().id)
    )
    with pytest.raises(ScpNotFound):
        client.get_server("missing")
    assert len(records) == 2
    for record in records:
        text = repr(record.as_dict())
        assert secret not in text and "Signature" not in text
        assert record.access_key.startswith("…") and len(record.access_key) == 5
    assert records[0].request_body == {"port_id": world.spare_port().id} and records[0].status == 200
    assert records[1].status == 404 and records[1].error_code == "VirtualServer.Server.NotFound"


def test_path_ids_are_quoted_so_they_cannot_change_the_path(sim):
    with pytest.raises(ScpNotFound):
        make_client().get_server("../subnets")
    assert sim.requests()[-1]["path"] == "/v1/servers/..%2Fsubnets"


def test_client_refuses_an_expired_version():
    with pytest.raises(ScpConfigurationError, match="1.0"):
        make_client(virtualserver_version="1.0")


def test_a_key_without_write_permission_gets_403_on_attach(sim, world):
    from portal.scp.errors import ScpForbidden

    client = make_client(access_key="demo-readonly-key-0001", secret_key="demo-readonly-secret-not-for-production")
    assert client.list_servers(limit=1).servers  # reading is allowed
    with pytest.raises(ScpForbidden) as raised:
        client.attach_interface(
            world.servers["web-01"].id, schemas.ServerInterfaceCreateRequest(port_id=world.spare_port().id)
        )
    assert raised.value.status == 403 and raised.value.code == "Common.Forbidden"
