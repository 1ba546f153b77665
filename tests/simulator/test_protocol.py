"""The simulator enforces SCP's protocol: signatures, timestamps, versions, and the error envelope."""

import time

import pytest
import requests
from scpv2.session import Session

from portal.core.config_access import scp_settings
from portal.scp.signing import compute_signature
from tests.conftest import SIM_URL


def signed_get(path: str, *, secret=None, timestamp=None, access_key=None, version="virtualserver 1.3", extra=None):
    settings = scp_settings()
    access_key = access_key or settings["access_key"]
    timestamp = timestamp or str(int(time.time() * 1000))
    url = f"{SIM_URL}{path}"
    headers = {
        "Scp-Accesskey": access_key,
        "Scp-Timestamp": timestamp,
        "Scp-ClientType": "Openapi",
        "Scp-Signature": compute_signature(
            method="GET",
            url=url,
            timestamp=timestamp,
            access_key=access_key,
            secret_key=secret or settings["secret_key"],
        ),
    }
    if version:
        headers["Scp-Api-Version"] = version
    headers.update(extra or {})
    return requests.get(url, headers=headers, timeout=5)


def sdk_session() -> Session:
    settings = scp_settings()
    session = Session(access_key=settings["access_key"], secret_key=settings["secret_key"], language="en-US")
    session.endpoint_for = lambda api_name: f"{SIM_URL}/{api_name}"
    return session


def test_requests_signed_by_an_independent_implementation_are_accepted(sim, world):
    sim.clear_log()
    virtualserver = sdk_session().client("virtualserver")
    listed = virtualserver.list_virtual_servers(limit="3", name="web")
    assert [s["name"] for s in listed["servers"]] == ["web-10", "web-07", "web-04"]
    port = world.spare_port()
    created = virtualserver.create_server_interface(server_id=world.servers["web-01"].id, port_id=port.id)
    assert created["port_id"] == port.id and created["port_state"] == "BUILD"
    assert [r["status"] for r in sim.requests()] == [200, 200]


def test_the_request_log_is_complete_as_soon_as_the_answer_arrives(sim):
    # A client that has read its answer and then asks for the log must find the
    # request finished, not still being answered (CI once caught this race).
    sim.clear_log()
    for expected in range(1, 41):
        assert signed_get("/virtualserver/v1/servers?limit=1").status_code == 200
        log = sim.requests()
        assert len(log) == expected and log[-1]["status"] == 200


def test_a_correctly_signed_request_is_accepted(sim):
    assert signed_get("/virtualserver/v1/servers?limit=1").status_code == 200


@pytest.mark.parametrize(
    ("case", "kwargs", "fragment"),
    [
        ("bad signature", {"secret": "not-the-secret"}, "bad access key or signature"),
        ("unknown access key", {"access_key": "someone-else"}, "bad access key or signature"),
        ("stale timestamp", {"offset": -301}, "timestamp"),
        ("future timestamp", {"offset": 301}, "timestamp"),
        ("non-numeric timestamp", {"timestamp": "yesterday"}, "timestamp"),
        ("wrong client type", {"extra": {"Scp-ClientType": "Console"}}, "bad access key or signature"),
    ],
)
def test_authentication_failures_are_401_in_the_error_envelope(sim, case, kwargs, fragment):
    if "offset" in kwargs:
        kwargs = {"timestamp": str(int((time.time() + kwargs["offset"]) * 1000))}
    response = signed_get("/virtualserver/v1/servers", **kwargs)
    assert response.status_code == 401, case
    error = response.json()["errors"][0]
    assert error["status"] == 401 and fragment in error["detail"]


def test_a_signature_over_a_differently_encoded_url_is_refused(sim):
    settings = scp_settings()
    timestamp = str(int(time.time() * 1000))
    signed_url = f"{SIM_URL}/virtualserver/v1/servers?name=웹"  # signed unencoded ...
    signature = compute_signature(
        method="GET",
        url=signed_url,
        timestamp=timestamp,
        access_key=settings["access_key"],
        secret_key=settings["secret_key"],
    )
    response = requests.get(
        f"{SIM_URL}/virtualserver/v1/servers",
        params={"name": "웹"},  # ... but sent encoded
        headers={
            "Scp-Accesskey": settings["access_key"],
            "Scp-Timestamp": timestamp,
            "Scp-ClientType": "Openapi",
            "Scp-Signature": signature,
        },
        timeout=5,
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("version", "status", "code"),
    [
        ("virtualserver 1.3", 200, None),
        ("virtualserver 1.2", 200, None),
        (None, 200, None),  # no header: the CURRENT version answers
        ("virtualserver 1.0", 400, "Common.ApiVersion.Expired"),
        ("virtualserver 1.1", 400, "Common.ApiVersion.Expired"),
        ("virtualserver 9.9", 400, "Common.ApiVersion.Invalid"),
        ("vpc 1.2", 400, "Common.ApiVersion.Invalid"),  # the wrong service
        ("virtualserver", 400, "Common.ApiVersion.Invalid"),
    ],
)
def test_api_version_header(sim, version, status, code):
    response = signed_get("/virtualserver/v1/servers?limit=1", version=version)
    assert response.status_code == status
    if code:
        assert response.json()["errors"][0]["code"] == code


def test_is_default_appears_from_version_1_2(sim, world):
    server_id = world.servers["web-01"].id
    new = signed_get(f"/virtualserver/v1/servers/{server_id}/interfaces", version="virtualserver 1.2").json()
    assert "is_default" in new["interfaces"][0]


def test_version_list_on_the_service_root(sim):
    body = signed_get("/virtualserver/").json()
    assert {v["id"]: v["status"] for v in body["versions"]} == {
        "v1.3": "CURRENT",
        "v1.2": "SUPPORTED",
        "v1.1": "DEPRECATED",
        "v1.0": "DEPRECATED",
    }


def test_unknown_paths_are_404_in_the_envelope(sim):
    response = signed_get("/virtualserver/v1/nothing")
    assert response.status_code == 404 and response.json()["errors"][0]["status"] == 404
