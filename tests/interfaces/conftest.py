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


def age_check(request) -> None:
    """Make the check `request` was accepted on older than SCP_CHECK_FRESH_SECONDS: as when its approval came a
    while after submission, so that the worker checks with SCP again before sending."""
    import datetime as dt

    from django.conf import settings
    from django.db.models import F

    from portal.interfaces.models import InterfaceRequest

    older = dt.timedelta(seconds=settings.CONFIG.scp_check_fresh_seconds + 1)
    InterfaceRequest.objects.filter(pk=request.pk).update(checked_at=F("checked_at") - older)
