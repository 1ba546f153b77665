"""The simulator's attach rules, as a table, and its behaviour under concurrency and faults."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from portal.scp import schemas
from portal.scp.errors import ScpBadRequest, ScpConflict, ScpHttpError, ScpNotFound, ScpOutcomeUnknown


def raw_attach(scp, server_id, body):
    return scp._parse(
        scp._request("POST", "virtualserver", f"/v1/servers/{server_id}/interfaces", body=body),
        schemas.InterfaceResponse,
    )


def _cases(world):
    prod_app, dev_app = world.subnets["prod-app"], world.subnets["dev-app"]
    spare, dev_spare = world.spare_port(), world.spare_port("vpc-dev")
    used = world.ports["web-04-eth0"].fixed_ip_address
    return {
        "both modes": ("web-01", {"subnet_id": prod_app.id, "port_id": spare.id}, ScpBadRequest),
        "neither mode": ("web-01", {}, ScpBadRequest),
        "fixed ips with port": (
            "web-01",
            {"port_id": spare.id, "fixed_ips": [{"ip_address": "192.168.10.9"}]},
            ScpBadRequest,
        ),
        "malformed address": (
            "web-01",
            {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": "192.168.10"}]},
            ScpBadRequest,
        ),
        "outside cidr": (
            "web-01",
            {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": "10.0.0.5"}]},
            ScpBadRequest,
        ),
        "network address": (
            "web-01",
            {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": "192.168.10.0"}]},
            ScpBadRequest,
        ),
        "broadcast address": (
            "web-01",
            {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": "192.168.10.255"}]},
            ScpBadRequest,
        ),
        "gateway address": (
            "web-01",
            {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": "192.168.10.1"}]},
            ScpBadRequest,
        ),
        "subnet in other vpc": ("web-01", {"subnet_id": dev_app.id}, ScpBadRequest),
        "port in other vpc": ("web-01", {"port_id": dev_spare.id}, ScpBadRequest),
        "unknown subnet": ("web-01", {"subnet_id": "0" * 32}, ScpNotFound),
        "unknown port": ("web-01", {"port_id": "0" * 32}, ScpNotFound),
        "unknown server": (None, {"port_id": spare.id}, ScpNotFound),
        "address in use": ("web-01", {"subnet_id": prod_app.id, "fixed_ips": [{"ip_address": used}]}, ScpConflict),
        "port attached": ("web-01", {"port_id": world.ports["web-04-eth0"].id}, ScpConflict),
        "locked server": ("web-04", {"port_id": spare.id}, ScpConflict),
        "server in error": ("app-08", {"port_id": spare.id}, ScpConflict),
    }


CASES = [
    "both modes",
    "neither mode",
    "fixed ips with port",
    "malformed address",
    "outside cidr",
    "network address",
    "broadcast address",
    "gateway address",
    "subnet in other vpc",
    "port in other vpc",
    "unknown subnet",
    "unknown port",
    "unknown server",
    "address in use",
    "port attached",
    "locked server",
    "server in error",
]


@pytest.mark.parametrize("case", CASES)
def test_attach_refusals(sim, scp, world, case):
    server_name, body, error = _cases(world)[case]
    server_id = world.servers[server_name].id if server_name else "00000000-0000-4000-8000-000000000000"
    before = len(list(scp.iter_ports()))
    with pytest.raises(error) as raised:
        raw_attach(scp, server_id, body)
    assert raised.value.code and raised.value.detail
    assert len(list(scp.iter_ports())) == before  # nothing was applied


def test_demo_world_shape(world):
    states = [s.state for s in world.servers.values()]
    assert len(world.servers) == 12 and {"ACTIVE", "SHUTOFF", "ERROR"} <= set(states)
    assert sum(s.locked for s in world.servers.values()) == 1
    assert len({s.vpc_id for s in world.subnets.values()}) == 2 and len(world.subnets) == 4
    assert any(not p.is_attached for p in world.ports.values()) and any(p.is_attached for p in world.ports.values())


def test_shutoff_servers_take_interfaces(sim, scp, world):
    interface = raw_attach(scp, world.servers["web-10"].id, {"port_id": world.spare_port(n=2).id})
    assert interface.port_id == world.spare_port(n=2).id


def test_new_port_gets_a_mac_and_an_automatic_address_then_settles(sim, scp, world):
    sim.reset(settle_seconds=0.3)
    server = world.servers["web-01"]
    interface = raw_attach(scp, server.id, {"subnet_id": world.subnets["prod-db"].id})
    assert interface.port_state == "BUILD"
    assert interface.mac_addr.startswith("fa:16:3e:") and len(interface.mac_addr) == 17
    assert interface.addresses[0].startswith("192.168.20.") and interface.addresses[0] != "192.168.20.1"
    import time

    time.sleep(0.35)
    assert scp.get_server_interface(server.id, interface.port_id).port_state == "ACTIVE"


def test_concurrent_attaches_of_one_address_apply_once(sim, scp, world):
    servers = [world.servers[n].id for n in ("web-01", "app-02", "web-10", "app-05")]
    subnet = world.subnets["prod-db"].id

    def attempt(server_id):
        try:
            raw_attach(scp, server_id, {"subnet_id": subnet, "fixed_ips": [{"ip_address": "192.168.20.50"}]})
            return "ok"
        except ScpConflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, servers * 3))
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 11


def test_a_write_in_flight_across_a_reset_changes_nothing_in_the_new_world(sim, scp, world):
    """A call that arrived before a reset (here still sleeping out its latency) is refused, not applied: a
    test's leftover call from a killed worker must not land in the next test's world."""
    from portal.core.scp import scp_client

    server, subnet = world.servers["web-01"].id, world.subnets["prod-app"].id
    # The latency leaves the reset below time to happen while the call sleeps; the caller waits far longer than
    # that latency, so on a busy machine its answer is the simulator's refusal, never its own read timeout.
    sim.faults(latency_ms=4000)
    patient = scp_client(audited=False, read_timeout=60)
    body = {"subnet_id": subnet, "fixed_ips": [{"ip_address": "192.168.10.77"}]}
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(raw_attach, patient, server, body)
        deadline = time.monotonic() + 30
        while not sim.attach_posts():  # received, and sleeping out its latency
            assert time.monotonic() < deadline, "the simulator never received the call"
            time.sleep(0.02)
        sim.reset()
        with pytest.raises(ScpHttpError) as raised:
            pending.result(timeout=60)
    assert raised.value.status == 503
    addresses = {a for interface in scp.list_server_interfaces(server) for a in interface.addresses}
    assert "192.168.10.77" not in addresses
    assert raw_attach(scp, server, body).port_id  # the address is free in the new world


def test_same_seed_gives_the_same_faults(sim, scp):
    def run():
        sim.reset()
        sim.faults(error_rate=0.5, error_statuses=[500], error_methods=["GET"], seed=7)
        statuses = []
        for _ in range(12):
            try:
                scp.list_servers(limit=1)
                statuses.append(200)
            except ScpHttpError as exc:
                statuses.append(exc.status)
        return statuses

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first


def test_transient_conflict_fault(sim, scp, world):
    sim.faults(conflict_rate=1.0)
    with pytest.raises(ScpConflict) as raised:
        raw_attach(scp, world.servers["web-01"].id, {"port_id": world.spare_port().id})
    assert raised.value.code == "VirtualServer.CreateInterface.Conflict"


def test_detach_is_asynchronous_and_keeps_a_port_that_existed_before(sim, scp, world):
    sim.reset(settle_seconds=0.3)
    server, port = world.servers["web-01"], world.spare_port()
    raw_attach(scp, server.id, {"port_id": port.id})
    time.sleep(0.35)
    scp.detach_interface(server.id, port.id)
    assert scp.get_server_interface(server.id, port.id).port_state == "DELETING"
    with pytest.raises(ScpConflict, match="is being detached"):
        scp.detach_interface(server.id, port.id)
    time.sleep(0.35)
    with pytest.raises(ScpNotFound):
        scp.get_server_interface(server.id, port.id)
    assert not scp.get_port(port.id).is_attached  # left for reuse
    with pytest.raises(ScpConflict):
        scp.detach_interface(server.id, world.ports["web-01-eth0"].id)  # the default interface stays


def test_detach_deletes_a_port_the_attach_created(sim, scp, world):
    server = world.servers["web-01"]
    made = raw_attach(scp, server.id, {"subnet_id": world.subnets["prod-db"].id})
    time.sleep(0.25)
    scp.detach_interface(server.id, made.port_id)
    time.sleep(0.25)
    assert made.port_id not in {i.port_id for i in scp.list_server_interfaces(server.id)}
    with pytest.raises(ScpNotFound):
        scp.get_port(made.port_id)


def test_detach_faults_are_the_attach_ones(sim, scp, world):
    server = world.servers["web-01"]
    made = raw_attach(scp, server.id, {"subnet_id": world.subnets["prod-db"].id})
    sim.faults(drop_after_apply_rate=1.0)
    with pytest.raises(ScpOutcomeUnknown):
        scp.detach_interface(server.id, made.port_id)
    assert scp.get_server_interface(server.id, made.port_id).port_state == "DELETING"  # applied nonetheless


def test_control_endpoints_do_not_exist_without_the_flag(tmp_path):
    import subprocess
    import sys
    import time as _time

    import requests

    from tests.conftest import ROOT, _wait_for_port
    from tests.env import _free_port

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "scp_simulator", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    try:
        _wait_for_port(port)
        assert requests.get(f"http://127.0.0.1:{port}/_sim/requests", timeout=5).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=10)
    _time.sleep(0)


def test_server_list_scales_to_ten_thousand(tmp_path):
    import subprocess
    import sys

    from portal.core.config_access import scp_settings
    from portal.scp.client import ScpClient
    from tests.conftest import ROOT, _wait_for_port
    from tests.env import _free_port

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "scp_simulator", "--port", str(port), "--servers", "10000"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, timeout=60)
        settings = {
            **scp_settings(),
            "virtualserver_url": f"http://127.0.0.1:{port}/virtualserver",
            "vpc_url": f"http://127.0.0.1:{port}/vpc",
        }
        client = ScpClient(**settings)
        first = client.list_servers(limit=20)
        second = client.list_servers(limit=20, marker=first.next_marker)
        assert len(first.servers) == len(second.servers) == 20
        assert not {s.id for s in first.servers} & {s.id for s in second.servers}
        assert [s.name for s in client.list_servers(name="node-09999", limit=5).servers] == ["node-09999"]
    finally:
        process.terminate()
        process.wait(timeout=10)
