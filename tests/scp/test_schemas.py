import pytest
from pydantic import ValidationError

from portal.scp.errors import parse_error_body
from portal.scp.schemas import InterfaceResponse, ServerInterfaceCreateRequest

SEED_RESPONSE = {
    "fixed_ips": [{"ip_address": "192.169.3.2"}],
    "mac_addr": "fa:16:3e:c0:71:2b",
    "port_id": "f2b02fc5-a5fd-4b5f-b1a9-987f4c0d66cc",
    "port_state": "ACTIVE",
    "private_static_nat": {
        "external_ip_address": "182.197.61.81",
        "id": "224b80106e6f41b38efe98ac9ddbf280",
        "private_nat_ip_id": "1f0cb5390c40483592ddc5a282f53496",
        "state": "ACTIVE",
    },
    "static_nat": {
        "external_ip_address": "182.197.61.81",
        "id": "224b80106e6f41b38efe98ac9ddbf280",
        "publicip_id": "615fa9cd5cff486c9de679b3ce63e601",
        "state": "ACTIVE",
    },
    "subnet_id": "183c6c30df0c4fcbb16422aa2d64aa21",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"subnet_id": "s1"}, {"subnet_id": "s1"}),
        (
            {"subnet_id": "s1", "fixed_ips": [{"ip_address": "10.0.0.5"}]},
            {"subnet_id": "s1", "fixed_ips": [{"ip_address": "10.0.0.5"}]},
        ),
        (
            {"subnet_id": "s1", "fixed_ips": [{"ip_address": " 10.0.0.5 "}]},
            {"subnet_id": "s1", "fixed_ips": [{"ip_address": "10.0.0.5"}]},
        ),
        ({"port_id": "p1"}, {"port_id": "p1"}),
    ],
)
def test_valid_attach_bodies(body, expected):
    assert ServerInterfaceCreateRequest.model_validate(body).to_body() == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "exactly one"),
        ({"subnet_id": "s1", "port_id": "p1"}, "exactly one"),
        ({"subnet_id": "", "port_id": ""}, "at least 1 character"),
        ({"port_id": "p1", "fixed_ips": [{"ip_address": "10.0.0.5"}]}, "only be given with subnet_id"),
        ({"subnet_id": "s1", "fixed_ips": [{"ip_address": "10.0.0.256"}]}, "not a valid IP"),
        ({"subnet_id": "s1", "fixed_ips": [{"ip_address": "abc"}]}, "not a valid IP"),
        ({"subnet_id": "s1", "fixed_ips": [{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}]}, "repeats"),
        ({"subnet_id": "s1", "extra": 1}, "Extra inputs"),
        ({"subnet_id": "x" * 65}, "at most 64"),
        ({"subnet_id": "s1", "fixed_ips": [{"ip_address": f"10.0.0.{i}"} for i in range(1, 18)]}, "at most 16"),
    ],
)
def test_invalid_attach_bodies(body, message):
    with pytest.raises(ValidationError, match=message):
        ServerInterfaceCreateRequest.model_validate(body)


def test_interface_response_keeps_every_seed_field_and_unknown_extras():
    parsed = InterfaceResponse.model_validate({**SEED_RESPONSE, "new_field": {"x": 1}})
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    assert {k: v for k, v in dumped.items() if k in SEED_RESPONSE} == SEED_RESPONSE
    assert dumped["new_field"] == {"x": 1}
    assert parsed.static_nat.publicip_id == "615fa9cd5cff486c9de679b3ce63e601"
    assert parsed.private_static_nat.private_nat_ip_id == "1f0cb5390c40483592ddc5a282f53496"


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        (
            '{"errors":[{"code":"VirtualServer.CreateInterface.Duplicated","status":400,"detail":"both"}]}',
            "VirtualServer.CreateInterface.Duplicated",
            "both",
        ),
        ('{"errors":[{"status":409,"detail":["a","b"]}]}', None, "a; b"),
        ('{"code":"X","message":"top level"}', "X", "top level"),
        ("<html>gateway timeout</html>", None, "<html>gateway timeout</html>"),
        ("", None, "no detail given"),
        ('{"errors":"weird"}', None, '{"errors":"weird"}'),
    ],
)
def test_error_bodies_of_every_shape_are_understood(text, code, detail):
    assert parse_error_body(text) == (code, detail)
