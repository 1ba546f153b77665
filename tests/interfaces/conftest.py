import uuid

import pytest


@pytest.fixture
def attach_data(world):
    """Form data for a valid attach to web-01 on prod-app; tests override what they break."""

    def make(**overrides):
        data = {
            "mode": "subnet",
            "subnet_id": world.subnets["prod-app"].id,
            "port_id": "",
            "justification": "Second NIC for the backup network",
            "idempotency_key": str(uuid.uuid4()),
            "fixed_ip": [],
            "action": "confirm",
        }
        data.update(overrides)
        return data

    return make
