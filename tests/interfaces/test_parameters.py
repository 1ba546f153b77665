"""One parameters value for an attach: what the form, the API, the preview, the record and the POST body share."""

import uuid

import pytest
from django.http import QueryDict

from portal.interfaces.errors import AttachRejected
from portal.interfaces.forms import AttachForm
from portal.interfaces.operations.attach import AttachParameters


def _form_errors(**fields) -> dict:
    data = QueryDict(mutable=True)
    data.update({"justification": "x", "idempotency_key": str(uuid.uuid4())})
    for name, value in fields.items():
        if name == "fixed_ips":
            data.setlist("fixed_ip", value)
        else:
            data[name] = value
    form = AttachForm(data)
    assert not form.is_valid()
    errors, _ = form.rejection_detail()
    return errors


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"mode": "subnet", "fixed_ips": ["10.0.0.5", "10.0.0.5"]}, "fixed_ip_1", "10.0.0.5 is given more than once."),
        ({"mode": "subnet", "fixed_ips": ["2001:DB8::5", "2001:db8::5"]}, "fixed_ip_1", "is given more than once"),
        ({"mode": "subnet", "fixed_ips": ["10.0.0.999"]}, "fixed_ip_0", "10.0.0.999 is not a valid IP address."),
        ({"mode": "subnet", "subnet_id": "s", "port_id": "p"}, "port_id", "Choose either a subnet or a port"),
        ({"mode": "port", "port_id": "p", "fixed_ips": ["10.0.0.5"]}, "__all__", "only be given for a new port"),
        ({"mode": "port"}, "port_id", "Choose a port."),
        ({"mode": "subnet", "subnet_id": "s", "fixed_ips": ["10.0.0.1"] * 17}, "__all__", "Give at most 16"),
    ],
)
def test_the_form_and_the_api_refuse_alike_because_they_parse_alike(fields, key, message):
    with pytest.raises(AttachRejected) as parsed:
        AttachParameters.parse(
            server_id="srv",
            mode=fields["mode"],
            subnet_id=fields.get("subnet_id", "s" if "fixed_ips" in fields and fields["mode"] == "subnet" else ""),
            port_id=fields.get("port_id", ""),
            fixed_ips=fields.get("fixed_ips", ()),
        )
    assert any(message in m for m in parsed.value.errors[key])
    form_fields = {"subnet_id": "s", **fields} if fields["mode"] == "subnet" else fields
    assert any(message in m for m in _form_errors(**form_fields)[key])


def test_addresses_get_one_spelling_and_empty_rows_are_ignored():
    parameters = AttachParameters.parse(
        server_id="srv", mode="subnet", subnet_id="net", fixed_ips=["", " 2001:DB8::5 ", "10.0.0.7"]
    )
    assert parameters.fixed_ips == ("2001:db8::5", "10.0.0.7")
    assert parameters.call().body == {
        "subnet_id": "net",
        "fixed_ips": [{"ip_address": "2001:db8::5"}, {"ip_address": "10.0.0.7"}],
    }


def test_only_what_belongs_to_the_mode_is_kept():
    assert AttachParameters.parse(server_id="srv", mode="port", port_id="p1").as_params() == {
        "mode": "port",
        "subnet_id": "",
        "port_id": "p1",
        "fixed_ips": [],
    }


def test_the_request_the_preview_and_the_body_are_built_from_the_same_value(sim, world, submit):
    request = submit(
        server_id=world.servers["web-01"].id,
        mode="subnet",
        subnet_id=world.subnets["prod-app"].id,
        fixed_ips=["192.168.10.77"],
    )
    parameters = AttachParameters.of_request(request)
    assert parameters.call() == request.operation.call(request)
    assert request.attach_body == parameters.body().to_body()
    posted = sim.attach_posts()[-1]
    assert posted["body"] == request.attach_body
