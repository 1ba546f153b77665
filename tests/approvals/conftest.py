import uuid

import pytest

from portal.interfaces import services


@pytest.fixture
def needs_approval(settings):
    """No policy matches, and the default asks the approver group."""
    settings.CONFIG = settings.CONFIG.model_copy(update={"approval_default": "approver"})


@pytest.fixture
def pending(sim, world, requester, needs_approval):
    def make(user=None, **params):
        defaults = {"server_id": world.servers["web-01"].id, "mode": "subnet", "subnet_id": world.subnets["prod-db"].id}
        return services.interface_request_submit(
            requester=user or requester,
            idempotency_key=uuid.uuid4(),
            justification="needs a decision",
            **{**defaults, **params},
        )

    return make
